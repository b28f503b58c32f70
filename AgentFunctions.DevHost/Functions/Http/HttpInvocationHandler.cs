using AgentFunctions.DevHost.Functions.Protocol;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions.Http;

/// <summary>
/// Runs one HTTP request through the worker: reads the body within the limit, builds the invocation, maps the answer.
/// Function keys are NOT checked: like Core Tools, the local host serves every HTTP function whatever its authLevel.
/// Keys are enforced only by the Functions host in Azure.
/// </summary>
internal sealed partial class HttpInvocationHandler(IFunctionInvoker invoker, long maxRequestBodySize,
    ILogger<HttpInvocationHandler> logger)
{
    public async Task HandleAsync(HttpContext context, LoadedFunction function)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(function);

        // A function's own 404 or 405 must reach the client as the function wrote it, not as a routing problem document.
        if (context.Features.Get<IStatusCodePagesFeature>() is { } statusCodePages)
        {
            statusCodePages.Enabled = false;
        }

        var aborted = context.RequestAborted;
        var body = await RequestBodyReader.ReadAsync(context.Request, maxRequestBodySize, aborted).ConfigureAwait(false);
        if (body.IsTooLarge)
        {
            LogBodyTooLarge(logger, function.Name, maxRequestBodySize);
            await ProblemResponse.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "Request body too large",
                $"The local host accepts request bodies of at most {maxRequestBodySize} bytes.").ConfigureAwait(false);
            return;
        }

        var trigger = function.Trigger
            ?? throw new InvalidOperationException($"Function '{function.Name}' is routed as HTTP but has no trigger binding.");
        var input = RpcHttpRequestMapper.Map(context.Request, body.Content, trigger.Name);

        InvocationResult result;
        try
        {
            result = await invoker.InvokeAsync(function, [input.Trigger], input.TriggerMetadata, aborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away; the invoker has told the worker to cancel.
            return;
        }
        catch (FunctionsHostException exception)
        {
            LogWorkerUnavailable(logger, function.Name, exception.Message);
            await ProblemResponse.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Worker unavailable",
                "The function app's worker process is not running. Restart the local host.").ConfigureAwait(false);
            return;
        }

        await RpcHttpResponseMapper.WriteAsync(context, function, result).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1300, EventName = "RequestBodyTooLarge", Level = LogLevel.Information,
        Message = "Refused a request to function {FunctionName}: its body exceeds {MaxBytes} bytes")]
    private static partial void LogBodyTooLarge(ILogger logger, string functionName, long maxBytes);

    [LoggerMessage(EventId = 1301, EventName = "WorkerUnavailable", Level = LogLevel.Error,
        Message = "Could not invoke function {FunctionName}: {Reason}")]
    private static partial void LogWorkerUnavailable(ILogger logger, string functionName, string reason);
}
