using System.Globalization;
using System.Net;
using Azure.Core.Pipeline;
using Azure.Security.KeyVault.Secrets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>Settings for <see cref="LocalAzure"/>; each default is what the local host runs with.</summary>
internal sealed class LocalAzureOptions
{
    /// <summary>The clock for token lifetimes, timestamps and injected delays. Default the system clock.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Where the doubles log. Default nowhere.</summary>
    public ILoggerFactory LoggerFactory { get; set; } = NullLoggerFactory.Instance;

    /// <summary>
    /// The system roots the trust bundle starts from.
    /// Default <see cref="LocalCertificateAuthority.DefaultSystemBundlePath"/>.
    /// </summary>
    public string SystemBundlePath { get; set; } = LocalCertificateAuthority.DefaultSystemBundlePath;
}

/// <summary>What a key rotation did, without any key value.</summary>
/// <param name="PublishedKey">The key that was regenerated and published to the vault.</param>
/// <param name="RetiredKey">The key the vault held before, regenerated afterwards unless asked not to.</param>
/// <param name="NewSecretVersion">The secret version that holds the published key.</param>
internal sealed record KeyRotationSummary(
    KeyName PublishedKey, KeyName RetiredKey, string SecretName, string NewSecretVersion, bool RetiredKeyRegenerated);

/// <summary>
/// The Azure the function app meets locally: a tenant, a managed-identity endpoint, a Key Vault and an Azure OpenAI
/// account, with a certificate authority and a CONNECT proxy that let the unmodified app reach them by vault-like
/// names over verified HTTPS.
/// </summary>
/// <remarks>
/// <para>At start the vault holds <see cref="OpenAIKeySecretName"/> = the account's Key1 (one version); the app's
/// system-assigned identity holds Key Vault Secrets User on that secret alone and Cognitive Services OpenAI User on
/// the account; an operator principal holds Key Vault Secrets Officer on the vault.</para>
/// <para>A child process started with <see cref="WorkerEnvironment"/> gets its tokens from the managed-identity
/// double, trusts the doubles' certificate through <c>SSL_CERT_FILE</c> and reaches
/// <c>*.vault.localhost</c>/<c>*.openai.localhost</c> through <c>HTTPS_PROXY</c>; nothing in the app weakens a TLS
/// or identity check for it.</para>
/// </remarks>
internal sealed partial class LocalAzure : IAsyncDisposable
{
    /// <summary>The vault secret that holds the Azure OpenAI key the app uses.</summary>
    public const string OpenAIKeySecretName = "azure-openai-api-key";

    /// <summary>The hosts that never go through the proxy.</summary>
    public const string NoProxy = "127.0.0.1,localhost,::1";

    /// <summary>Resources the managed-identity endpoint issues tokens for.</summary>
    public static readonly IReadOnlyList<string> KnownResources =
        [KeyVaultDouble.ChallengeResource, AzureOpenAIDouble.TokenAudience, "https://storage.azure.com"];

    private readonly ILogger _logger;
    private readonly SemaphoreSlim _rotation = new(1, 1);
    private readonly Lazy<(SecretClient Client, HttpClientTransport Transport)> _operatorClient;

    private LocalAzure(
        LocalAzureOptions options,
        LocalTenant tenant,
        LocalCertificateAuthority certificateAuthority,
        LoopbackProxy proxy,
        ManagedIdentityDouble managedIdentity,
        KeyVaultDouble keyVault,
        AzureOpenAIDouble openAI,
        LocalPrincipal @operator)
    {
        Options = options;
        _logger = options.LoggerFactory.CreateLogger<LocalAzure>();
        Tenant = tenant;
        CertificateAuthority = certificateAuthority;
        Proxy = proxy;
        ManagedIdentity = managedIdentity;
        KeyVault = keyVault;
        OpenAI = openAI;
        Operator = @operator;
        OperatorCredential = new LocalPrincipalCredential(tenant, @operator);
        CaBundlePath = certificateAuthority.WriteTrustBundle(options.SystemBundlePath);
        _operatorClient = new(CreateOperatorClient);
        WorkerEnvironment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["IDENTITY_ENDPOINT"] = ManagedIdentityEndpoint.ToString(),
            ["IDENTITY_HEADER"] = IdentityHeader,
            ["SSL_CERT_FILE"] = CaBundlePath,
            ["HTTPS_PROXY"] = ProxyUriText,
            ["https_proxy"] = ProxyUriText,
            ["NO_PROXY"] = NoProxy,
            ["no_proxy"] = NoProxy,
            ["KeyVault__VaultUri"] = VaultUri.ToString(),
            ["AzureOpenAI__Endpoint"] = OpenAIEndpoint.ToString(),
        };
    }

    public LocalAzureOptions Options { get; }

    public LocalTenant Tenant { get; }

    public LocalCertificateAuthority CertificateAuthority { get; }

    public LoopbackProxy Proxy { get; }

    public ManagedIdentityDouble ManagedIdentity { get; }

    public KeyVaultDouble KeyVault { get; }

    public AzureOpenAIDouble OpenAI { get; }

    /// <summary>The function app's system-assigned identity.</summary>
    public LocalPrincipal AppIdentity => ManagedIdentity.SystemAssigned;

    /// <summary>The operator who rotates keys; holds Key Vault Secrets Officer on the vault.</summary>
    public LocalPrincipal Operator { get; }

    /// <summary>Signs in as <see cref="Operator"/>.</summary>
    public LocalPrincipalCredential OperatorCredential { get; }

    /// <summary><c>http://127.0.0.1:&lt;port&gt;/msi/token</c>.</summary>
    public Uri ManagedIdentityEndpoint => ManagedIdentity.Endpoint;

    public string IdentityHeader => ManagedIdentity.IdentityHeader;

    /// <summary><c>https://agentfunctions.vault.localhost:&lt;port&gt;/</c>.</summary>
    public Uri VaultUri => KeyVault.VaultUri;

    /// <summary><c>https://agentfunctions.openai.localhost:&lt;port&gt;/</c>.</summary>
    public Uri OpenAIEndpoint => OpenAI.Endpoint;

    /// <summary><c>http://127.0.0.1:&lt;port&gt;</c>, the value of <c>HTTPS_PROXY</c>.</summary>
    public Uri ProxyUri => Proxy.ProxyUri;

    /// <summary>The system roots plus the local CA, the value of <c>SSL_CERT_FILE</c>.</summary>
    public string CaBundlePath { get; }

    /// <summary>
    /// The variables the local host sets for the worker: <c>IDENTITY_ENDPOINT</c>, <c>IDENTITY_HEADER</c>,
    /// <c>SSL_CERT_FILE</c>, <c>HTTPS_PROXY</c>/<c>https_proxy</c>, <c>NO_PROXY</c>/<c>no_proxy</c>,
    /// <c>KeyVault__VaultUri</c> and <c>AzureOpenAI__Endpoint</c>.
    /// </summary>
    public IReadOnlyDictionary<string, string> WorkerEnvironment { get; }

    private string ProxyUriText => $"http://127.0.0.1:{Proxy.Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Starts every double on free loopback ports and seeds the vault and the role assignments.</summary>
    public static async Task<LocalAzure> StartAsync(
        LocalAzureOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LocalAzureOptions();
        var loggers = options.LoggerFactory;
        var tenant = new LocalTenant(options.TimeProvider);
        var certificateAuthority = new LocalCertificateAuthority(options.TimeProvider);
        var proxy = LoopbackProxy.Start(loggers.CreateLogger<LoopbackProxy>());
        ManagedIdentityDouble? managedIdentity = null;
        KeyVaultDouble? keyVault = null;
        AzureOpenAIDouble? openAI = null;
        try
        {
            managedIdentity = await ManagedIdentityDouble.StartAsync(
                tenant,
                LocalPrincipal.Create("agentfunctions (system-assigned)"),
                KnownResources,
                loggers.CreateLogger<ManagedIdentityDouble>(),
                cancellationToken).ConfigureAwait(false);
            keyVault = await KeyVaultDouble.StartAsync(
                tenant, certificateAuthority.ServerCertificate, logger: loggers.CreateLogger<KeyVaultDouble>(),
                cancellationToken: cancellationToken).ConfigureAwait(false);
            openAI = await AzureOpenAIDouble.StartAsync(
                tenant, certificateAuthority.ServerCertificate, logger: loggers.CreateLogger<AzureOpenAIDouble>(),
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await DisposeAllAsync(proxy, managedIdentity, keyVault, openAI).ConfigureAwait(false);
            certificateAuthority.Dispose();
            throw;
        }

        proxy.AllowPort(keyVault.Port);
        proxy.AllowPort(openAI.Port);

        var appIdentity = managedIdentity.SystemAssigned;
        var @operator = LocalPrincipal.Create("local operator");
        keyVault.SetSecret(OpenAIKeySecretName, openAI.GetKeys().Key1);
        keyVault.GrantRole(appIdentity.ObjectId, AzureRoles.KeyVaultSecretsUser, OpenAIKeySecretName);
        keyVault.GrantRole(@operator.ObjectId, AzureRoles.KeyVaultSecretsOfficer);
        openAI.GrantRole(appIdentity.ObjectId, AzureRoles.CognitiveServicesOpenAIUser);

        var local = new LocalAzure(
            options, tenant, certificateAuthority, proxy, managedIdentity, keyVault, openAI, @operator);
        LogStarted(local._logger, local.VaultUri, local.OpenAIEndpoint, local.ManagedIdentityEndpoint, local.ProxyUri);
        return local;
    }

    /// <summary>
    /// A handler that reaches the HTTPS doubles through the proxy and trusts only the local CA: for clients in this
    /// process (the operator's, tests'), which cannot use <c>SSL_CERT_FILE</c> and <c>HTTPS_PROXY</c> as a child does.
    /// </summary>
    public HttpMessageHandler CreateHttpMessageHandler() => new SocketsHttpHandler
    {
        Proxy = new LoopbackBypassingProxy(ProxyUri),
        UseProxy = true,
        SslOptions = { RemoteCertificateValidationCallback = CertificateAuthority.ValidateServerCertificate },
    };

    /// <summary>
    /// Rotates the Azure OpenAI key the way an operator does: regenerate the key the vault does not hold, publish it as
    /// a new version of <see cref="OpenAIKeySecretName"/> through the real <see cref="SecretClient"/> signed in as
    /// <see cref="Operator"/>, wait <paramref name="retireAfter"/> so readers can pick it up, then regenerate the key
    /// that was in use so its old value stops working.
    /// </summary>
    /// <param name="retireOldKey">False leaves the previous key working, to observe the app between the steps.</param>
    /// <param name="cancellationToken">
    /// Cancels a rotation that has not regenerated the old key yet; that is logged, since the old key then still works.
    /// </param>
    /// <exception cref="InvalidOperationException">The vault's secret matches neither account key.</exception>
    public async Task<KeyRotationSummary> RotateOpenAIKeyAsync(
        TimeSpan retireAfter = default, bool retireOldKey = true, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retireAfter, TimeSpan.Zero);
        await _rotation.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The operator's record of which key is live is the vault itself; reading it from memory keeps this
            // inspection out of the request counts that tests assert on.
            var current = KeyVault.PeekCurrentValue(OpenAIKeySecretName);
            var keys = OpenAI.GetKeys();
            var inUse = string.Equals(current, keys.Key1, StringComparison.Ordinal) ? KeyName.Key1
                : string.Equals(current, keys.Key2, StringComparison.Ordinal) ? KeyName.Key2
                : throw new InvalidOperationException(
                    $"The vault secret '{OpenAIKeySecretName}' holds neither Azure OpenAI account key, so it is " +
                    "unclear which key is live. Set the secret to one of the keys from OpenAI.GetKeys() " +
                    "before rotating.");
            var spare = inUse == KeyName.Key1 ? KeyName.Key2 : KeyName.Key1;

            var newKey = OpenAI.RegenerateKey(spare);
            string version;
            try
            {
                var published = await _operatorClient.Value.Client
                    .SetSecretAsync(OpenAIKeySecretName, newKey, cancellationToken).ConfigureAwait(false);
                version = published.Value.Properties.Version;
                LogKeyPublished(_logger, spare, OpenAIKeySecretName, version);

                if (retireAfter > TimeSpan.Zero)
                {
                    await Task.Delay(retireAfter, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                LogRotationCancelled(_logger, inUse);
                throw;
            }

            if (retireOldKey)
            {
                OpenAI.RegenerateKey(inUse);
                LogKeyRetired(_logger, inUse);
            }

            return new KeyRotationSummary(spare, inUse, OpenAIKeySecretName, version, retireOldKey);
        }
        finally
        {
            _rotation.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_operatorClient.IsValueCreated)
        {
            _operatorClient.Value.Transport.Dispose();
        }

        await DisposeAllAsync(Proxy, ManagedIdentity, KeyVault, OpenAI).ConfigureAwait(false);
        CertificateAuthority.Dispose();
        _rotation.Dispose();
    }

    private static async Task DisposeAllAsync(params IAsyncDisposable?[] parts)
    {
        foreach (var part in parts)
        {
            if (part is not null)
            {
                await part.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private (SecretClient, HttpClientTransport) CreateOperatorClient()
    {
        var transport = new HttpClientTransport(CreateHttpMessageHandler());
        var options = new SecretClientOptions { Transport = transport };
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(100);
        return (new SecretClient(VaultUri, OperatorCredential, options), transport);
    }

    /// <summary>
    /// Sends everything to the loopback proxy except the hosts in <see cref="NoProxy"/>, matched exactly as .NET
    /// matches <c>NO_PROXY</c>; a plain <see cref="WebProxy"/> would also send http://127.0.0.1 to the proxy, which
    /// refuses it.
    /// </summary>
    private sealed class LoopbackBypassingProxy(Uri proxyUri) : IWebProxy
    {
        private static readonly string[] s_bypassed = NoProxy.Split(',');

        public ICredentials? Credentials { get; set; }

        public Uri? GetProxy(Uri destination) => IsBypassed(destination) ? null : proxyUri;

        public bool IsBypassed(Uri host) =>
            s_bypassed.Contains(host.IdnHost.Trim('[', ']'), StringComparer.OrdinalIgnoreCase);
    }

    [LoggerMessage(EventId = 9060, EventName = "LocalAzureStarted", Level = LogLevel.Information,
        Message = "Local Azure doubles started: vault {VaultUri}, Azure OpenAI {OpenAIEndpoint}, " +
            "managed identity {IdentityEndpoint}, proxy {ProxyUri}")]
    private static partial void LogStarted(
        ILogger logger, Uri vaultUri, Uri openAIEndpoint, Uri identityEndpoint, Uri proxyUri);

    [LoggerMessage(EventId = 9061, EventName = "OpenAIKeyPublished", Level = LogLevel.Information,
        Message = "Key rotation: regenerated {KeyName} and stored it as secret {SecretName} version {Version}")]
    private static partial void LogKeyPublished(ILogger logger, KeyName keyName, string secretName, string version);

    [LoggerMessage(EventId = 9062, EventName = "OpenAIKeyRetired", Level = LogLevel.Information,
        Message = "Key rotation: regenerated the previously published {KeyName}; its old value no longer works")]
    private static partial void LogKeyRetired(ILogger logger, KeyName keyName);

    [LoggerMessage(EventId = 9063, EventName = "OpenAIKeyRotationCancelled", Level = LogLevel.Warning,
        Message = "Key rotation cancelled before {KeyName} was regenerated: its old value still works. Rotate again to " +
            "retire it.")]
    private static partial void LogRotationCancelled(ILogger logger, KeyName keyName);
}
