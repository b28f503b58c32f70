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

    public async Task InitializeAsync()
    {
        var options = new FunctionsHostOptions
        {
            AppDirectory = FunctionsHostOptions.ForBuiltApp().AppDirectory,
            MaxRequestBodySize = MaxRequestBodySize,
        };
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
