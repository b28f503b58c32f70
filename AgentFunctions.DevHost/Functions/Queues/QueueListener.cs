using System.Globalization;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions.Queues;

/// <summary>Timings of <see cref="QueueListener"/> that are fixed on the platform but worth shortening in tests.</summary>
internal sealed class QueueListenerTuning
{
    public static QueueListenerTuning Default { get; } = new();

    /// <summary>
    /// How long a received message stays invisible; renewed at half that while the function runs. 10 minutes, as in the
    /// extension; the service's minimum is 1 s.
    /// </summary>
    public TimeSpan ReceiveVisibilityTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Source of numbers in [0, 1) for the back-off's randomization; default <see cref="Random.Shared"/>.</summary>
    public Func<double>? NextUnitRandom { get; init; }
}

/// <summary>
/// Feeds one queue-triggered function from its queue with the Storage Queues extension's rules (protocol notes, 5.1):
/// batches of <c>batchSize</c>, the next fetch once no more than <c>newBatchThreshold</c> messages are in flight,
/// randomized exponential back-off from 100 ms up to <c>maxPollingInterval</c> while the queue is empty (or missing),
/// visibility renewed at half-life while the function runs, delete on success, retry after <c>visibilityTimeout</c> on
/// failure, and the poison queue after <c>maxDequeueCount</c> attempts or for a body that is not valid base64.
/// </summary>
internal sealed partial class QueueListener : IAsyncDisposable
{
    private static readonly TimeSpan DefaultDrainTimeout = TimeSpan.FromSeconds(5);

    private readonly LoadedFunction _function;
    private readonly QueueTriggerBinding _binding;
    private readonly QueueClient _queue;
    private readonly QueueClient? _poisonQueue;
    private readonly QueueHostSettings _settings;
    private readonly int _newBatchThreshold;
    private readonly IFunctionInvoker _invoker;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly QueueWakeSignals? _wakeSignals;
    private readonly QueueListenerTuning _tuning;
    private readonly PollingBackoff _backoff;
    private readonly CancellationTokenSource _stopPolling = new();
    private readonly CancellationTokenSource _stopInvocations = new();
    private readonly SemaphoreSlim _completed = new(0);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly Lock _gate = new();
    private readonly HashSet<Task> _processing = [];
    private IDisposable? _wakeRegistration;
    private Task? _pollLoop;
    private bool _poisonQueueCreated;
    private bool _reportedMissingQueue;
    private int _inFlight;
    private int _pollCount;
    private int _renewalCount;
    private int _stopped;

    /// <param name="poisonQueue">Null when the queue has no poison queue (it is one itself).</param>
    /// <param name="newBatchThreshold">The threshold in force (<see cref="QueueHostSettings.GetNewBatchThreshold"/>).</param>
    public QueueListener(LoadedFunction function, QueueTriggerBinding binding, QueueClient queue, QueueClient? poisonQueue,
        QueueHostSettings settings, int newBatchThreshold, IFunctionInvoker invoker, ILogger logger,
        TimeProvider? timeProvider = null, QueueWakeSignals? wakeSignals = null, QueueListenerTuning? tuning = null)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(binding);
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(invoker);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfNegative(newBatchThreshold);

        _function = function;
        _binding = binding;
        _queue = queue;
        _poisonQueue = poisonQueue;
        _settings = settings;
        _newBatchThreshold = newBatchThreshold;
        _invoker = invoker;
        _logger = logger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _wakeSignals = wakeSignals;
        _tuning = tuning ?? QueueListenerTuning.Default;
        _backoff = new PollingBackoff(QueueHostSettings.MinPollingInterval, settings.MaxPollingInterval, _tuning.NextUnitRandom);
    }

    public string FunctionName => _function.Name;

    public string QueueName => _queue.Name;

    /// <summary>Polls made so far (each one receive request).</summary>
    public int PollCount => Volatile.Read(ref _pollCount);

    /// <summary>Messages being processed right now.</summary>
    public int InFlightCount => Volatile.Read(ref _inFlight);

    /// <summary>Visibility renewals made for messages whose function ran long.</summary>
    public int RenewalCount => Volatile.Read(ref _renewalCount);

    public void Start()
    {
        lock (_gate)
        {
            if (_pollLoop is not null)
            {
                throw new InvalidOperationException("The listener has already started.");
            }

            _wakeRegistration = _wakeSignals?.Register(_queue.Uri, Wake);
            LogStarted(_logger, _function.Name, _queue.Name, _settings.BatchSize, _newBatchThreshold,
                _settings.MaxPollingInterval, _settings.MaxDequeueCount, _settings.MessageEncoding,
                _poisonQueue?.Name ?? "(none)");
            _pollLoop = Task.Run(PollLoopAsync);
        }
    }

    /// <summary>
    /// Stops polling, lets the messages in flight finish for up to <paramref name="drainTimeout"/>, then cancels their
    /// invocations. A cancelled message becomes visible again when its visibility timeout runs out.
    /// </summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        _wakeRegistration?.Dispose();
        await _stopPolling.CancelAsync().ConfigureAwait(false);
        if (_pollLoop is not null)
        {
            await _pollLoop.ConfigureAwait(false);
        }

        Task[] processing;
        lock (_gate)
        {
            processing = [.. _processing];
        }

        var drained = Task.WhenAll(processing);
        if (await Task.WhenAny(drained, Task.Delay(drainTimeout, _timeProvider)).ConfigureAwait(false) != drained)
        {
            await _stopInvocations.CancelAsync().ConfigureAwait(false);
            await drained.ConfigureAwait(false);
        }

        LogStopped(_logger, _function.Name, _queue.Name);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(DefaultDrainTimeout).ConfigureAwait(false);
        _stopPolling.Dispose();
        _stopInvocations.Dispose();
        _completed.Dispose();
        _wake.Dispose();
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken; one wake-up is enough.
        }
        catch (ObjectDisposedException)
        {
            // Stopped meanwhile.
        }
    }

    private async Task PollLoopAsync()
    {
        var stopping = _stopPolling.Token;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await WaitForCapacityAsync(stopping).ConfigureAwait(false);
                var messages = await ReceiveAsync(stopping).ConfigureAwait(false);
                Interlocked.Increment(ref _pollCount);
                if (messages.Length == 0)
                {
                    await IdleAsync(_backoff.NextDelay(), stopping).ConfigureAwait(false);
                    continue;
                }

                if (_backoff.Reset())
                {
                    LogBackoffReset(_logger, _function.Name, _queue.Name, messages.Length);
                }

                foreach (var message in messages)
                {
                    Track(message);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception) when (IsStorageOrHostFailure(exception))
            {
                LogPollFailed(_logger, _function.Name, _queue.Name, Describe(exception));
                try
                {
                    await IdleAsync(_backoff.NextDelay(), stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Fetching waits while more than newBatchThreshold messages are in flight, so at most batch + threshold run.</summary>
    private async Task WaitForCapacityAsync(CancellationToken stopping)
    {
        while (Volatile.Read(ref _inFlight) > _newBatchThreshold)
        {
            await _completed.WaitAsync(stopping).ConfigureAwait(false);
        }
    }

    private async Task<QueueMessage[]> ReceiveAsync(CancellationToken stopping)
    {
        try
        {
            var response = await _queue.ReceiveMessagesAsync(_settings.BatchSize, _tuning.ReceiveVisibilityTimeout, stopping)
                .ConfigureAwait(false);
            _reportedMissingQueue = false;
            return response.Value;
        }
        catch (RequestFailedException exception) when (exception.Status == 404)
        {
            // Like the extension: a queue nobody created yet is an empty queue, not an error.
            if (!_reportedMissingQueue)
            {
                _reportedMissingQueue = true;
                LogQueueMissing(_logger, _function.Name, _queue.Name);
            }

            return [];
        }
    }

    /// <summary>Waits out the back-off, or less when an output binding of this host writes to the queue.</summary>
    private async Task IdleAsync(TimeSpan delay, CancellationToken stopping)
    {
        using var waitEnds = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var elapsed = Task.Delay(delay, _timeProvider, waitEnds.Token);
        var woken = _wake.WaitAsync(waitEnds.Token);
        await Task.WhenAny(elapsed, woken).ConfigureAwait(false);
        await waitEnds.CancelAsync().ConfigureAwait(false);
        stopping.ThrowIfCancellationRequested();
    }

    private void Track(QueueMessage message)
    {
        Interlocked.Increment(ref _inFlight);
        var processing = Task.Run(() => ProcessAsync(message));
        lock (_gate)
        {
            _processing.Add(processing);
        }

        _ = processing.ContinueWith(done =>
        {
            lock (_gate)
            {
                _processing.Remove(done);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task ProcessAsync(QueueMessage message)
    {
        var stopping = _stopInvocations.Token;
        try
        {
            if (!TryDecodeBody(message, out var body))
            {
                LogInvalidBase64(_logger, message.MessageId, _queue.Name, _poisonQueue?.Name ?? "(none)", _function.Name);
                await MoveToPoisonAsync(message, message.PopReceipt, stopping).ConfigureAwait(false);
                return;
            }

            if (message.DequeueCount > _settings.MaxDequeueCount)
            {
                // Attempts that never reported back (a host that died mid-run) still count.
                await MoveToPoisonAsync(message, message.PopReceipt, stopping).ConfigureAwait(false);
                return;
            }

            using var renewal = new VisibilityRenewal(this, message);
            bool succeeded;
            try
            {
                succeeded = await InvokeAsync(message, body, stopping).ConfigureAwait(false);
            }
            finally
            {
                await renewal.StopAsync().ConfigureAwait(false);
            }

            if (succeeded)
            {
                await _queue.DeleteMessageAsync(message.MessageId, renewal.PopReceipt, stopping).ConfigureAwait(false);
            }
            else
            {
                await HandleFailureAsync(message, renewal.PopReceipt, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The host is stopping; the message comes back when its visibility timeout runs out.
        }
        catch (Exception exception) when (IsStorageOrHostFailure(exception))
        {
            LogProcessingFailed(_logger, message.MessageId, _queue.Name, _function.Name, Describe(exception));
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            _completed.Release();
        }
    }

    private bool TryDecodeBody(QueueMessage message, out byte[] body)
    {
        var wireText = message.MessageText ?? string.Empty;
        if (_settings.MessageEncoding == QueueMessageBodyEncoding.None)
        {
            body = System.Text.Encoding.UTF8.GetBytes(wireText);
            return true;
        }

        var buffer = new byte[wireText.Length * 3 / 4 + 3];
        if (Convert.TryFromBase64String(wireText, buffer, out var written))
        {
            body = buffer[..written];
            return true;
        }

        body = [];
        return false;
    }

    private async Task<bool> InvokeAsync(QueueMessage message, byte[] body, CancellationToken stopping)
    {
        var input = QueueMessageInput.Build(_binding, message, body, _timeProvider.GetUtcNow());
        if (input.BindingError is { } error)
        {
            LogBindingFailed(_logger, _function.Name, message.MessageId, _queue.Name, error);
            return false;
        }

        try
        {
            var result = await _invoker.InvokeAsync(_function, [input.Input!], input.TriggerMetadata, stopping)
                .ConfigureAwait(false);
            return result.Succeeded;
        }
        catch (FunctionsHostException exception)
        {
            // The worker is gone; the attempt counts as a failure, as a crashed invocation does on the platform.
            LogBindingFailed(_logger, _function.Name, message.MessageId, _queue.Name, exception.Message);
            return false;
        }
    }

    private async Task HandleFailureAsync(QueueMessage message, string popReceipt, CancellationToken stopping)
    {
        if (_poisonQueue is null)
        {
            // As in the extension: without a poison queue, retrying at once could loop fast forever; the message stays
            // invisible for the rest of its receive timeout instead.
            LogLeftInvisible(_logger, message.MessageId, _queue.Name, _tuning.ReceiveVisibilityTimeout);
            return;
        }

        if (message.DequeueCount >= _settings.MaxDequeueCount)
        {
            await MoveToPoisonAsync(message, popReceipt, stopping).ConfigureAwait(false);
            return;
        }

        await _queue.UpdateMessageAsync(message.MessageId, popReceipt, messageText: null, _settings.VisibilityTimeout, stopping)
            .ConfigureAwait(false);
        LogRetryScheduled(_logger, message.MessageId, _queue.Name, message.DequeueCount, _settings.MaxDequeueCount,
            _settings.VisibilityTimeout);
    }

    /// <summary>Copies the message as it is on the wire into the poison queue (created if missing), then deletes it.</summary>
    private async Task MoveToPoisonAsync(QueueMessage message, string popReceipt, CancellationToken stopping)
    {
        if (_poisonQueue is null)
        {
            LogLeftInvisible(_logger, message.MessageId, _queue.Name, _tuning.ReceiveVisibilityTimeout);
            return;
        }

        if (!Volatile.Read(ref _poisonQueueCreated))
        {
            await _poisonQueue.CreateIfNotExistsAsync(cancellationToken: stopping).ConfigureAwait(false);
            Volatile.Write(ref _poisonQueueCreated, true);
        }

        await _poisonQueue.SendMessageAsync(message.MessageText ?? string.Empty, stopping).ConfigureAwait(false);
        await _queue.DeleteMessageAsync(message.MessageId, popReceipt, stopping).ConfigureAwait(false);
        LogMovedToPoison(_logger, message.MessageId, _queue.Name, _poisonQueue.Name, message.DequeueCount,
            _settings.MaxDequeueCount, _function.Name);
    }

    // Azure.Core wraps the failures of all its retries in one AggregateException when storage cannot be reached at all.
    private static bool IsStorageOrHostFailure(Exception exception) =>
        exception is RequestFailedException or FunctionsHostException or HttpRequestException or IOException
        || (exception is AggregateException aggregate && aggregate.InnerExceptions.All(IsStorageOrHostFailure));

    private static string Describe(Exception exception) => exception switch
    {
        // ErrorCode and status say what went wrong; the message would add the whole response.
        RequestFailedException storage => string.Create(CultureInfo.InvariantCulture,
            $"storage answered {storage.Status} {storage.ErrorCode ?? "(no error code)"}"),
        _ => $"{exception.GetType().Name}: {exception.Message}",
    };

    /// <summary>Keeps a message invisible while its function runs, renewing at half the receive visibility timeout.</summary>
    private sealed class VisibilityRenewal : IDisposable
    {
        private readonly QueueListener _owner;
        private readonly QueueMessage _message;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private string _popReceipt;

        public VisibilityRenewal(QueueListener owner, QueueMessage message)
        {
            _owner = owner;
            _message = message;
            _popReceipt = message.PopReceipt;
            _loop = RenewAsync();
        }

        /// <summary>The receipt of the latest renewal; delete and update need it.</summary>
        public string PopReceipt => Volatile.Read(ref _popReceipt);

        public async Task StopAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(false);
        }

        public void Dispose() => _stop.Dispose();

        private async Task RenewAsync()
        {
            var visibility = _owner._tuning.ReceiveVisibilityTimeout;
            while (true)
            {
                try
                {
                    await Task.Delay(visibility / 2, _owner._timeProvider, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                try
                {
                    // Not cancelled by StopAsync: an update the service applied must leave its new receipt here.
                    var renewed = await _owner._queue.UpdateMessageAsync(_message.MessageId, PopReceipt, messageText: null,
                        visibility, _owner._stopInvocations.Token).ConfigureAwait(false);
                    Volatile.Write(ref _popReceipt, renewed.Value.PopReceipt);
                    Interlocked.Increment(ref _owner._renewalCount);
                }
                catch (Exception exception) when (exception is RequestFailedException or OperationCanceledException
                    or HttpRequestException)
                {
                    LogRenewalFailed(_owner._logger, _message.MessageId, _owner._queue.Name, exception.GetType().Name);
                    return;
                }
            }
        }
    }

    [LoggerMessage(EventId = 1500, EventName = "QueueListenerStarted", Level = LogLevel.Information,
        Message = "Function {FunctionName} listens to queue {QueueName} (batch size {BatchSize}, new batch threshold " +
            "{NewBatchThreshold}, max polling interval {MaxPollingInterval}, max dequeue count {MaxDequeueCount}, " +
            "encoding {MessageEncoding}, poison queue {PoisonQueueName})")]
    private static partial void LogStarted(ILogger logger, string functionName, string queueName, int batchSize,
        int newBatchThreshold, TimeSpan maxPollingInterval, int maxDequeueCount, QueueMessageBodyEncoding messageEncoding,
        string poisonQueueName);

    [LoggerMessage(EventId = 1501, EventName = "QueueListenerStopped", Level = LogLevel.Debug,
        Message = "Function {FunctionName} stopped listening to queue {QueueName}")]
    private static partial void LogStopped(ILogger logger, string functionName, string queueName);

    [LoggerMessage(EventId = 1502, EventName = "QueueMissing", Level = LogLevel.Debug,
        Message = "Queue {QueueName} of function {FunctionName} does not exist yet; polling it with back-off until it does")]
    private static partial void LogQueueMissing(ILogger logger, string functionName, string queueName);

    [LoggerMessage(EventId = 1503, EventName = "QueuePollFailed", Level = LogLevel.Warning,
        Message = "Polling queue {QueueName} for function {FunctionName} failed ({Reason}); retrying with back-off")]
    private static partial void LogPollFailed(ILogger logger, string functionName, string queueName, string reason);

    [LoggerMessage(EventId = 1504, EventName = "QueueBackoffReset", Level = LogLevel.Debug,
        Message = "Queue {QueueName} has {MessageCount} messages for function {FunctionName}; polling resumes without delay")]
    private static partial void LogBackoffReset(ILogger logger, string functionName, string queueName, int messageCount);

    [LoggerMessage(EventId = 1505, EventName = "QueueMessageMovedToPoison", Level = LogLevel.Warning,
        Message = "Moved message {MessageId} from queue {QueueName} to {PoisonQueueName} after {DequeueCount} dequeues " +
            "(max {MaxDequeueCount}) of function {FunctionName}")]
    private static partial void LogMovedToPoison(ILogger logger, string messageId, string queueName, string poisonQueueName,
        long dequeueCount, int maxDequeueCount, string functionName);

    [LoggerMessage(EventId = 1506, EventName = "QueueMessageNotBase64", Level = LogLevel.Warning,
        Message = "Message {MessageId} in queue {QueueName} is not valid base64, the messageEncoding host.json sets; " +
            "moving it to {PoisonQueueName} without invoking {FunctionName}")]
    private static partial void LogInvalidBase64(ILogger logger, string messageId, string queueName, string poisonQueueName,
        string functionName);

    [LoggerMessage(EventId = 1507, EventName = "QueueMessageBindingFailed", Level = LogLevel.Error,
        Message = "Function {FunctionName} was not invoked for message {MessageId} from queue {QueueName}: {Reason}")]
    private static partial void LogBindingFailed(ILogger logger, string functionName, string messageId, string queueName,
        string reason);

    [LoggerMessage(EventId = 1508, EventName = "QueueMessageRetryScheduled", Level = LogLevel.Information,
        Message = "Message {MessageId} from queue {QueueName} failed on dequeue {DequeueCount} of {MaxDequeueCount}; " +
            "it is visible again in {VisibilityTimeout}")]
    private static partial void LogRetryScheduled(ILogger logger, string messageId, string queueName, long dequeueCount,
        int maxDequeueCount, TimeSpan visibilityTimeout);

    [LoggerMessage(EventId = 1509, EventName = "QueueMessageLeftInvisible", Level = LogLevel.Warning,
        Message = "Message {MessageId} from queue {QueueName} failed and that queue has no poison queue; it stays " +
            "invisible for up to {Visibility} before its next attempt")]
    private static partial void LogLeftInvisible(ILogger logger, string messageId, string queueName, TimeSpan visibility);

    [LoggerMessage(EventId = 1510, EventName = "QueueVisibilityRenewalFailed", Level = LogLevel.Warning,
        Message = "Could not renew the visibility of message {MessageId} in queue {QueueName} ({Reason}); another " +
            "listener may receive it while the function still runs")]
    private static partial void LogRenewalFailed(ILogger logger, string messageId, string queueName, string reason);

    [LoggerMessage(EventId = 1511, EventName = "QueueMessageProcessingFailed", Level = LogLevel.Error,
        Message = "Handling message {MessageId} from queue {QueueName} for function {FunctionName} failed ({Reason}); " +
            "it comes back when its visibility timeout runs out")]
    private static partial void LogProcessingFailed(ILogger logger, string messageId, string queueName, string functionName,
        string reason);
}
