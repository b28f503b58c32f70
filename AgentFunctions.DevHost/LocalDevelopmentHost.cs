using System.Globalization;
using System.Text.Json;
using AgentFunctions.DevHost.Doubles;
using AgentFunctions.DevHost.Functions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost;

/// <summary>Settings for <see cref="LocalDevelopmentHost"/>.</summary>
internal sealed class LocalDevelopmentHostOptions
{
    /// <summary>The HTTP port on 127.0.0.1; 0 picks a free one.</summary>
    public int HttpPort { get; init; }

    /// <summary>App settings laid over <see cref="LocalDevelopmentHost.EmbeddedAppSettings"/>, e.g. a shorter key time to live.</summary>
    public IReadOnlyDictionary<string, string> AppSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>The app's build output; default the AgentFunctions build of this configuration.</summary>
    public string? AppDirectory { get; init; }

    /// <summary>
    /// Where timer schedule status is kept between runs; default the repository's git-ignored <c>.devhost</c> folder, so
    /// a timer that was due while the host was stopped runs once, past due, at the next start.
    /// </summary>
    public string? StateDirectory { get; init; }
}

/// <summary>
/// Everything <c>dotnet run --project AgentFunctions.DevHost</c> starts: the local Azure doubles, Azurite for storage,
/// then the real worker under the local Functions host, wired so that the app reads its key from the vault double
/// through the managed-identity double, and host and app reach storage with that identity, exactly as they would in
/// Azure.
/// </summary>
internal sealed partial class LocalDevelopmentHost : IAsyncDisposable
{
    /// <summary>The route of the operator's key rotation, beside the functions on the same port.</summary>
    public const string RotateKeyPath = "/_devhost/rotate-key";

    /// <summary>
    /// The app settings the local host runs with. Endpoints come from the doubles; nothing here is a secret, and no
    /// setting weakens a TLS or identity check: the worker trusts the doubles through <c>SSL_CERT_FILE</c> and reaches
    /// them through <c>HTTPS_PROXY</c>, both set only for the worker process.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> EmbeddedAppSettings = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["AzureOpenAI__Authentication"] = "KeyVaultKey",
        ["AzureOpenAI__DefaultDeployment"] = "gpt-4o-mini",
        ["KeyVault__SecretName"] = LocalAzure.OpenAIKeySecretName,
        ["Identity__Source"] = "ManagedIdentity",
        ["ScheduledRunSchedule"] = "0 0 6 * * *",
        ["ScheduledRun__Agent"] = "",
        ["ScheduledRun__Input"] = "",
    };

    private readonly ILogger _logger;

    /// <summary>The identity-based storage connections the app and host use, as the app settings in Azure name them.</summary>
    public static readonly IReadOnlyList<string> StorageConnectionNames = ["AzureWebJobsStorage", "RunStateStorage"];

    private LocalDevelopmentHost(LocalAzure azure, AzuriteProcess storage, FunctionsHost functions, ILogger logger)
    {
        Azure = azure;
        Storage = storage;
        Functions = functions;
        _logger = logger;
    }

    public LocalAzure Azure { get; }

    /// <summary>Azurite on 127.0.0.1 over HTTPS, accepting the local tenant's bearer tokens.</summary>
    public AzuriteProcess Storage { get; }

    public FunctionsHost Functions { get; }

    public Uri BaseAddress => Functions.HttpBaseAddress;

    /// <summary>The worker's environment: the doubles' variables, the embedded settings, then the caller's overrides.</summary>
    public static Dictionary<string, string> CreateWorkerEnvironment(LocalAzure azure,
        IReadOnlyDictionary<string, string>? overrides = null) => CreateWorkerEnvironment(azure, storage: null, overrides);

    /// <summary>
    /// The worker's environment: the doubles' variables, the storage connections of <paramref name="storage"/> (when
    /// given), the embedded settings, then the caller's overrides.
    /// </summary>
    public static Dictionary<string, string> CreateWorkerEnvironment(LocalAzure azure, AzuriteProcess? storage,
        IReadOnlyDictionary<string, string>? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(azure);
        var environment = new Dictionary<string, string>(azure.WorkerEnvironment, StringComparer.Ordinal);
        if (storage is not null)
        {
            foreach (var (name, value) in CreateStorageSettings(storage))
            {
                environment[name] = value;
            }
        }

        // A setting exported in the developer's shell wins over the embedded default (the worker inherits it), so the
        // app can be tried with another schedule or cache time; the doubles' addresses above are never overridden.
        foreach (var (name, value) in EmbeddedAppSettings)
        {
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)))
            {
                environment[name] = value;
            }
        }

        foreach (var (name, value) in overrides ?? new Dictionary<string, string>())
        {
            environment[name] = value;
        }

        return environment;
    }

    /// <summary>
    /// Identity-based connections to <paramref name="storage"/> for every name in <see cref="StorageConnectionNames"/>:
    /// <c>&lt;name&gt;__blobServiceUri</c>, <c>__queueServiceUri</c>, <c>__tableServiceUri</c> and
    /// <c>__credential=managedidentity</c>, as the app settings in Azure hold them. No key, no connection string.
    /// </summary>
    public static Dictionary<string, string> CreateStorageSettings(AzuriteProcess storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var connection in StorageConnectionNames)
        {
            foreach (var (name, value) in storage.CreateIdentityConnectionSettings(connection))
            {
                settings[name] = value;
            }
        }

        return settings;
    }

    /// <summary>Starts Azurite with the doubles' certificate, over HTTPS, accepting bearer tokens.</summary>
    public static Task<AzuriteProcess> StartStorageAsync(LocalAzure azure, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(azure);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var options = new AzuriteOptions { Certificate = azure.CertificateAuthority.ServerCertificate, OAuth = true };
        return AzuriteProcess.StartAsync(options, loggerFactory.CreateLogger<AzuriteProcess>(), cancellationToken);
    }

    public static async Task<LocalDevelopmentHost> StartAsync(LocalDevelopmentHostOptions options, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var azure = await LocalAzure.StartAsync(new LocalAzureOptions { LoggerFactory = loggerFactory }, cancellationToken)
            .ConfigureAwait(false);
        AzuriteProcess? storage = null;
        try
        {
            storage = await StartStorageAsync(azure, loggerFactory, cancellationToken).ConfigureAwait(false);
            var logger = loggerFactory.CreateLogger<LocalDevelopmentHost>();
            var hostOptions = new FunctionsHostOptions
            {
                AppDirectory = options.AppDirectory ?? FunctionsHostOptions.GetBuiltAppDirectory(),
                HttpPort = options.HttpPort,
                StateDirectory = options.StateDirectory ?? DefaultStateDirectory(),
                MapHostEndpoints = endpoints => MapOperatorEndpoints(endpoints, azure, logger),
            };
            foreach (var (name, value) in CreateWorkerEnvironment(azure, storage, options.AppSettings))
            {
                hostOptions.EnvironmentVariables[name] = value;
            }

            var functions = await FunctionsHost.StartAsync(hostOptions, loggerFactory, cancellationToken).ConfigureAwait(false);
            return new LocalDevelopmentHost(azure, storage, functions, logger);
        }
        catch
        {
            if (storage is not null)
            {
                await storage.DisposeAsync().ConfigureAwait(false);
            }

            await azure.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Functions.DisposeAsync().ConfigureAwait(false);
        await Storage.DisposeAsync().ConfigureAwait(false);
        await Azure.DisposeAsync().ConfigureAwait(false);
        LogStopped(_logger);
    }

    /// <summary>The repository's git-ignored <c>.devhost</c> folder as this build recorded it, else one beside the app.</summary>
    private static string DefaultStateDirectory() =>
        FunctionAppLocator.ReadBuildMetadata("AgentFunctions.DevHostStateDirectory") is { Length: > 0 } recorded
            ? recorded
            : Path.Combine(FunctionsHostOptions.GetBuiltAppDirectory(), ".devhost");

    private static void MapOperatorEndpoints(IEndpointRouteBuilder endpoints, LocalAzure azure, ILogger logger) =>
        endpoints.MapPost(RotateKeyPath, async context =>
        {
            // The operator's three steps: a new key in the account, a new secret version in the vault, the old key
            // regenerated; retireAfterSeconds waits between the last two, as an operator waits for instances to pick up.
            string? wait = context.Request.Query["retireAfterSeconds"];
            int seconds = 0;
            if (wait is not null
                && (!int.TryParse(wait, NumberStyles.Integer, CultureInfo.InvariantCulture, out seconds) || seconds is < 0 or > 3600))
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                context.Response.ContentType = "application/problem+json";
                await context.Response.WriteAsync(
                    """{"title":"Invalid retireAfterSeconds","status":400,"detail":"retireAfterSeconds must be a whole number from 0 to 3600."}""",
                    context.RequestAborted).ConfigureAwait(false);
                return;
            }

            var summary = await azure.RotateOpenAIKeyAsync(TimeSpan.FromSeconds(seconds), cancellationToken: context.RequestAborted)
                .ConfigureAwait(false);
            LogRotated(logger, summary.PublishedKey, summary.NewSecretVersion, summary.RetiredKey);
            context.Response.ContentType = "application/json; charset=utf-8";
            await JsonSerializer.SerializeAsync(context.Response.Body, new
            {
                publishedKey = summary.PublishedKey.ToString(),
                secretName = summary.SecretName,
                newSecretVersion = summary.NewSecretVersion,
                retiredKey = summary.RetiredKey.ToString(),
                retiredKeyRegenerated = summary.RetiredKeyRegenerated,
            }, cancellationToken: context.RequestAborted).ConfigureAwait(false);
        });

    [LoggerMessage(EventId = 2000, EventName = "KeyRotated", Level = LogLevel.Information,
        Message = "Rotated the Azure OpenAI key: {PublishedKey} is now secret version {Version}; {RetiredKey} was regenerated.")]
    private static partial void LogRotated(ILogger logger, KeyName publishedKey, string version, KeyName retiredKey);

    [LoggerMessage(EventId = 2001, EventName = "LocalHostStopped", Level = LogLevel.Information,
        Message = "The local host stopped; the worker, Azurite and the doubles are gone.")]
    private static partial void LogStopped(ILogger logger);
}
