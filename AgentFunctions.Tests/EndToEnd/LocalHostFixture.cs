using System.Collections.Concurrent;
using AgentFunctions.DevHost;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AgentFunctions.Tests.EndToEnd;

/// <summary>
/// What <c>dotnet run --project AgentFunctions.DevHost</c> starts (its own doubles and the real worker), with every log
/// line of the host, the doubles and the worker captured, and every response body the tests read recorded, so that a
/// test can scan all of it for secrets.
/// </summary>
public class LocalHostFixture : IAsyncLifetime
{
    private readonly ILoggerFactory _loggerFactory;
    private readonly ConcurrentQueue<string> _captured = new();
    // Timer status of a test run stays out of the repository's .devhost folder and out of the next run.
    private readonly DirectoryInfo _state = Directory.CreateTempSubdirectory("agentfunctions-e2e-state-");

    public LocalHostFixture()
    {
        Logs = new FakeLoggerProvider();
        _loggerFactory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
    }

    public FakeLoggerProvider Logs { get; }

    internal LocalDevelopmentHost Host { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    /// <summary>App settings over the local host's embedded ones, for fixtures that need another mode.</summary>
    protected virtual IReadOnlyDictionary<string, string> AppSettings => new Dictionary<string, string>();

    /// <summary>Everything the tests saw leave the app or the host: response bodies and headers, and every log message.</summary>
    public IEnumerable<string> Captured =>
        _captured.Concat(Logs.Collector.GetSnapshot().SelectMany(record =>
            new[] { record.Message, record.Exception?.ToString() ?? string.Empty }
                .Concat(record.StructuredState?.Select(pair => pair.Value ?? string.Empty) ?? [])));

    public async Task<(HttpResponseMessage Response, string Body)> PostAsync(string path, string body, string mediaType = "application/json")
    {
        using var content = new StringContent(body, System.Text.Encoding.UTF8, mediaType);
        var response = await Client.PostAsync(new Uri(path, UriKind.Relative), content);
        return (response, await RecordAsync(response));
    }

    /// <summary>A client for one of the local host's queues, encoding as the host does (base64), signed in as the app.</summary>
    internal Azure.Storage.Queues.QueueClient Queue(string name) =>
        new(new Uri(Host.Storage.QueueServiceUri, $"{Host.Storage.QueueServiceUri.AbsolutePath.TrimEnd('/')}/{name}"), StorageCredential,
            new Azure.Storage.Queues.QueueClientOptions
            {
                MessageEncoding = Azure.Storage.Queues.QueueMessageEncoding.Base64,
                Transport = new Azure.Core.Pipeline.HttpClientTransport(Host.Azure.CreateHttpMessageHandler()),
            });

    /// <summary>A client for the run-state container, signed in as the app.</summary>
    internal Azure.Storage.Blobs.BlobContainerClient RunStateContainer() =>
        new(new Uri(Host.Storage.BlobServiceUri, $"{Host.Storage.BlobServiceUri.AbsolutePath.TrimEnd('/')}/agent-runs"), StorageCredential,
            new Azure.Storage.Blobs.BlobClientOptions
            {
                Transport = new Azure.Core.Pipeline.HttpClientTransport(Host.Azure.CreateHttpMessageHandler()),
            });

    private DevHost.Doubles.LocalPrincipalCredential StorageCredential => new(Host.Azure.Tenant, Host.Azure.AppIdentity);

    public async Task<(HttpResponseMessage Response, string Body)> GetAsync(string path)
    {
        var response = await Client.GetAsync(new Uri(path, UriKind.Relative));
        return (response, await RecordAsync(response));
    }

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Host = await LocalDevelopmentHost.StartAsync(
            new LocalDevelopmentHostOptions { AppSettings = AppSettings, StateDirectory = _state.FullName }, _loggerFactory,
            timeout.Token);
        Client = new HttpClient { BaseAddress = Host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
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
        _state.Delete(recursive: true);
    }

    private async Task<string> RecordAsync(HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync();
        _captured.Enqueue(body);
        _captured.Enqueue(response.Headers.ToString() + response.Content.Headers);
        return body;
    }
}

/// <summary>The local host in keyless mode: the account has key auth disabled and the app uses its identity.</summary>
public sealed class KeylessLocalHostFixture : LocalHostFixture
{
    protected override IReadOnlyDictionary<string, string> AppSettings =>
        new Dictionary<string, string> { ["AzureOpenAI__Authentication"] = "ManagedIdentity" };
}
