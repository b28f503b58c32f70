using System.Net;
using System.Text.Json;
using AgentFunctions.Functions.Http;
using AgentFunctions.Runs;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace AgentFunctions.Functions.Runs;

/// <summary><c>GET /api/runs/{runId}</c>: the run's status, its steps so far, the output when done, the reason when failed.</summary>
public sealed class GetRunFunction(IRunStore store)
{
    [Function("GetRun")]
    public async Task<HttpResponseData> RunAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "runs/{runId}")] HttpRequestData request,
        string runId,
        FunctionContext context)
    {
        // From the context, not a parameter: a parameter is bound by name, and a JSON body field of the same name would
        // be offered to it.
        var cancellationToken = context.CancellationToken;
        ArgumentNullException.ThrowIfNull(request);
        StoredRun? stored;
        try
        {
            stored = RunIds.IsValid(runId) ? await store.GetAsync(runId, cancellationToken).ConfigureAwait(false) : null;
        }
        catch (Exception exception) when (RunStoreFailures.IsStorageFailure(exception))
        {
            return await RunStoreFailures.WriteAsync(request).ConfigureAwait(false);
        }

        if (stored is null)
        {
            return await Problems.WriteAsync(request, HttpStatusCode.NotFound, "unknown-run", "Unknown run",
                $"No run '{AgentInput.Truncate(runId)}' exists.").ConfigureAwait(false);
        }

        var body = ToStatusResponse(stored.Run);
        var response = request.CreateResponse(HttpStatusCode.OK);
        response.Headers.Add("Content-Type", "application/json; charset=utf-8");
        response.Headers.Add("Cache-Control", "no-store");
        await response.WriteBytesAsync(JsonSerializer.SerializeToUtf8Bytes(body, HttpJsonContext.Default.RunStatusResponse), cancellationToken)
            .ConfigureAwait(false);
        return response;
    }

    // Run state holds only caller-safe text (model text has passed the key filter, errors are the app's fixed
    // descriptions), so every field can be shown; the conversation itself is not.
    internal static RunStatusResponse ToStatusResponse(AgentRun run) =>
        new(run.RunId, run.Agent, run.Status.ToString().ToLowerInvariant(), run.Trigger, run.CreatedAt, run.UpdatedAt,
            run.Steps.Select(s => new RunStepResponse(s.Step, s.CompletedAt, s.ToolsCalled, s.Answered)).ToList(),
            run.Output, run.FailureReason, run.LastError, new TokenUsage(run.PromptTokens, run.CompletionTokens));
}
