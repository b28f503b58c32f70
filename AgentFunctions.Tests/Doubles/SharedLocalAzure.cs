using System.ClientModel;
using System.ClientModel.Primitives;
using AgentFunctions.DevHost;
using AgentFunctions.DevHost.Doubles;
using Microsoft.Extensions.Logging.Abstractions;
using Azure.AI.OpenAI;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;

namespace AgentFunctions.Tests.Doubles;

/// <summary>
/// The one <see cref="LocalAzure"/> of the test process, started on first use and left running until the process
/// exits, with the App Service managed-identity variables pointing at it.
/// </summary>
/// <remarks>
/// MSAL detects the managed-identity source once per process and keeps it in a static, so
/// <c>IDENTITY_ENDPOINT</c>/<c>IDENTITY_HEADER</c> must be set before the first credential is created and never change:
/// every test that needs a managed identity goes through <see cref="CreateManagedIdentityCredential"/>, which refuses
/// to create one unless they point here. Without them a <see cref="ManagedIdentityCredential"/> would call IMDS at
/// 169.254.169.254. Tests that change shared state (failures, keys, switches) use doubles of their own instead.
/// </remarks>
internal static class SharedLocalAzure
{
    private static readonly Lazy<LocalAzure> s_instance = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly Lazy<AzuriteProcess> s_storage = new(StartStorage, LazyThreadSafetyMode.ExecutionAndPublication);

    public static LocalAzure Instance => s_instance.Value;

    /// <summary>
    /// One Azurite for the workers that tests start against <see cref="Instance"/>, set up as the local host runs it
    /// (HTTPS with the shared CA's certificate, bearer tokens); each test that writes to it uses names of its own.
    /// </summary>
    public static AzuriteProcess Storage => s_storage.Value;

    /// <summary>A real managed-identity credential that can only reach the shared identity double.</summary>
    public static ManagedIdentityCredential CreateManagedIdentityCredential(ManagedIdentityId? id = null)
    {
        var local = Instance;
        var endpoint = Environment.GetEnvironmentVariable("IDENTITY_ENDPOINT");
        var header = Environment.GetEnvironmentVariable("IDENTITY_HEADER");
        if (endpoint != local.ManagedIdentityEndpoint.ToString() || header != local.IdentityHeader)
        {
            throw new InvalidOperationException(
                "IDENTITY_ENDPOINT/IDENTITY_HEADER do not point at the shared managed-identity double; a credential " +
                "created now could fall back to IMDS.");
        }

        return new ManagedIdentityCredential(id ?? ManagedIdentityId.SystemAssigned);
    }

    /// <summary>Attaches <paramref name="identity"/> to the app as a user-assigned identity and signs in as it.</summary>
    public static ManagedIdentityCredential CreateUserAssignedCredential(LocalPrincipal identity)
    {
        Instance.ManagedIdentity.AddUserAssignedIdentity(identity);
        return CreateManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(identity.ClientId));
    }

    /// <summary>A token request for one resource, as the SDK clients make it.</summary>
    public static TokenRequestContext Scope(string resource) => new([resource + "/.default"]);

    /// <summary>A real <see cref="SecretClient"/> via the proxy, trusting only the local CA.</summary>
    public static SecretClient CreateSecretClient(
        TokenCredential credential, Uri? vaultUri = null, SecretClientOptions.ServiceVersion? serviceVersion = null)
    {
        var local = Instance;
        var options = serviceVersion is { } version ? new SecretClientOptions(version) : new SecretClientOptions();
        options.Transport = new HttpClientTransport(local.CreateHttpMessageHandler());

        // Injected throttling answers with a Retry-After of zero; the cap keeps a wrong answer from stalling a test.
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(10);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(1);
        return new SecretClient(vaultUri ?? local.VaultUri, credential, options);
    }

    /// <summary>A real <see cref="AzureOpenAIClient"/> with a key, through the proxy; no retries unless asked.</summary>
    public static AzureOpenAIClient CreateOpenAIClient(string apiKey, Uri? endpoint = null, int maxRetries = 0) =>
        new(endpoint ?? Instance.OpenAIEndpoint, new ApiKeyCredential(apiKey), OpenAIOptions(maxRetries));

    /// <summary>A real <see cref="AzureOpenAIClient"/> with a token credential, through the proxy.</summary>
    public static AzureOpenAIClient CreateOpenAIClient(TokenCredential credential, Uri? endpoint = null) =>
        new(endpoint ?? Instance.OpenAIEndpoint, credential, OpenAIOptions(maxRetries: 0));

    /// <summary>An <see cref="HttpClient"/> for raw requests to the doubles, through the proxy.</summary>
    public static HttpClient CreateHttpClient() => new(Instance.CreateHttpMessageHandler());

    private static AzureOpenAIClientOptions OpenAIOptions(int maxRetries) => new()
    {
        Transport = new HttpClientPipelineTransport(new HttpClient(Instance.CreateHttpMessageHandler())),
        RetryPolicy = new ClientRetryPolicy(maxRetries),
    };

    private static AzuriteProcess StartStorage()
    {
        var storage = Task.Run(() => LocalDevelopmentHost.StartStorageAsync(Instance, NullLoggerFactory.Instance, CancellationToken.None))
            .GetAwaiter().GetResult();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => storage.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return storage;
    }

    private static LocalAzure Start()
    {
        string[] identityVariables =
            ["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET"];
        foreach (var conflicting in identityVariables)
        {
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(conflicting)))
            {
                throw new InvalidOperationException(
                    $"{conflicting} is already set in the test process; unset it so the shared managed-identity " +
                    "double is the only source a credential can find.");
            }
        }

        // Started on the thread pool so that no test framework synchronization context takes part in the start.
        var local = Task.Run(() => LocalAzure.StartAsync()).GetAwaiter().GetResult();
        Environment.SetEnvironmentVariable("IDENTITY_ENDPOINT", local.ManagedIdentityEndpoint.ToString());
        Environment.SetEnvironmentVariable("IDENTITY_HEADER", local.IdentityHeader);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => local.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return local;
    }
}

/// <summary>
/// Tests that use <see cref="SharedLocalAzure"/> join this collection so they run one at a time: they read counters
/// and inject failures on doubles that every such test shares.
/// </summary>
[CollectionDefinition(Name)]
public sealed class LocalAzureCollectionDefinition
{
    public const string Name = "Shared local Azure doubles";
}
