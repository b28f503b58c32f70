using System.Globalization;
using AgentFunctions.DevHost.Functions.Http;
using AgentFunctions.DevHost.Functions.Metadata;
using AgentFunctions.DevHost.Functions.Protocol;
using AgentFunctions.DevHost.Functions.Queues;
using AgentFunctions.DevHost.Functions.Storage;
using AgentFunctions.DevHost.Functions.Timers;
using AgentFunctions.DevHost.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions;

/// <summary>
/// A local stand-in for the Azure Functions host: starts the compiled isolated worker as a child process, drives it over
/// the Functions gRPC protocol, serves its HTTP-triggered functions on 127.0.0.1, feeds its queue-triggered functions
/// from storage queues (Azurite) and fires its timer-triggered functions; queue output bindings are written after every
/// successful invocation.
/// </summary>
/// <example>
/// <code>
/// await using var host = await FunctionsHost.StartAsync(FunctionsHostOptions.ForBuiltApp(), loggerFactory, cancellationToken);
/// // GET {host.HttpBaseAddress}api/health
/// </code>
/// </example>
public sealed partial class FunctionsHost : IAsyncDisposable
{
    // The Functions host waits this long for WorkerInitResponse (its InitializationTimeout).
    private static readonly TimeSpan InitializationTimeout = TimeSpan.FromSeconds(10);

    private readonly FunctionsHostOptions _options;
    private readonly string _appDirectory;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger<FunctionsHost> _logger;
    private readonly TimeProvider _timeProvider;
    private readonly WorkerChannel _channel;
    private readonly FunctionInvoker _invoker;
    private IFunctionInvoker _entryInvoker;
    private readonly TaskCompletionSource<int> _workerExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dictionary<string, LoadedFunction> _functionsByName = new(StringComparer.OrdinalIgnoreCase);
    private GrpcServer? _grpcServer;
    private WorkerProcess? _worker;
    private HttpFrontEnd? _httpFrontEnd;
    private StorageConnections? _storageConnections;
    private TriggerListeners? _listeners;
    private string? _ownedStateDirectory;
    private volatile bool _ready;
    private int _disposed;

    private FunctionsHost(FunctionsHostOptions options, string appDirectory, ILoggerFactory loggerFactory,
        TimeProvider timeProvider, HttpFrontEnd? httpFrontEnd)
    {
        _options = options;
        _httpFrontEnd = httpFrontEnd;
        _appDirectory = appDirectory;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<FunctionsHost>();
        _timeProvider = timeProvider;
        _channel = new WorkerChannel(Guid.NewGuid().ToString(), new RpcLogForwarder(loggerFactory),
            loggerFactory.CreateLogger<WorkerChannel>());
        _invoker = new FunctionInvoker(_channel, loggerFactory.CreateLogger<FunctionInvoker>(), timeProvider);
        _entryInvoker = _invoker;
    }

    /// <summary>Root of the HTTP front end, http://127.0.0.1:&lt;port&gt;/; routes sit below it (e.g. api/health).</summary>
    public Uri HttpBaseAddress =>
        _httpFrontEnd?.BaseAddress ?? throw new InvalidOperationException("The host has not started.");

    /// <summary>Every function the worker reported and loaded.</summary>
    public IReadOnlyList<LoadedFunction> Functions { get; private set; } = [];

    /// <summary>Operating-system id of the worker process.</summary>
    public int WorkerProcessId => _worker?.Id ?? throw new InvalidOperationException("The host has not started.");

    /// <summary>
    /// Completes with the worker's exit code when its process ends: unexpectedly (a crash), or because the host was
    /// disposed. The host does not restart a worker that died; dispose it and start a new one.
    /// </summary>
    public Task<int> WorkerExited => _workerExited.Task;

    /// <summary>
    /// The invocation entry point for trigger sources inside the host (HTTP, queue, timer): the worker call followed by
    /// the function's queue output bindings.
    /// </summary>
    internal IFunctionInvoker Invoker => _entryInvoker;

    /// <summary>The app settings the worker runs with, which binding expressions and connections resolve against.</summary>
    internal AppSettings AppSettings { get; private set; } = AppSettings.Empty;

    /// <summary>The queue and timer listeners, once started.</summary>
    internal TriggerListeners? Listeners => _listeners;

    /// <summary>
    /// Validates the app's build output, binds the HTTP port (a taken port fails here, before anything else starts),
    /// starts the gRPC server and the worker, performs the handshake (init, metadata, one load per function), then serves
    /// the functions. Fails with <see cref="FunctionsHostException"/> on any step, after stopping whatever it had started.
    /// </summary>
    public static Task<FunctionsHost> StartAsync(FunctionsHostOptions options, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken = default) =>
        StartAsync(options, loggerFactory, TimeProvider.System, httpFrontEnd: null, cancellationToken);

    /// <param name="httpFrontEnd">
    /// A front end the caller bound already (to fail fast on a taken port before starting anything of its own), or null
    /// to bind <see cref="FunctionsHostOptions.HttpPort"/> here. A given one keeps the port and body limit it was bound
    /// with. The host owns it from this call on, and disposes it even when the start fails.
    /// </param>
    internal static async Task<FunctionsHost> StartAsync(FunctionsHostOptions options, ILoggerFactory loggerFactory,
        TimeProvider timeProvider, HttpFrontEnd? httpFrontEnd, CancellationToken cancellationToken)
    {
        FunctionsHost? host = null;
        try
        {
            ArgumentNullException.ThrowIfNull(options);
            ArgumentNullException.ThrowIfNull(loggerFactory);
            ArgumentNullException.ThrowIfNull(timeProvider);
            options.Validate();

            var appDirectory = Path.GetFullPath(options.AppDirectory);
            var workerConfig = WorkerConfig.Load(appDirectory);
            var hostSettings = HostJsonSettings.Load(appDirectory);

            host = new FunctionsHost(options, appDirectory, loggerFactory, timeProvider, httpFrontEnd);
            await host.StartCoreAsync(workerConfig, hostSettings, cancellationToken).ConfigureAwait(false);
            return host;
        }
        catch
        {
            if (host is not null)
            {
                await host.DisposeAsync().ConfigureAwait(false);
            }
            else if (httpFrontEnd is not null)
            {
                await httpFrontEnd.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>
    /// Invokes a function by name with the given trigger input and metadata, for any trigger type. The caller builds the
    /// input exactly as the worker expects it for that trigger (see the protocol notes); the HTTP front end does the same.
    /// </summary>
    public Task<InvocationResult> InvokeAsync(string functionName, IEnumerable<ParameterBinding> inputData,
        IReadOnlyDictionary<string, TypedData>? triggerMetadata = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(functionName);
        ArgumentNullException.ThrowIfNull(inputData);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        if (!_functionsByName.TryGetValue(functionName, out var function))
        {
            throw new ArgumentException(
                $"No function named '{functionName}' is loaded; loaded: {string.Join(", ", _functionsByName.Keys)}.",
                nameof(functionName));
        }

        return _entryInvoker.InvokeAsync(function, inputData.ToList(),
            triggerMetadata ?? new Dictionary<string, TypedData>(), cancellationToken);
    }

    /// <summary>
    /// Stops the queue and timer listeners (invocations in flight get the shutdown grace period) and the HTTP front end,
    /// asks the worker to terminate, kills its process tree if it has not exited within the grace period, then stops the
    /// gRPC server.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_listeners is not null)
        {
            await _listeners.StopAsync(_options.ShutdownGracePeriod).ConfigureAwait(false);
            await _listeners.DisposeAsync().ConfigureAwait(false);
        }

        if (_httpFrontEnd is not null)
        {
            await _httpFrontEnd.DisposeAsync().ConfigureAwait(false);
        }

        if (_worker is not null)
        {
            await StopWorkerAsync(_worker).ConfigureAwait(false);
        }

        if (_grpcServer is not null)
        {
            await _grpcServer.DisposeAsync().ConfigureAwait(false);
        }

        _storageConnections?.Dispose();
        DeleteOwnedStateDirectory();
        LogStopped(_logger);
    }

    private async Task StartCoreAsync(WorkerConfig workerConfig, HostJsonSettings hostSettings,
        CancellationToken cancellationToken)
    {
        // First, so that a port in use is reported at once rather than after the worker has loaded.
        _httpFrontEnd ??= await HttpFrontEnd.ListenAsync(_options.HttpPort, _options.MaxRequestBodySize, _loggerFactory,
            cancellationToken).ConfigureAwait(false);
        _grpcServer = await GrpcServer.StartAsync(_channel, _loggerFactory, cancellationToken).ConfigureAwait(false);

        var (environment, removed) = WorkerEnvironment.Build(_options.InheritedEnvironment ?? ReadEnvironment(),
            _appDirectory, _options.EnvironmentVariables);
        if (removed.Count > 0)
        {
            var names = string.Join(", ", removed);
            LogEnvironmentCleaned(_logger, removed.Count, names);
        }

        // In Azure the host and the worker read the same app settings; here the worker's environment is that set.
        AppSettings = new AppSettings(environment);

        var launch = WorkerLaunchSpec.Create(workerConfig, _appDirectory, _grpcServer.Port, _channel.WorkerId,
            Guid.NewGuid().ToString(), environment);
        _worker = WorkerProcess.Start(launch, _loggerFactory.CreateLogger<WorkerProcess>());
        _ = ObserveWorkerExitAsync(_worker);

        await WaitForStepAsync(_channel.Connected, _options.StartupTimeout, nameof(FunctionsHostOptions.StartupTimeout),
            "open its gRPC stream to the host", cancellationToken).ConfigureAwait(false);

        var init = await WaitForStepAsync(_channel.InitializeAsync(_appDirectory, cancellationToken), InitializationTimeout,
            setting: null, "answer WorkerInitRequest", cancellationToken).ConfigureAwait(false);
        RequireSuccess(init.Result, "The worker failed to initialize");
        LogWorkerInitialized(_logger, init.WorkerMetadata?.RuntimeVersion ?? "?", init.WorkerMetadata?.WorkerVersion ?? "?");

        var metadata = await LoadFunctionsAsync(workerConfig, hostSettings, cancellationToken).ConfigureAwait(false);
        Functions = metadata;
        _functionsByName = metadata.ToDictionary(function => function.Name, StringComparer.OrdinalIgnoreCase);

        _storageConnections = new StorageConnections(AppSettings, _timeProvider);
        var wakeSignals = new QueueWakeSignals();
        var outputWriter = new QueueOutputWriter(_storageConnections, AppSettings, hostSettings.Queues, wakeSignals,
            _loggerFactory.CreateLogger<QueueOutputWriter>());
        ValidateQueueOutputs(metadata, outputWriter);
        _entryInvoker = new OutputBindingInvoker(_invoker, outputWriter, _loggerFactory.CreateLogger<OutputBindingInvoker>());

        // A disabled HTTP function is not served, as on the platform: its route answers 404.
        var served = metadata.Where(function => !AppSettings.IsFunctionDisabled(function.Name)).ToList();
        _httpFrontEnd.Serve(served, _entryInvoker, _options.MapHostEndpoints);

        var context = new TriggerListenerContext(AppSettings, hostSettings.Queues, _entryInvoker, _storageConnections,
            wakeSignals, new ScheduleStatusStore(ResolveStateDirectory(), _loggerFactory.CreateLogger<ScheduleStatusStore>()),
            _loggerFactory, _timeProvider);
        _listeners = TriggerListeners.Start(metadata, context);

        foreach (var function in metadata)
        {
            var endpoint = DescribeEndpoint(function);
            LogFunctionListed(_logger, function.Name, function.TriggerType ?? "no trigger", endpoint);
        }

        _ready = true;
        LogReady(_logger, metadata.Count, _httpFrontEnd.BaseAddress, _worker.Id);
    }

    private async Task<List<LoadedFunction>> LoadFunctionsAsync(WorkerConfig workerConfig, HostJsonSettings hostSettings,
        CancellationToken cancellationToken)
    {
        IReadOnlyList<RpcFunctionMetadata> reported;
        if (workerConfig.WorkerIndexing)
        {
            var response = await WaitForStepAsync(_channel.GetFunctionMetadataAsync(_appDirectory, cancellationToken),
                _options.FunctionLoadTimeout, nameof(FunctionsHostOptions.FunctionLoadTimeout), "list its functions",
                cancellationToken).ConfigureAwait(false);
            RequireSuccess(response.Result, "The worker failed to list its functions");
            reported = response.UseDefaultMetadataIndexing
                ? FunctionsMetadataFile.Load(_appDirectory)
                : response.FunctionMetadataResults;
        }
        else
        {
            reported = FunctionsMetadataFile.Load(_appDirectory);
        }

        // Parse first: a route the front end could not serve should fail before the worker does any loading work.
        var functions = reported.Select(metadata => FunctionMetadataParser.Parse(metadata, hostSettings)).ToList();
        HttpRouteTable.Create(functions);

        var loads = functions.Select(function => _channel.LoadFunctionAsync(function.Metadata, cancellationToken)).ToList();
        var what = string.Create(CultureInfo.InvariantCulture, $"load its {loads.Count} functions");
        var responses = await WaitForStepAsync(Task.WhenAll(loads), _options.FunctionLoadTimeout,
            nameof(FunctionsHostOptions.FunctionLoadTimeout), what, cancellationToken).ConfigureAwait(false);

        var failures = responses
            .Where(response => response.Result?.Status != StatusResult.Types.Status.Success)
            .Select(response => $"{NameOf(functions, response.FunctionId)}: {DescribeFailure(response.Result)}")
            .ToList();
        if (failures.Count > 0)
        {
            throw new FunctionsHostException($"The worker could not load every function ({string.Join("; ", failures)}).");
        }

        return functions;
    }

    /// <summary>
    /// Waits for one start-up step, failing clearly if it takes longer than the timeout or the worker exits meanwhile.
    /// </summary>
    private async Task<T> WaitForStepAsync<T>(Task<T> step, TimeSpan timeout, string? setting, string what,
        CancellationToken cancellationToken)
    {
        await WaitForStepAsync((Task)step, timeout, setting, what, cancellationToken).ConfigureAwait(false);
        return await step.ConfigureAwait(false);
    }

    private async Task WaitForStepAsync(Task step, TimeSpan timeout, string? setting, string what,
        CancellationToken cancellationToken)
    {
        using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(timeout, _timeProvider, stopDelay.Token);
        var finished = await Task.WhenAny(step, _workerExited.Task, delay).ConfigureAwait(false);
        await stopDelay.CancelAsync().ConfigureAwait(false);

        if (finished == step)
        {
            await step.ConfigureAwait(false);
            return;
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (finished == _workerExited.Task)
        {
            throw new FunctionsHostException(string.Create(CultureInfo.InvariantCulture,
                $"The worker process exited with code {_workerExited.Task.Result} before it could {what}. Its output is " +
                $"in the log under category '{typeof(WorkerProcess).FullName}'."));
        }

        var hint = setting is null ? string.Empty : $" Raise {nameof(FunctionsHostOptions)}.{setting} if the machine is slow.";
        throw new FunctionsHostException(string.Create(CultureInfo.InvariantCulture,
            $"The worker did not {what} within {timeout.TotalSeconds:0.#} s.{hint}"));
    }

    private async Task StopWorkerAsync(WorkerProcess worker)
    {
        if (!worker.Exited.IsCompleted && _channel.RequestTerminate(_options.ShutdownGracePeriod))
        {
            var exitedInTime = await Task.WhenAny(worker.Exited, Task.Delay(_options.ShutdownGracePeriod, _timeProvider))
                .ConfigureAwait(false) == worker.Exited;
            if (!exitedInTime)
            {
                LogTerminateIgnored(_logger, worker.Id, _options.ShutdownGracePeriod.TotalSeconds);
            }
        }

        // Kills the process tree if it is still there, and waits for the exit to be observed.
        await worker.DisposeAsync().ConfigureAwait(false);
    }

    private async Task ObserveWorkerExitAsync(WorkerProcess worker)
    {
        var exitCode = await worker.Exited.ConfigureAwait(false);
        if (Volatile.Read(ref _disposed) == 0 && _ready && !WorkerProcessReaper.IsShuttingDown)
        {
            LogWorkerDied(_logger, worker.Id, exitCode);
        }

        _workerExited.TrySetResult(exitCode);
    }

    private static IEnumerable<KeyValuePair<string, string?>> ReadEnvironment()
    {
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            yield return new KeyValuePair<string, string?>((string)entry.Key, entry.Value as string);
        }
    }

    private static void RequireSuccess(StatusResult? result, string failure)
    {
        if (result?.Status != StatusResult.Types.Status.Success)
        {
            throw new FunctionsHostException($"{failure}: {DescribeFailure(result)}");
        }
    }

    private static string DescribeFailure(StatusResult? result) => result?.Exception is { } exception
        ? $"{exception.Type}: {exception.Message}"
        : $"status {result?.Status.ToString() ?? "missing"}";

    private static string NameOf(List<LoadedFunction> functions, string functionId) =>
        functions.FirstOrDefault(function => function.FunctionId == functionId)?.Name ?? functionId;

    private string DescribeEndpoint(LoadedFunction function)
    {
        if (AppSettings.IsFunctionDisabled(function.Name))
        {
            return "(disabled)";
        }

        if (function.HttpRoute is { } route)
        {
            return $"[{(function.HttpMethods.Count == 0 ? "ANY" : string.Join(",", function.HttpMethods))}] {HttpBaseAddress}{route}";
        }

        if (_listeners?.QueueListeners.FirstOrDefault(listener => listener.FunctionName == function.Name) is { } queue)
        {
            return $"queue '{queue.QueueName}'";
        }

        if (_listeners?.TimerListeners.FirstOrDefault(listener => listener.FunctionName == function.Name) is { } timer)
        {
            return $"schedule '{function.Trigger?.GetString("schedule")}'{(timer.UsesMonitor ? " (monitored)" : string.Empty)}";
        }

        return _listeners?.FailedFunctions.Contains(function.Name) == true ? "(listener not started)" : "(not served)";
    }

    /// <summary>A queue output the host could never write is reported at start; its invocations fail until it is fixed.</summary>
    private void ValidateQueueOutputs(IEnumerable<LoadedFunction> functions, QueueOutputWriter writer)
    {
        foreach (var function in functions)
        {
            try
            {
                writer.Validate(function);
            }
            catch (FunctionsHostException exception)
            {
                LogOutputInvalid(_logger, function.Name, exception.Message);
            }
        }
    }

    /// <summary>The configured state folder, or a temporary one of this host's own, deleted when it stops.</summary>
    private string ResolveStateDirectory()
    {
        if (_options.StateDirectory is { Length: > 0 } configured)
        {
            return configured;
        }

        _ownedStateDirectory = Directory.CreateTempSubdirectory("agentfunctions-devhost-state-").FullName;
        return _ownedStateDirectory;
    }

    private void DeleteOwnedStateDirectory()
    {
        if (_ownedStateDirectory is null)
        {
            return;
        }

        try
        {
            Directory.Delete(_ownedStateDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A temporary folder with schedule status only; nothing of value stays behind.
        }
    }

    [LoggerMessage(EventId = 1000, EventName = "FunctionsHostReady", Level = LogLevel.Information,
        Message = "Functions host ready: {FunctionCount} functions, HTTP front end at {BaseAddress}, " +
            "worker process {ProcessId}")]
    private static partial void LogReady(ILogger logger, int functionCount, Uri baseAddress, int processId);

    [LoggerMessage(EventId = 1001, EventName = "FunctionListed", Level = LogLevel.Information,
        Message = "Function {FunctionName}: {TriggerType} {Endpoint}")]
    private static partial void LogFunctionListed(ILogger logger, string functionName, string triggerType, string endpoint);

    [LoggerMessage(EventId = 1002, EventName = "WorkerEnvironmentCleaned", Level = LogLevel.Information,
        Message = "Withheld {Count} inherited environment variables from the worker (set them through the host options " +
            "if the worker should see them): {Names}")]
    private static partial void LogEnvironmentCleaned(ILogger logger, int count, string names);

    [LoggerMessage(EventId = 1003, EventName = "WorkerInitialized", Level = LogLevel.Information,
        Message = "Worker initialized (runtime {RuntimeVersion}, worker {WorkerVersion})")]
    private static partial void LogWorkerInitialized(ILogger logger, string runtimeVersion, string workerVersion);

    [LoggerMessage(EventId = 1004, EventName = "WorkerDied", Level = LogLevel.Error,
        Message = "The worker process {ProcessId} exited unexpectedly with code {ExitCode}; functions can no longer run. " +
            "Restart the host.")]
    private static partial void LogWorkerDied(ILogger logger, int processId, int exitCode);

    [LoggerMessage(EventId = 1005, EventName = "WorkerTerminateIgnored", Level = LogLevel.Warning,
        Message = "The worker process {ProcessId} did not exit within {Seconds} s of WorkerTerminate; killing it")]
    private static partial void LogTerminateIgnored(ILogger logger, int processId, double seconds);

    [LoggerMessage(EventId = 1007, EventName = "QueueOutputInvalid", Level = LogLevel.Error,
        Message = "Function {FunctionName} has a queue output the host cannot write: {Reason}. Its invocations will fail " +
            "until that is fixed.")]
    private static partial void LogOutputInvalid(ILogger logger, string functionName, string reason);

    [LoggerMessage(EventId = 1006, EventName = "FunctionsHostStopped", Level = LogLevel.Information,
        Message = "Functions host stopped")]
    private static partial void LogStopped(ILogger logger);
}
