using AgentFunctions.Runs;
using Microsoft.Azure.Functions.Worker;

namespace AgentFunctions.Functions.Runs;

/// <summary>What one step invocation sends on.</summary>
public sealed class RunStepOutput
{
    [QueueOutput(RunQueues.Steps)]
    public string? NextStep { get; init; }

    [QueueOutput(RunQueues.Rejected)]
    public string? Rejected { get; init; }
}

/// <summary>
/// One agent step per queue message: reads the key through the same credential layer as every invocation, runs one model
/// call and its tool calls, commits, and enqueues the next step. A failure is retried by the queue; on the last delivery
/// the run is marked failed and the host moves the message to the poison queue.
/// </summary>
public sealed class RunStepFunction(RunStepProcessor processor, RunPipelineSettings settings)
{
    [Function("RunStep")]
    public async Task<RunStepOutput> RunAsync(
        [QueueTrigger(RunQueues.Steps)] string message,
        long dequeueCount,
        CancellationToken cancellationToken)
    {
        var result = await processor.ProcessAsync(message, dequeueCount, settings.MaxDequeueCount, cancellationToken).ConfigureAwait(false);
        return new RunStepOutput { NextStep = result.NextStepMessage, Rejected = result.RejectedMessage };
    }
}

/// <summary>The queue rules the app must agree with the host on.</summary>
public sealed record RunPipelineSettings(int MaxDequeueCount);
