using AgentFunctions.DevHost.Functions.Protocol;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions;

/// <summary>Invokes functions over the worker channel and logs each invocation as the Functions host does.</summary>
internal sealed partial class FunctionInvoker(WorkerChannel channel, ILogger<FunctionInvoker> logger, TimeProvider timeProvider)
    : IFunctionInvoker
{
    public async Task<InvocationResult> InvokeAsync(LoadedFunction function, IReadOnlyList<ParameterBinding> inputData,
        IReadOnlyDictionary<string, TypedData> triggerMetadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(inputData);
        ArgumentNullException.ThrowIfNull(triggerMetadata);

        var invocationId = Guid.NewGuid().ToString();
        var request = RpcMessages.Invocation(invocationId, function.FunctionId, inputData, triggerMetadata);
        LogExecuting(logger, function.Name, invocationId);
        var started = timeProvider.GetTimestamp();

        InvocationResponse response;
        try
        {
            response = await channel.InvokeAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            LogAbandoned(logger, function.Name, invocationId);
            throw;
        }

        var result = new InvocationResult(function.Name, response);
        var milliseconds = (long)timeProvider.GetElapsedTime(started).TotalMilliseconds;
        switch (result.Status)
        {
            case InvocationStatus.Succeeded:
                LogSucceeded(logger, function.Name, invocationId, milliseconds);
                break;
            case InvocationStatus.Cancelled:
                LogCancelled(logger, function.Name, invocationId, milliseconds);
                break;
            default:
                // Exception type and message only: the stack trace stays in the worker's own log.
                LogFailed(logger, function.Name, invocationId, milliseconds, result.ExceptionType ?? "(no exception type)",
                    result.ExceptionMessage ?? string.Empty);
                break;
        }

        return result;
    }

    [LoggerMessage(EventId = 1020, EventName = "FunctionExecuting", Level = LogLevel.Information,
        Message = "Executing 'Functions.{FunctionName}' (Id={InvocationId})")]
    private static partial void LogExecuting(ILogger logger, string functionName, string invocationId);

    [LoggerMessage(EventId = 1021, EventName = "FunctionSucceeded", Level = LogLevel.Information,
        Message = "Executed 'Functions.{FunctionName}' (Succeeded, Id={InvocationId}, Duration={DurationMs}ms)")]
    private static partial void LogSucceeded(ILogger logger, string functionName, string invocationId, long durationMs);

    [LoggerMessage(EventId = 1022, EventName = "FunctionFailed", Level = LogLevel.Error,
        Message = "Executed 'Functions.{FunctionName}' (Failed, Id={InvocationId}, Duration={DurationMs}ms): " +
            "{ExceptionType}: {ExceptionMessage}")]
    private static partial void LogFailed(ILogger logger, string functionName, string invocationId, long durationMs,
        string exceptionType, string exceptionMessage);

    [LoggerMessage(EventId = 1023, EventName = "FunctionCancelled", Level = LogLevel.Warning,
        Message = "Executed 'Functions.{FunctionName}' (Cancelled, Id={InvocationId}, Duration={DurationMs}ms)")]
    private static partial void LogCancelled(ILogger logger, string functionName, string invocationId, long durationMs);

    [LoggerMessage(EventId = 1024, EventName = "FunctionAbandoned", Level = LogLevel.Information,
        Message = "Stopped waiting for 'Functions.{FunctionName}' (Id={InvocationId}): the caller cancelled; " +
            "sent InvocationCancel")]
    private static partial void LogAbandoned(ILogger logger, string functionName, string invocationId);
}
