using System.Net;
using System.Text.Json;
using AgentFunctions.Agents;
using AgentFunctions.Configuration;
using AgentFunctions.Functions.Http;
using AgentFunctions.Runs;
using AgentFunctions.Security;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;
using Microsoft.Extensions.Options;

namespace AgentFunctions.Functions.Runs;

/// <summary>What starting a run sends: the 202 answer and the first step's message.</summary>
public sealed class StartRunOutput
{
    public required HttpResponseData Response { get; init; }

    [QueueOutput(RunQueues.Steps)]
    public string? FirstStep { get; init; }
}

/// <summary>
/// <c>POST /api/agents/{agent}/runs</c> with <c>{"input": "..."}</c>: stores a queued run and enqueues its first step,
/// answering 202 with the run id and where to ask for its status.
/// </summary>
public sealed class StartRunFunction(
    AgentCatalog catalog, IRunStore store, TimeProvider time, IOptions<AgentsOptions> options, SecretRedactor redactor)
{
    [Function("StartRun")]
    public async Task<StartRunOutput> RunAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "agents/{agent}/runs")] HttpRequestData request,
        string agent,
        FunctionContext context)
    {
        // From the context, not a parameter: a parameter is bound by name, and a JSON body field of the same name would
        // be offered to it.
        var cancellationToken = context.CancellationToken;
        ArgumentNullException.ThrowIfNull(request);
        if (!catalog.TryGet(agent, out var definition))
        {
            return new StartRunOutput
            {
                Response = await Problems.WriteUnknownAgentAsync(request, agent, catalog).ConfigureAwait(false),
            };
        }

        var parsed = await AgentInput.ReadAsync(request, options.Value, cancellationToken).ConfigureAwait(false);
        if (parsed.Problem is { } problem)
        {
            return new StartRunOutput { Response = await problem.WriteAsync(request).ConfigureAwait(false) };
        }

        // The input is kept in run state, which must hold no key even if a caller pasted one.
        var run = AgentRun.Create(Guid.NewGuid().ToString("N"), definition, redactor.Redact(parsed.Input!), "http", time.GetUtcNow());
        try
        {
            await store.TryCreateAsync(run, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (RunStoreFailures.IsStorageFailure(exception))
        {
            return new StartRunOutput { Response = await RunStoreFailures.WriteAsync(request).ConfigureAwait(false) };
        }

        var response = request.CreateResponse(HttpStatusCode.Accepted);
        response.Headers.Add("Content-Type", "application/json; charset=utf-8");
        response.Headers.Add("Location", $"/api/runs/{run.RunId}");
        await response.WriteBytesAsync(JsonSerializer.SerializeToUtf8Bytes(
            new RunAcceptedResponse(run.RunId, "queued"), HttpJsonContext.Default.RunAcceptedResponse), cancellationToken).ConfigureAwait(false);

        // If the host cannot enqueue this after the function returns, the caller gets a 500 and the run stays visibly
        // queued: nothing is dropped without the caller being told.
        return new StartRunOutput { Response = response, FirstStep = RunStepProcessor.NextMessage(run.RunId, 1) };
    }
}
