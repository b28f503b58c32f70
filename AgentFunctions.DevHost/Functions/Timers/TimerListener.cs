using System.Globalization;
using AgentFunctions.DevHost.Functions.Protocol;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions.Timers;

/// <summary>
/// Fires one timer-triggered function on its schedule with the Functions host's rules (protocol notes, 5.2): one
/// immediate run for RunOnStartup; with the schedule monitor (UseMonitor, default true, off for schedules more frequent
/// than once a minute) the status is kept between runs and a firing missed while the host was down runs once at start
/// with IsPastDue=true. Firings never overlap: the next occurrence is computed only after the previous invocation has
/// finished, so occurrences that fall inside a long run are skipped, as under the host's singleton lock.
/// </summary>
internal sealed partial class TimerListener : IAsyncDisposable
{
    private static readonly TimeSpan DefaultDrainTimeout = TimeSpan.FromSeconds(5);

    private readonly LoadedFunction _function;
    private readonly TimerTriggerBinding _binding;
    private readonly IFunctionInvoker _invoker;
    private readonly ScheduleStatusStore? _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly TimeZoneInfo _timeZone;
    private readonly CancellationTokenSource _stopWaiting = new();
    private readonly CancellationTokenSource _stopInvoking = new();
    private Task? _loop;
    private readonly Lock _gate = new();
    private ScheduleStatus? _status;
    private DateTimeOffset? _nextOccurrence;
    private int _firingCount;
    private int _stopped;

    /// <param name="store">Where the schedule monitor keeps status; null turns the monitor off.</param>
    /// <param name="timeZone">The zone whose wall clock the schedule follows; default the machine's.</param>
    public TimerListener(LoadedFunction function, TimerTriggerBinding binding, IFunctionInvoker invoker,
        ScheduleStatusStore? store, ILogger logger, TimeProvider? timeProvider = null, TimeZoneInfo? timeZone = null)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(binding);
        ArgumentNullException.ThrowIfNull(invoker);
        ArgumentNullException.ThrowIfNull(logger);
        _function = function;
        _binding = binding;
        _invoker = invoker;
        _logger = logger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _timeZone = timeZone ?? TimeZoneInfo.Local;

        var tooFrequent = binding.Schedule.IsMoreFrequentThanOncePerMinute(_timeProvider.GetUtcNow(), _timeZone);
        if (binding.UseMonitor && tooFrequent && store is not null)
        {
            LogMonitorOff(logger, function.Name, binding.Schedule.Expression);
        }

        _store = binding.UseMonitor && !tooFrequent ? store : null;
    }

    public string FunctionName => _function.Name;

    /// <summary>True when status is kept between runs (see the class remarks).</summary>
    public bool UsesMonitor => _store is not null;

    /// <summary>Invocations started so far, of every kind (startup, past due, scheduled).</summary>
    public int FiringCount => Volatile.Read(ref _firingCount);

    /// <summary>The occurrence the listener waits for, once it waits.</summary>
    public DateTimeOffset? NextOccurrence
    {
        get
        {
            lock (_gate)
            {
                return _nextOccurrence;
            }
        }

        private set
        {
            lock (_gate)
            {
                _nextOccurrence = value;
            }
        }
    }

    public void Start()
    {
        if (_loop is not null)
        {
            throw new InvalidOperationException("The listener has already started.");
        }

        _loop = Task.Run(RunAsync);
    }

    /// <summary>
    /// Stops waiting for occurrences; a running invocation gets <paramref name="drainTimeout"/> before it is cancelled.
    /// </summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0 || _loop is null)
        {
            return;
        }

        await _stopWaiting.CancelAsync().ConfigureAwait(false);
        if (await Task.WhenAny(_loop, Task.Delay(drainTimeout, _timeProvider)).ConfigureAwait(false) != _loop)
        {
            await _stopInvoking.CancelAsync().ConfigureAwait(false);
        }

        await _loop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(DefaultDrainTimeout).ConfigureAwait(false);
        _stopWaiting.Dispose();
        _stopInvoking.Dispose();
    }

    private async Task RunAsync()
    {
        var stopping = _stopWaiting.Token;
        try
        {
            var now = _timeProvider.GetUtcNow();
            var isPastDue = false;
            if (_store is not null)
            {
                _status = await _store.ReadAsync(_function.Name, stopping).ConfigureAwait(false);
                if (_status is not null && ScheduleChangedSince(_status))
                {
                    // As the platform's schedule monitor does: a stored next occurrence that the schedule could not have
                    // produced means the schedule was edited, so the old one is neither kept nor counted as missed.
                    LogScheduleChanged(_logger, _function.Name, _binding.Schedule.Expression);
                    _status = null;
                }

                isPastDue = _status is not null && now > _status.Next;
                if (_status is null)
                {
                    // Remembered from the start, so that a host stopped before the first firing still sees it missed.
                    _status = new ScheduleStatus(DateTimeOffset.MinValue, _binding.Schedule.GetNextOccurrence(now, _timeZone), now);
                    await _store.WriteAsync(_function.Name, _status, stopping).ConfigureAwait(false);
                }
            }

            var firstNext = NextAfter(now);
            LogStarted(_logger, _function.Name, _binding.Schedule.Expression, firstNext, _binding.RunOnStartup, UsesMonitor);

            if (isPastDue)
            {
                LogPastDue(_logger, _function.Name, _status!.Next);
                await FireAsync(isPastDue: true, scheduledFor: now).ConfigureAwait(false);
            }
            else if (_binding.RunOnStartup)
            {
                // An extra run: it does not move the schedule, so the status stays as it was.
                await FireAsync(isPastDue: false, scheduledFor: null).ConfigureAwait(false);
            }

            while (!stopping.IsCancellationRequested)
            {
                var next = NextAfter(_timeProvider.GetUtcNow());
                var wait = next - _timeProvider.GetUtcNow();
                // NextOccurrence is published once the timer exists, so whoever reads it (a test moving a fake clock)
                // knows the wait is already measured from the clock as it was.
                var elapsed = wait > TimeSpan.Zero ? Task.Delay(wait, _timeProvider, stopping) : Task.CompletedTask;
                NextOccurrence = next;
                await elapsed.ConfigureAwait(false);

                await FireAsync(isPastDue: false, scheduledFor: next).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested || _stopInvoking.IsCancellationRequested)
        {
            LogStopped(_logger, _function.Name);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            LogListenerFailed(_logger, _function.Name, exception.Message);
        }
    }

    /// <summary>
    /// The monitor's remembered next occurrence while it lies ahead (a restart keeps the rhythm), else the schedule's.
    /// </summary>
    private DateTimeOffset NextAfter(DateTimeOffset now) =>
        _status is { } status && status.Next > now ? status.Next : _binding.Schedule.GetNextOccurrence(now, _timeZone);

    private bool ScheduleChangedSince(ScheduleStatus status)
    {
        var from = status.Last == DateTimeOffset.MinValue ? status.LastUpdated : status.Last;
        return _binding.Schedule.GetNextOccurrence(from, _timeZone) != status.Next;
    }

    /// <param name="scheduledFor">The occurrence this firing stands for; null for the RunOnStartup run.</param>
    private async Task FireAsync(bool isPastDue, DateTimeOffset? scheduledFor)
    {
        Interlocked.Increment(ref _firingCount);
        var localNow = TimeZoneInfo.ConvertTime(_timeProvider.GetUtcNow(), _timeZone);
        var input = new ParameterBinding
        {
            Name = _binding.BindingName,
            Data = new TypedData { Json = TimerInfoJson.Create(_status, isPastDue, _timeZone) },
        };
        var metadata = new Dictionary<string, TypedData>(StringComparer.Ordinal)
        {
            ["TimerTrigger"] = new TypedData { String = localNow.DateTime.ToString(CultureInfo.InvariantCulture) },
        };

        try
        {
            // The invoker logs the outcome; a failed run changes nothing about the schedule, as on the platform.
            await _invoker.InvokeAsync(_function, [input], metadata, _stopInvoking.Token).ConfigureAwait(false);
        }
        catch (FunctionsHostException exception)
        {
            LogInvokeFailed(_logger, _function.Name, exception.Message);
        }

        if (_store is not null && scheduledFor is { } occurrence)
        {
            var now = _timeProvider.GetUtcNow();
            _status = new ScheduleStatus(occurrence, _binding.Schedule.GetNextOccurrence(now, _timeZone), now);
            await _store.WriteAsync(_function.Name, _status, CancellationToken.None).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 1540, EventName = "TimerListenerStarted", Level = LogLevel.Information,
        Message = "Timer function {FunctionName} runs on schedule '{Schedule}', next at {Next} (RunOnStartup {RunOnStartup}, " +
            "schedule monitor {UseMonitor})")]
    private static partial void LogStarted(ILogger logger, string functionName, string schedule, DateTimeOffset next,
        bool runOnStartup, bool useMonitor);

    [LoggerMessage(EventId = 1541, EventName = "TimerPastDue", Level = LogLevel.Information,
        Message = "Timer function {FunctionName} missed its firing due at {Next} while the host was down; running it now " +
            "with IsPastDue=true")]
    private static partial void LogPastDue(ILogger logger, string functionName, DateTimeOffset next);

    [LoggerMessage(EventId = 1542, EventName = "TimerMonitorOff", Level = LogLevel.Information,
        Message = "Timer function {FunctionName}: schedule '{Schedule}' fires more than once a minute, so its schedule " +
            "monitor is off (UseMonitor treated as false, as in Azure)")]
    private static partial void LogMonitorOff(ILogger logger, string functionName, string schedule);

    [LoggerMessage(EventId = 1543, EventName = "TimerListenerStopped", Level = LogLevel.Debug,
        Message = "Timer function {FunctionName} stopped")]
    private static partial void LogStopped(ILogger logger, string functionName);

    [LoggerMessage(EventId = 1544, EventName = "TimerInvokeFailed", Level = LogLevel.Error,
        Message = "Timer function {FunctionName} could not be invoked: {Reason}")]
    private static partial void LogInvokeFailed(ILogger logger, string functionName, string reason);

    [LoggerMessage(EventId = 1547, EventName = "TimerScheduleChanged", Level = LogLevel.Information,
        Message = "Timer function {Function}'s schedule changed to '{Schedule}' since its status was stored; the next " +
            "occurrence is taken from the new schedule.")]
    private static partial void LogScheduleChanged(ILogger logger, string function, string schedule);

    [LoggerMessage(EventId = 1546, EventName = "TimerListenerFailed", Level = LogLevel.Error,
        Message = "Timer function {FunctionName} stopped firing: its schedule status could not be kept ({Reason})")]
    private static partial void LogListenerFailed(ILogger logger, string functionName, string reason);
}
