using AgentFunctions.DevHost.Functions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>One local host running the real AgentFunctions worker, shared by a test class.</summary>
public sealed class FunctionsHostFixture : IAsyncLifetime
{
    /// <summary>Kept small so the over-limit test sends little; the real default is 1 MiB.</summary>
    internal const long MaxRequestBodySize = 64 * 1024;

    private readonly ILoggerFactory _loggerFactory;

    public FunctionsHostFixture()
    {
        Logs = new FakeLoggerProvider();
        _loggerFactory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(Logs));
    }

    public FakeLoggerProvider Logs { get; }

    public FunctionsHost Host { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    /// <summary>Waits for a log record: the worker's own logs travel independently of the handshake's answers.</summary>
    public async Task<FakeLogRecord> WaitForLogAsync(Func<FakeLogRecord, bool> predicate)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var record = Logs.Collector.GetSnapshot().FirstOrDefault(predicate);
            if (record is not null)
            {
                return record;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), timeout.Token);
        }
    }

    public async Task InitializeAsync()
    {
        var options = AppUnderTest.CreateHostOptions(MaxRequestBodySize);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Host = await FunctionsHost.StartAsync(options, _loggerFactory, timeout.Token);
        Client = new HttpClient { BaseAddress = Host.HttpBaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }

        _loggerFactory.Dispose();
        Logs.Dispose();
    }
}
