using System.Diagnostics;
using AgentFunctions.DevHost.Functions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>Start-up failures and shutdown; each test that needs a worker starts its own.</summary>
public sealed class FunctionsHostLifetimeTests : IDisposable
{
    private readonly FakeLoggerProvider _logs = new();
    private readonly ILoggerFactory _loggerFactory;

    public FunctionsHostLifetimeTests() =>
        _loggerFactory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(_logs));

    public void Dispose()
    {
        _loggerFactory.Dispose();
        _logs.Dispose();
    }

    [Fact]
    public async Task DisposeAsync_RunningWorker_EndsTheWorkerProcess()
    {
        var host = await FunctionsHost.StartAsync(AppUnderTest.CreateHostOptions(), _loggerFactory);
        var processId = host.WorkerProcessId;
        IsRunning(processId).Should().BeTrue();

        await host.DisposeAsync();

        IsRunning(processId).Should().BeFalse();
        host.WorkerExited.IsCompleted.Should().BeTrue();
    }

    [Fact]
    public async Task StartAsync_WorkerDiesDuringStartup_FailsClearlyWithItsStderrLogged()
    {
        var options = AppUnderTest.CreateHostOptions();
        // A startup hook that cannot load makes the runtime abort the worker before Main, writing the reason to stderr.
        options.EnvironmentVariables["DOTNET_STARTUP_HOOKS"] = "/nonexistent/AgentFunctions.DevHost.NoSuchHook.dll";

        var act = () => FunctionsHost.StartAsync(options, _loggerFactory);

        await act.Should().ThrowAsync<FunctionsHostException>().WithMessage("*worker process exited with code*");
        _logs.Collector.GetSnapshot().Should().Contain(record => record.Id.Name == "WorkerStandardError");
    }

    [Theory]
    [InlineData("KeyCache__TimeToLive", "00:00:01", "KeyCache:TimeToLive must be between 00:00:10 and 01:00:00")]
    [InlineData("KeyVault__VaultUri", "", "KeyVault:VaultUri is required")]
    [InlineData("AzureOpenAI__Authentication", "PlainKeyInSettings",
        "AzureOpenAI:Authentication (app setting AzureOpenAI__Authentication) must be one of KeyVaultKey, ManagedIdentity")]
    [InlineData("Agents__MaxInputCharacters", "abc", "Agents:MaxInputCharacters (app setting Agents__MaxInputCharacters) must be a whole number")]
    public async Task StartAsync_AppWithBadSetting_WorkerStopsWithMessageNamingTheSetting(string setting, string value, string expected)
    {
        var options = AppUnderTest.CreateHostOptions(appSettings: new Dictionary<string, string> { [setting] = value });

        var act = () => FunctionsHost.StartAsync(options, _loggerFactory);

        await act.Should().ThrowAsync<FunctionsHostException>();
        _logs.Collector.GetSnapshot().Where(record => record.Id.Name == "WorkerStandardError")
            .Should().Contain(record => record.Message.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public async Task StartAsync_AppDirectoryWithoutBuildOutput_SaysToBuildFirst()
    {
        var empty = Directory.CreateTempSubdirectory("agentfunctions-nobuild-");
        try
        {
            var options = new FunctionsHostOptions { AppDirectory = empty.FullName };

            var act = () => FunctionsHost.StartAsync(options, _loggerFactory);

            await act.Should().ThrowAsync<FunctionsHostException>()
                .WithMessage("*No function app build output*worker.config.json is missing*Build the app first*");
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task StartAsync_MissingAppDirectory_SaysToBuildFirst()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"agentfunctions-missing-{Guid.NewGuid():N}");

        var act = () => FunctionsHost.StartAsync(new FunctionsHostOptions { AppDirectory = missing }, _loggerFactory);

        await act.Should().ThrowAsync<FunctionsHostException>().WithMessage("*folder does not exist*dotnet build*");
    }

    [Fact]
    public async Task StartAsync_ZeroStartupTimeout_ThrowsNamingTheSetting()
    {
        var options = new FunctionsHostOptions { AppDirectory = "unused", StartupTimeout = TimeSpan.Zero };

        var act = () => FunctionsHost.StartAsync(options, _loggerFactory);

        await act.Should().ThrowAsync<ArgumentOutOfRangeException>()
            .WithParameterName(nameof(FunctionsHostOptions.StartupTimeout));
    }

    [Fact]
    public void ForBuiltApp_ThisBuild_PointsAtTheBuiltWorker()
    {
        var appDirectory = FunctionsHostOptions.ForBuiltApp().AppDirectory;

        File.Exists(Path.Combine(appDirectory, "worker.config.json")).Should().BeTrue();
        File.Exists(Path.Combine(appDirectory, "AgentFunctions.dll")).Should().BeTrue();
    }

    private static bool IsRunning(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
