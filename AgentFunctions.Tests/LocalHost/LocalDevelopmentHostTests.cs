using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using AgentFunctions.DevHost;
using AgentFunctions.DevHost.Functions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>
/// What <c>dotnet run --project AgentFunctions.DevHost</c> does when something goes wrong: at start, and when a process it
/// cannot run without dies. Each test starts its own local host.
/// </summary>
public sealed class LocalDevelopmentHostTests : IDisposable
{
    private readonly FakeLoggerProvider _logs = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly DirectoryInfo _state = Directory.CreateTempSubdirectory("agentfunctions-devhost-test-state-");

    public LocalDevelopmentHostTests() =>
        _loggerFactory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(_logs));

    public void Dispose()
    {
        _loggerFactory.Dispose();
        _logs.Dispose();
        _state.Delete(recursive: true);
    }

    [Fact]
    public async Task StartAsync_PortInUse_FailsBeforeStartingAnythingWithMessageNamingPortAndOption()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        var act = () => StartAsync(new LocalDevelopmentHostOptions { HttpPort = port, StateDirectory = _state.FullName });

        await act.Should().ThrowAsync<FunctionsHostException>().WithMessage($"Port {port} on 127.0.0.1*--port*");
        _logs.Collector.GetSnapshot().Select(record => record.Id.Name).Should()
            .NotContain(["LocalAzureStarted", "AzuriteStarted", "WorkerStarted"], "nothing starts on a port that is taken");
    }

    [Fact]
    public async Task StartAsync_WorkerFailsOnABadSetting_StopsAzuriteWithoutReportingACrash()
    {
        var options = new LocalDevelopmentHostOptions
        {
            AppSettings = new Dictionary<string, string> { ["KeyCache__TimeToLive"] = "00:00:01" },
            StateDirectory = _state.FullName,
        };

        var act = () => StartAsync(options);

        await act.Should().ThrowAsync<FunctionsHostException>().WithMessage("*worker process exited*");
        var records = _logs.Collector.GetSnapshot();
        records.Should().Contain(record => record.Id.Name == "AzuriteStopped");
        records.Should().NotContain(record => record.Id.Name == "AzuriteExited" || record.Id.Name == "WorkerDied",
            "the host stopped them itself after the failed start");
    }

    [Theory]
    [InlineData("Azurite")]
    [InlineData("The worker")]
    public async Task WaitForShutdownAsync_ProcessItNeedsDies_ReturnsFalseNamingIt(string part)
    {
        await using var host = await StartAsync(new LocalDevelopmentHostOptions { StateDirectory = _state.FullName });
        var processId = part == "Azurite" ? host.Storage.ProcessId : host.Functions.WorkerProcessId;
        using var stopping = new CancellationTokenSource(TimeSpan.FromMinutes(1));

        using (var process = Process.GetProcessById(processId))
        {
            process.Kill(entireProcessTree: true);
        }

        (await host.WaitForShutdownAsync(stopping.Token)).Should().BeFalse();
        stopping.IsCancellationRequested.Should().BeFalse("the death ends the wait, not the time-out");
        _logs.Collector.GetSnapshot().Should().ContainSingle(record => record.Id.Name == "LocalHostPartEnded")
            .Which.Message.Should().StartWith($"{part} (process {processId}) ended").And.Contain("the local host stops");
    }

    [Fact]
    public async Task WaitForShutdownAsync_StopRequested_ReturnsTrue()
    {
        await using var host = await StartAsync(new LocalDevelopmentHostOptions { StateDirectory = _state.FullName });
        using var stopping = new CancellationTokenSource();

        var wait = host.WaitForShutdownAsync(stopping.Token);
        await stopping.CancelAsync();

        (await wait).Should().BeTrue();
        _logs.Collector.GetSnapshot().Should().NotContain(record => record.Id.Name == "LocalHostPartEnded");
    }

    private async Task<LocalDevelopmentHost> StartAsync(LocalDevelopmentHostOptions options)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        return await LocalDevelopmentHost.StartAsync(options, _loggerFactory, timeout.Token);
    }
}
