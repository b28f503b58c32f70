using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions.Protocol;

/// <summary>
/// The host's end of one worker's EventStream: accepts the stream the worker opens, sends requests through a single
/// writer, and pairs each response with its request by function id or invocation id, because the worker handles every
/// message on its own task and answers in any order. Timeouts are the caller's business.
/// </summary>
internal sealed partial class WorkerChannel
{
    private readonly ILogger<WorkerChannel> _logger;
    private readonly RpcLogForwarder _rpcLogs;
    private readonly Channel<StreamingMessage> _outbound =
        Channel.CreateUnbounded<StreamingMessage>(new UnboundedChannelOptions { SingleReader = true });

    private readonly TaskCompletionSource _connected = NewPending();
    private readonly TaskCompletionSource _disconnected = NewPending();
    private readonly TaskCompletionSource<WorkerInitResponse> _initResponse = NewPending<WorkerInitResponse>();
    private readonly TaskCompletionSource<FunctionMetadataResponse> _metadataResponse = NewPending<FunctionMetadataResponse>();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<FunctionLoadResponse>> _loads =
        new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<InvocationResponse>> _invocations =
        new(StringComparer.Ordinal);

    private int _streamAccepted;

    public WorkerChannel(string workerId, RpcLogForwarder rpcLogs, ILogger<WorkerChannel> logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        WorkerId = workerId;
        _rpcLogs = rpcLogs;
        _logger = logger;
    }

    /// <summary>The id given to the worker on its command line, which it must echo in StartStream.</summary>
    public string WorkerId { get; }

    /// <summary>Completes when the worker has opened its stream with the expected StartStream.</summary>
    public Task Connected => _connected.Task;

    /// <summary>Completes when the worker's stream has ended, for whatever reason.</summary>
    public Task Disconnected => _disconnected.Task;

    /// <summary>Serves one EventStream call for as long as it lasts.</summary>
    public async Task RunStreamAsync(IAsyncStreamReader<StreamingMessage> requests,
        IServerStreamWriter<StreamingMessage> responses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(responses);

        if (!await requests.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var first = requests.Current;
        if (first.ContentCase != StreamingMessage.ContentOneofCase.StartStream
            || !string.Equals(first.StartStream.WorkerId, WorkerId, StringComparison.Ordinal))
        {
            LogUnexpectedStreamStart(_logger, first.ContentCase);
            return;
        }

        if (Interlocked.Exchange(ref _streamAccepted, 1) != 0)
        {
            LogSecondStreamRejected(_logger, WorkerId);
            return;
        }

        LogStreamOpened(_logger, WorkerId);
        _connected.TrySetResult();

        // Either loop ending ends the stream: a failed write cancels the read, so pending requests fail at once.
        using var streamEnding = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writing = WriteLoopAsync(responses, streamEnding);
        try
        {
            while (await requests.MoveNext(streamEnding.Token).ConfigureAwait(false))
            {
                Dispatch(requests.Current);
            }
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or Grpc.Core.RpcException)
        {
            var exceptionType = exception.GetType().Name;
            LogStreamBroken(_logger, WorkerId, exceptionType);
        }
        finally
        {
            _outbound.Writer.TryComplete();
            await streamEnding.CancelAsync().ConfigureAwait(false);
            await writing.ConfigureAwait(false);
            OnDisconnected();
        }
    }

    public Task<WorkerInitResponse> InitializeAsync(string appDirectory, CancellationToken cancellationToken)
    {
        Send(RpcMessages.WorkerInit(appDirectory));
        return _initResponse.Task.WaitAsync(cancellationToken);
    }

    public Task<FunctionMetadataResponse> GetFunctionMetadataAsync(string appDirectory, CancellationToken cancellationToken)
    {
        Send(RpcMessages.FunctionsMetadata(appDirectory));
        return _metadataResponse.Task.WaitAsync(cancellationToken);
    }

    public Task<FunctionLoadResponse> LoadFunctionAsync(RpcFunctionMetadata metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);

        var pending = NewPending<FunctionLoadResponse>();
        if (!_loads.TryAdd(metadata.FunctionId, pending))
        {
            throw new InvalidOperationException(
                $"Function id '{metadata.FunctionId}' ({metadata.Name}) is being loaded already.");
        }

        Send(RpcMessages.FunctionLoad(metadata));
        return pending.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Sends the invocation and waits for its response. Cancelling sends InvocationCancel and stops waiting; a response
    /// that still arrives later is dropped.
    /// </summary>
    public async Task<InvocationResponse> InvokeAsync(InvocationRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);

        var pending = NewPending<InvocationResponse>();
        if (!_invocations.TryAdd(request.InvocationId, pending))
        {
            throw new InvalidOperationException($"Invocation id '{request.InvocationId}' is in flight already.");
        }

        try
        {
            Send(RpcMessages.Wrap(request));
            return await pending.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _outbound.Writer.TryWrite(RpcMessages.InvocationCancel(request.InvocationId));
            throw;
        }
        finally
        {
            _invocations.TryRemove(request.InvocationId, out _);
        }
    }

    /// <summary>Asks the worker to stop within the grace period; false when the stream is not open.</summary>
    public bool RequestTerminate(TimeSpan gracePeriod) =>
        _connected.Task.IsCompleted && _outbound.Writer.TryWrite(RpcMessages.WorkerTerminate(gracePeriod));

    private void Send(StreamingMessage message)
    {
        if (!_connected.Task.IsCompleted)
        {
            throw new InvalidOperationException("The worker has not opened its gRPC stream yet.");
        }

        if (!_outbound.Writer.TryWrite(message))
        {
            throw new FunctionsHostException("The worker's gRPC stream has closed; the worker is no longer running.");
        }
    }

    private async Task WriteLoopAsync(IServerStreamWriter<StreamingMessage> responses, CancellationTokenSource streamEnding)
    {
        try
        {
            await foreach (var message in _outbound.Reader.ReadAllAsync(streamEnding.Token).ConfigureAwait(false))
            {
                // No token: not every stream writer supports cancelling a write, and a write ends once the stream does.
                await responses.WriteAsync(message).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (streamEnding.IsCancellationRequested)
        {
            // The read side ended the stream.
        }
#pragma warning disable CA1031 // Whatever breaks the write side, the stream is over; the read side reports it.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            var exceptionType = exception.GetType().Name;
            LogWriteFailed(_logger, WorkerId, exceptionType);
            await streamEnding.CancelAsync().ConfigureAwait(false);
        }
    }

    private void Dispatch(StreamingMessage message)
    {
        switch (message.ContentCase)
        {
            case StreamingMessage.ContentOneofCase.RpcLog:
                _rpcLogs.Forward(message.RpcLog);
                break;
            case StreamingMessage.ContentOneofCase.WorkerInitResponse:
                _initResponse.TrySetResult(message.WorkerInitResponse);
                break;
            case StreamingMessage.ContentOneofCase.FunctionMetadataResponse:
                _metadataResponse.TrySetResult(message.FunctionMetadataResponse);
                break;
            case StreamingMessage.ContentOneofCase.FunctionLoadResponse:
                var load = message.FunctionLoadResponse;
                if (_loads.TryRemove(load.FunctionId, out var pendingLoad))
                {
                    pendingLoad.TrySetResult(load);
                }
                else
                {
                    LogUnmatchedResponse(_logger, nameof(FunctionLoadResponse), load.FunctionId);
                }

                break;
            case StreamingMessage.ContentOneofCase.InvocationResponse:
                var invocation = message.InvocationResponse;
                if (_invocations.TryGetValue(invocation.InvocationId, out var pendingInvocation))
                {
                    pendingInvocation.TrySetResult(invocation);
                }
                else
                {
                    // Normal after the caller gave up waiting (cancelled request).
                    LogUnmatchedResponse(_logger, nameof(InvocationResponse), invocation.InvocationId);
                }

                break;
            case StreamingMessage.ContentOneofCase.None:
                // The worker acknowledges WorkerTerminate and InvocationCancel with a message that has no content.
                break;
            case StreamingMessage.ContentOneofCase.WorkerStatusResponse:
                break;
            default:
                LogIgnoredMessage(_logger, message.ContentCase);
                break;
        }
    }

    private void OnDisconnected()
    {
        // The writer is completed before anything pending is failed, so a request racing with this either fails to
        // send or is failed here: none waits forever.
        _outbound.Writer.TryComplete();
        LogStreamClosed(_logger, WorkerId);
        _disconnected.TrySetResult();

        var closed = new FunctionsHostException("The worker's gRPC stream has closed; the worker is no longer running.");
        _initResponse.TrySetException(closed);
        _metadataResponse.TrySetException(closed);
        foreach (var pending in _loads.Values)
        {
            pending.TrySetException(closed);
        }

        foreach (var pending in _invocations.Values)
        {
            pending.TrySetException(closed);
        }
    }

    private static TaskCompletionSource NewPending() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static TaskCompletionSource<T> NewPending<T>() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(EventId = 1200, EventName = "WorkerStreamOpened", Level = LogLevel.Debug,
        Message = "Worker {WorkerId} opened its gRPC stream")]
    private static partial void LogStreamOpened(ILogger logger, string workerId);

    [LoggerMessage(EventId = 1201, EventName = "WorkerStreamClosed", Level = LogLevel.Debug,
        Message = "Worker {WorkerId} closed its gRPC stream")]
    private static partial void LogStreamClosed(ILogger logger, string workerId);

    [LoggerMessage(EventId = 1202, EventName = "WorkerStreamBroken", Level = LogLevel.Debug,
        Message = "The gRPC stream of worker {WorkerId} ended abruptly ({ExceptionType})")]
    private static partial void LogStreamBroken(ILogger logger, string workerId, string exceptionType);

    [LoggerMessage(EventId = 1207, EventName = "WorkerStreamWriteFailed", Level = LogLevel.Warning,
        Message = "Could not write to the gRPC stream of worker {WorkerId} ({ExceptionType}); closing it")]
    private static partial void LogWriteFailed(ILogger logger, string workerId, string exceptionType);

    [LoggerMessage(EventId = 1203, EventName = "UnexpectedStreamStart", Level = LogLevel.Warning,
        Message = "Rejected a gRPC stream that did not start with this host's StartStream (first message: {ContentCase})")]
    private static partial void LogUnexpectedStreamStart(ILogger logger, StreamingMessage.ContentOneofCase contentCase);

    [LoggerMessage(EventId = 1204, EventName = "SecondStreamRejected", Level = LogLevel.Warning,
        Message = "Rejected a second gRPC stream from worker {WorkerId}")]
    private static partial void LogSecondStreamRejected(ILogger logger, string workerId);

    [LoggerMessage(EventId = 1205, EventName = "UnmatchedResponse", Level = LogLevel.Debug,
        Message = "Dropped a {MessageType} for {Id}: nothing is waiting for it")]
    private static partial void LogUnmatchedResponse(ILogger logger, string messageType, string id);

    [LoggerMessage(EventId = 1206, EventName = "IgnoredMessage", Level = LogLevel.Debug,
        Message = "Ignored a {ContentCase} message from the worker")]
    private static partial void LogIgnoredMessage(ILogger logger, StreamingMessage.ContentOneofCase contentCase);
}
