using System.Net;
using AgentFunctions.DevHost.Functions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>The host's trigger wiring with the real worker; each test starts its own host.</summary>
public sealed class FunctionsHostTriggerTests : IDisposable
{
    private readonly FakeLoggerProvider _logs = new();
    private readonly ILoggerFactory _loggerFactory;

    public FunctionsHostTriggerTests() =>
        _loggerFactory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(_logs));

    public void Dispose()
    {
        _loggerFactory.Dispose();
        _logs.Dispose();
    }

    [Fact]
    public async Task StartAsync_FunctionDisabledBySetting_IsNotServed()
    {
        var options = AppUnderTest.CreateHostOptions(appSettings: new Dictionary<string, string>
        {
            ["AzureWebJobs.Health.Disabled"] = "true",
        });
        await using var host = await FunctionsHost.StartAsync(options, _loggerFactory);
        using var client = new HttpClient { BaseAddress = host.HttpBaseAddress };

        using var response = await client.GetAsync(new Uri("api/health", UriKind.Relative));

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        _logs.Collector.GetSnapshot().Should().Contain(record => record.Id.Name == "FunctionListed"
            && record.Message.Contains("Health", StringComparison.Ordinal)
            && record.Message.Contains("(disabled)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StartAsync_FunctionDisabledInTheShell_IsNotServedWhileAStorageConnectionStringStaysWithheld()
    {
        // The developer's shell: this process's environment plus what they exported before 'dotnet run'.
        var shell = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(entry => (string)entry.Key, entry => entry.Value as string);
        shell["AzureWebJobs__Health__Disabled"] = "true";
        shell["AzureWebJobsStorage"] = "DefaultEndpointsProtocol=https;AccountName=elsewhere;AccountKey=a2V5";
        var options = AppUnderTest.CreateHostOptions(inheritedEnvironment: shell);
        await using var host = await FunctionsHost.StartAsync(options, _loggerFactory);
        using var client = new HttpClient { BaseAddress = host.HttpBaseAddress };

        using var response = await client.GetAsync(new Uri("api/health", UriKind.Relative));

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        host.AppSettings.Get("AzureWebJobsStorage").Should().BeNull("a connection string from the shell never reaches the app");
        var withheld = _logs.Collector.GetSnapshot().Single(record => record.Id.Name == "WorkerEnvironmentCleaned").Message;
        withheld.Should().Contain("AzureWebJobsStorage").And.NotContain("AzureWebJobs__Health__Disabled");
    }

    [Fact]
    public async Task StartAsync_WithSharedStorage_GivesTheWorkerIdentityBasedConnectionsOnly()
    {
        var options = AppUnderTest.CreateHostOptions();
        await using var host = await FunctionsHost.StartAsync(options, _loggerFactory);

        foreach (var connection in new[] { "AzureWebJobsStorage", "RunStateStorage" })
        {
            host.AppSettings.Get(connection, "queueServiceUri").Should().StartWith("https://127.0.0.1:");
            host.AppSettings.Get(connection, "blobServiceUri").Should().StartWith("https://127.0.0.1:");
            host.AppSettings.Get(connection, "credential").Should().Be("managedidentity");
            host.AppSettings.Get(connection).Should().BeNull("no connection string, so no key, reaches the app");
        }
    }
}
