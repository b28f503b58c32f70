using System.Diagnostics;
using System.Net;
using AgentFunctions.DevHost.Doubles;
using AgentFunctions.DevHost.Functions.Storage;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AgentFunctions.Tests.LocalHost.Storage;

/// <summary>How Azurite is started and stopped, and what its bearer-token check accepts with the real SDK.</summary>
public sealed class AzuriteProcessTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public void StartAsync_AsTheLocalHostRunsIt_TelemetryOffAndEveryServiceOnLoopback()
    {
        var arguments = azurite.Azurite.Arguments;

        arguments[0].Should().EndWith(Path.Combine("node_modules", "azurite", "dist", "src", "azurite.js"));
        arguments.Should().Contain(["--disableTelemetry", "--inMemoryPersistence", "--silent"]);
        ValueOf(arguments, "--blobHost").Should().Be("127.0.0.1");
        ValueOf(arguments, "--queueHost").Should().Be("127.0.0.1");
        ValueOf(arguments, "--tableHost").Should().Be("127.0.0.1");
        ValueOf(arguments, "--oauth").Should().Be("basic");
        arguments.Should().Contain(["--cert", "--key"]);
        foreach (var uri in new[] { azurite.Azurite.BlobServiceUri, azurite.Azurite.QueueServiceUri, azurite.Azurite.TableServiceUri })
        {
            uri.Scheme.Should().Be("https");
            uri.Host.Should().Be("127.0.0.1");
            uri.AbsolutePath.Should().Be("/devstoreaccount1");
        }
    }

    [Fact]
    public async Task StartAsync_AsTheLocalHostRunsIt_TheOperatingSystemRunsThatCommandLine()
    {
        var path = $"/proc/{azurite.Azurite.ProcessId}/cmdline";
        if (!File.Exists(path))
        {
            return; // Not Linux: the argument list above is all there is to check.
        }

        var commandLine = (await File.ReadAllTextAsync(path)).Split('\0', StringSplitOptions.RemoveEmptyEntries);

        commandLine.Should().Contain("--disableTelemetry");
        commandLine.Skip(1).Should().Equal(azurite.Azurite.Arguments);
    }

    [Fact]
    public async Task DisposeAsync_Running_KillsTheProcessWithoutReportingACrash()
    {
        var logger = new FakeLogger();
        var own = await AzuriteProcess.StartAsync(new AzuriteOptions(), logger);
        using var process = Process.GetProcessById(own.ProcessId);

        await own.DisposeAsync();

        process.WaitForExit(TimeSpan.FromSeconds(5)).Should().BeTrue();
        own.Exited.IsCompleted.Should().BeTrue();
        own.QueueServiceUri.Scheme.Should().Be("http", "without a certificate Azurite speaks plain HTTP");
        var events = logger.Collector.GetSnapshot().Select(record => record.Id.Name).ToList();
        events.Should().Contain("AzuriteStopped").And.NotContain("AzuriteExited", "the host stopped it; it did not crash");
    }

    [Fact]
    public async Task Exited_KilledByAnotherProcess_IsReportedAsUnexpected()
    {
        var logger = new FakeLogger();
        await using var own = await AzuriteProcess.StartAsync(new AzuriteOptions(), logger);

        using (var process = Process.GetProcessById(own.ProcessId))
        {
            process.Kill(entireProcessTree: true);
        }

        await own.Exited.WaitAsync(TimeSpan.FromSeconds(10));

        logger.Collector.GetSnapshot().Should().ContainSingle(record => record.Id.Name == "AzuriteExited")
            .Which.Level.Should().Be(LogLevel.Error);
    }

    [Fact]
    public async Task QueueService_ManagedIdentityToken_IsAccepted()
    {
        var queue = azurite.Queue(AzuriteFixture.NewQueueName());

        await queue.CreateAsync();
        await queue.SendMessageAsync("hello");

        (await queue.PeekMessageAsync()).Value.MessageText.Should().Be("hello");
        azurite.Identity.TokenCount("https://storage.azure.com").Should().BeGreaterThan(0,
            "the host got its storage token from the managed-identity endpoint, as in Azure");
    }

    [Fact]
    public async Task QueueService_NoCredential_IsRefused()
    {
        using var handler = new SocketsHttpHandler { UseProxy = false };
        handler.SslOptions.RemoteCertificateValidationCallback = TrustedRoots().Validate;
        using var client = new HttpClient(handler);

        using var response = await client.GetAsync(new Uri(azurite.Azurite.QueueServiceUri + "?comp=list"));

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task QueueService_TokenForAnotherAudience_IsRefused()
    {
        var principal = LocalPrincipal.Create("someone else");
        var credential = new FixedTokenCredential(azurite.Tenant.IssueToken(principal, "https://vault.azure.net", TimeSpan.FromHours(1)));
        using var handler = new SocketsHttpHandler { UseProxy = false };
        handler.SslOptions.RemoteCertificateValidationCallback = TrustedRoots().Validate;
        var options = new QueueClientOptions { Transport = new HttpClientTransport(handler) };
        options.Retry.MaxRetries = 0;
        var queue = new QueueClient(new Uri(azurite.Azurite.QueueServiceUri + "/" + AzuriteFixture.NewQueueName()), credential, options);

        var create = () => queue.CreateAsync();

        (await create.Should().ThrowAsync<RequestFailedException>()).Which.Status.Should().Be(403);
    }

    private TrustBundle TrustedRoots() => TrustBundle.Load(azurite.SettingValues["SSL_CERT_FILE"]);

    private static string? ValueOf(IReadOnlyList<string> arguments, string option)
    {
        var index = arguments.ToList().IndexOf(option);
        return index >= 0 && index + 1 < arguments.Count ? arguments[index + 1] : null;
    }

    private sealed class FixedTokenCredential((string Token, DateTimeOffset ExpiresOn) token) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(token.Token, token.ExpiresOn);

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
