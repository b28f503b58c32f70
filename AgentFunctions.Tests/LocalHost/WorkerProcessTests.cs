using AgentFunctions.DevHost.Functions.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>
/// The process wrapper with 'dotnet' itself as the child: the real worker writes nothing to stdout once connected (its
/// logs travel as RpcLog), so output capture is proven with a program that does print.
/// </summary>
public sealed class WorkerProcessTests
{
    [Fact]
    public async Task Start_ChildWritesToStdout_EachLineReachesTheLogger()
    {
        var logger = new FakeLogger<WorkerProcess>();

        await using var process = WorkerProcess.Start(Spec("--version"), logger);
        var exitCode = await process.Exited.WaitAsync(TimeSpan.FromSeconds(60));

        exitCode.Should().Be(0);
        var line = logger.Collector.GetSnapshot().Single(record => record.Id.Name == "WorkerStandardOutput");
        line.Level.Should().Be(LogLevel.Information);
        line.Message.Should().MatchRegex(@"^\[worker \d+\] \d+\.\d+\.\d+");
    }

    [Fact]
    public async Task Start_ChildWritesToStderr_LinesAreLoggedAsWarnings()
    {
        var logger = new FakeLogger<WorkerProcess>();

        await using var process = WorkerProcess.Start(Spec("/nonexistent/NoSuchApp.dll"), logger);
        var exitCode = await process.Exited.WaitAsync(TimeSpan.FromSeconds(60));

        exitCode.Should().NotBe(0);
        logger.Collector.GetSnapshot().Should().Contain(record =>
            record.Id.Name == "WorkerStandardError" && record.Level == LogLevel.Warning);
    }

    private static WorkerLaunchSpec Spec(string argument) => new(
        "dotnet",
        [argument],
        Path.GetTempPath(),
        Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(entry => (string)entry.Key, entry => (string)entry.Value!));
}
