using AgentFunctions.DevHost.Doubles;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Http;
using AgentFunctions.DevHost.Functions.Worker;
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
/// Everything <c>dotnet run --project AgentFunctions.DevHost</c> starts: the HTTP port first (a port in use fails the
/// start at once), the local Azure doubles, Azurite for storage, then the real worker under the local Functions host,
/// wired so that the app reads its key from the vault double through the managed-identity double, and host and app
/// reach storage with that identity, exactly as they would in Azure.
/// </summary>
internal sealed partial class LocalDevelopmentHost : IAsyncDisposable
{
    /// <summary>The route of the operator's key rotation, beside the functions on the same port.</summary>
    public const string RotateKeyPath = KeyRotationEndpoint.Path;

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

    private readonly KeyRotationEndpoint _keyRotation;
    private readonly ILogger _logger;

    /// <summary>The identity-based storage connections the app and host use, as the app settings in Azure name them.</summary>
    public static readonly IReadOnlyList<string> StorageConnectionNames = ["AzureWebJobsStorage", "RunStateStorage"];

    private LocalDevelopmentHost(LocalAzure azure, AzuriteProcess storage, FunctionsHost functions,
        KeyRotationEndpoint keyRotation, ILogger logger)
    {
        Azure = azure;
        Storage = storage;
        Functions = functions;
        _keyRotation = keyRotation;
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

    /// <summary>
    /// Binds the HTTP port, then starts the doubles, Azurite and the worker. Fails with
    /// <see cref="FunctionsHostException"/> after stopping whatever it had started; a port in use fails before anything
    /// starts, with a message naming the port and the <c>--port</c> option.
    /// </summary>
    public static async Task<LocalDevelopmentHost> StartAsync(LocalDevelopmentHostOptions options, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var logger = loggerFactory.CreateLogger<LocalDevelopmentHost>();
        HttpFrontEnd? frontEnd = await ListenAsync(options.HttpPort, loggerFactory, cancellationToken).ConfigureAwait(false);
        LocalAzure? azure = null;
        AzuriteProcess? storage = null;
        KeyRotationEndpoint? keyRotation = null;
        try
        {
            azure = await LocalAzure.StartAsync(new LocalAzureOptions { LoggerFactory = loggerFactory }, cancellationToken)
                .ConfigureAwait(false);
            storage = await StartStorageAsync(azure, loggerFactory, cancellationToken).ConfigureAwait(false);
            keyRotation = new KeyRotationEndpoint(azure, logger);
            var hostOptions = new FunctionsHostOptions
            {
                AppDirectory = options.AppDirectory ?? FunctionsHostOptions.GetBuiltAppDirectory(),
                HttpPort = options.HttpPort,
                StateDirectory = options.StateDirectory ?? DefaultStateDirectory(),
                MapHostEndpoints = keyRotation.Map,
            };
            foreach (var (name, value) in CreateWorkerEnvironment(azure, storage, options.AppSettings))
            {
                hostOptions.EnvironmentVariables[name] = value;
            }

            // The Functions host owns the front end from here on, and stops it even if it fails to start.
            var ownedFrontEnd = frontEnd;
            frontEnd = null;
            var functions = await FunctionsHost.StartAsync(hostOptions, loggerFactory, TimeProvider.System, ownedFrontEnd,
                cancellationToken).ConfigureAwait(false);
            return new LocalDevelopmentHost(azure, storage, functions, keyRotation, logger);
        }
        catch
        {
            if (frontEnd is not null)
            {
                await frontEnd.DisposeAsync().ConfigureAwait(false);
            }

            if (keyRotation is not null)
            {
                await keyRotation.DisposeAsync().ConfigureAwait(false);
            }

            if (storage is not null)
            {
                await storage.DisposeAsync().ConfigureAwait(false);
            }

            if (azure is not null)
            {
                await azure.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>
    /// Waits until <paramref name="stopping"/> is cancelled (Ctrl+C) or a process the app cannot run without ends by
    /// itself: the worker, which runs every function, or Azurite, which holds the queues, the run state and the blobs.
    /// Either is logged as an error naming it; the caller then stops the host, which is of no use half-broken.
    /// </summary>
    /// <returns>
    /// True when <paramref name="stopping"/> ended the wait, or this process is ending on a signal; false when the worker
    /// or Azurite died.
    /// </returns>
    public async Task<bool> WaitForShutdownAsync(CancellationToken stopping)
    {
        var stopRequested = Task.Delay(Timeout.Infinite, stopping);
        var ended = await Task.WhenAny(Functions.WorkerExited, Storage.Exited, stopRequested).ConfigureAwait(false);
        if (ended == stopRequested || stopping.IsCancellationRequested || WorkerProcessReaper.IsShuttingDown)
        {
            return true;
        }

        if (ended == Functions.WorkerExited)
        {
            LogPartEnded(_logger, "The worker", Functions.WorkerProcessId, await Functions.WorkerExited.ConfigureAwait(false),
                "no function can run without it");
        }
        else
        {
            LogPartEnded(_logger, "Azurite", Storage.ProcessId, await Storage.Exited.ConfigureAwait(false),
                "queue triggers, queue outputs and the run state need its storage");
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        // A rotation still waiting to retire the old key is cancelled, and says so, before the parts it uses go.
        await _keyRotation.DisposeAsync().ConfigureAwait(false);
        await Functions.DisposeAsync().ConfigureAwait(false);
        await Storage.DisposeAsync().ConfigureAwait(false);
        await Azure.DisposeAsync().ConfigureAwait(false);
        LogStopped(_logger);
    }

    /// <summary>Binds the HTTP port before anything else starts, so that a port in use is reported at once.</summary>
    private static async Task<HttpFrontEnd> ListenAsync(int port, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        try
        {
            return await HttpFrontEnd.ListenAsync(port, FunctionsHostOptions.DefaultMaxRequestBodySize, loggerFactory,
                cancellationToken).ConfigureAwait(false);
        }
        catch (FunctionsHostException exception) when (exception.InnerException is IOException bind)
        {
            throw new FunctionsHostException(
                $"Port {port} on 127.0.0.1 is not available ({bind.Message}). Stop what listens there, or start the " +
                "local host on another port: dotnet run --project AgentFunctions.DevHost -- --port <port> (--port 0 " +
                "picks a free one).",
                exception);
        }
    }

    /// <summary>The repository's git-ignored <c>.devhost</c> folder as this build recorded it, else one beside the app.</summary>
    private static string DefaultStateDirectory() =>
        FunctionAppLocator.ReadBuildMetadata("AgentFunctions.DevHostStateDirectory") is { Length: > 0 } recorded
            ? recorded
            : Path.Combine(FunctionsHostOptions.GetBuiltAppDirectory(), ".devhost");

    [LoggerMessage(EventId = 2001, EventName = "LocalHostStopped", Level = LogLevel.Information,
        Message = "The local host stopped; the worker, Azurite and the doubles are gone.")]
    private static partial void LogStopped(ILogger logger);

    [LoggerMessage(EventId = 2004, EventName = "LocalHostPartEnded", Level = LogLevel.Error,
        Message = "{Part} (process {ProcessId}) ended with code {ExitCode} while the local host ran; {Why}, so the local " +
            "host stops. Start it again with 'dotnet run --project AgentFunctions.DevHost'.")]
    private static partial void LogPartEnded(ILogger logger, string part, int processId, int exitCode, string why);
}
