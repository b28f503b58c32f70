using AgentFunctions.DevHost.Functions.Queues;
using AgentFunctions.DevHost.Functions.Storage;
using AgentFunctions.DevHost.Functions.Timers;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions;

/// <summary>What the queue and timer listeners of one host share.</summary>
internal sealed record TriggerListenerContext(
    AppSettings Settings,
    QueueHostSettings QueueSettings,
    IFunctionInvoker Invoker,
    StorageConnections Connections,
    QueueWakeSignals WakeSignals,
    ScheduleStatusStore? ScheduleStatusStore,
    ILoggerFactory LoggerFactory,
    TimeProvider TimeProvider)
{
    /// <summary>Processors counted for the default newBatchThreshold; default this machine's.</summary>
    public int ProcessorCount { get; init; } = Environment.ProcessorCount;

    public QueueListenerTuning QueueTuning { get; init; } = QueueListenerTuning.Default;

    /// <summary>The zone timer schedules follow; default the machine's, as the Functions host follows its own.</summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Local;
}

/// <summary>
/// Starts a listener for every queue- and timer-triggered function that is not disabled, and stops them all. As in the
/// Functions host, a function whose listener cannot start (a missing connection, an app setting its binding names that
/// is not set) is reported and left idle; the other functions run.
/// </summary>
internal sealed partial class TriggerListeners : IAsyncDisposable
{
    private readonly List<QueueListener> _queueListeners = [];
    private readonly List<TimerListener> _timerListeners = [];
    private readonly List<string> _failed = [];

    private TriggerListeners()
    {
    }

    public IReadOnlyList<QueueListener> QueueListeners => _queueListeners;

    public IReadOnlyList<TimerListener> TimerListeners => _timerListeners;

    /// <summary>Functions whose listener could not start.</summary>
    public IReadOnlyList<string> FailedFunctions => _failed;

    public static TriggerListeners Start(IEnumerable<LoadedFunction> functions, TriggerListenerContext context)
    {
        ArgumentNullException.ThrowIfNull(functions);
        ArgumentNullException.ThrowIfNull(context);
        var logger = context.LoggerFactory.CreateLogger<TriggerListeners>();
        var listeners = new TriggerListeners();
        foreach (var function in functions)
        {
            if (function.Trigger is null || function.IsHttpTrigger)
            {
                continue;
            }

            if (context.Settings.IsFunctionDisabled(function.Name))
            {
                LogDisabled(logger, function.Name, function.TriggerType ?? "no trigger");
                continue;
            }

            try
            {
                if (QueueTriggerBinding.IsQueueTrigger(function))
                {
                    listeners._queueListeners.Add(StartQueueListener(function, context));
                }
                else if (TimerTriggerBinding.IsTimerTrigger(function))
                {
                    listeners._timerListeners.Add(StartTimerListener(function, context));
                }
                else
                {
                    LogUnsupported(logger, function.Name, function.TriggerType!);
                }
            }
            catch (FunctionsHostException exception)
            {
                listeners._failed.Add(function.Name);
                LogNotStarted(logger, function.Name, exception.Message);
            }
        }

        return listeners;
    }

    /// <summary>Stops every listener; invocations in flight get <paramref name="drainTimeout"/> to finish.</summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        var stopping = _queueListeners.Select(listener => listener.StopAsync(drainTimeout))
            .Concat(_timerListeners.Select(listener => listener.StopAsync(drainTimeout)));
        await Task.WhenAll(stopping).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var listener in _queueListeners)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var listener in _timerListeners)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static QueueListener StartQueueListener(LoadedFunction function, TriggerListenerContext context)
    {
        var binding = QueueTriggerBinding.Create(function, context.Settings);
        var queue = context.Connections.GetQueueClient(binding.ConnectionName, binding.QueueName);
        var poison = binding.PoisonQueueName is { } poisonName
            ? context.Connections.GetQueueClient(binding.ConnectionName, poisonName)
            : null;
        var threshold = context.QueueSettings.GetNewBatchThreshold(context.Settings, context.ProcessorCount);
        var listener = new QueueListener(function, binding, queue, poison, context.QueueSettings, threshold, context.Invoker,
            context.LoggerFactory.CreateLogger<QueueListener>(), context.TimeProvider, context.WakeSignals,
            context.QueueTuning);
        listener.Start();
        return listener;
    }

    private static TimerListener StartTimerListener(LoadedFunction function, TriggerListenerContext context)
    {
        var binding = TimerTriggerBinding.Create(function, context.Settings);
        var listener = new TimerListener(function, binding, context.Invoker, context.ScheduleStatusStore,
            context.LoggerFactory.CreateLogger<TimerListener>(), context.TimeProvider, context.TimeZone);
        listener.Start();
        return listener;
    }

    [LoggerMessage(EventId = 1560, EventName = "FunctionDisabled", Level = LogLevel.Information,
        Message = "Function {FunctionName} ({TriggerType}) is disabled by its AzureWebJobs.{FunctionName}.Disabled app " +
            "setting; not listening for it")]
    private static partial void LogDisabled(ILogger logger, string functionName, string triggerType);

    [LoggerMessage(EventId = 1561, EventName = "ListenerNotStarted", Level = LogLevel.Error,
        Message = "The listener for function {FunctionName} was unable to start: {Reason}")]
    private static partial void LogNotStarted(ILogger logger, string functionName, string reason);

    [LoggerMessage(EventId = 1562, EventName = "TriggerNotSupported", Level = LogLevel.Warning,
        Message = "Function {FunctionName} has a {TriggerType} trigger, which the local host does not run; invoke it " +
            "through FunctionsHost.InvokeAsync")]
    private static partial void LogUnsupported(ILogger logger, string functionName, string triggerType);
}
