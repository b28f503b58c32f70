using System.Text.Json;
using AgentFunctions.Agents;
using AgentFunctions.Credentials;
using AgentFunctions.Model;
using Azure.Identity;
using AgentFunctions.Security;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.Runs;

/// <summary>What a step invocation sends on: the next step's message, or a message that had to be set aside, with why.</summary>
public sealed record RunStepResult(string? NextStepMessage, string? RejectedMessage)
{
    public static RunStepResult Nothing { get; } = new(null, null);
}

/// <summary>
/// Carries a run forward by exactly one step per queue message. Each step reads the run, runs one model call and its tool
/// calls, and commits the new state only if the run has not changed since it was read, so a message delivered twice, or
/// retried after a worker died mid-step, takes effect once. A message that cannot belong to any step is set aside with
/// its reason, never dropped.
/// </summary>
public sealed partial class RunStepProcessor(
    IRunStore store, AgentCatalog catalog, AgentRunner runner, SecretRedactor redactor, TimeProvider time,
    ILogger<RunStepProcessor> logger)
{
    private const int MaxReasonLength = 500;

    /// <param name="dequeueCount">How many times this message has been delivered, as the queue counts.</param>
    /// <param name="maxDequeueCount">The delivery after which a failing message goes to the poison queue.</param>
    public async Task<RunStepResult> ProcessAsync(string messageText, long dequeueCount, int maxDequeueCount,
        CancellationToken cancellationToken)
    {
        if (!TryParse(messageText, out var message, out string? problem))
        {
            LogMessageRejected(logger, redactor.Redact(problem));
            return Reject(messageText, problem);
        }

        var stored = await store.GetAsync(message.RunId, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            string reason = $"No run '{message.RunId}' exists.";
            LogMessageRejected(logger, redactor.Redact(reason));
            return Reject(messageText, reason);
        }

        var run = stored.Run;
        if (message.Step <= run.CompletedSteps)
        {
            // The step's state was committed but its worker may have died before the next message was sent: send it
            // again. Two copies of that message are harmless; none would stall the run.
            if (!run.IsFinished && message.Step == run.CompletedSteps)
            {
                LogDuplicateResent(logger, run.RunId, message.Step);
                return new RunStepResult(NextMessage(run.RunId, run.CompletedSteps + 1), null);
            }

            LogDuplicate(logger, run.RunId, message.Step, run.CompletedSteps, run.Status);
            return RunStepResult.Nothing;
        }

        // Finished or not, the app never sends a step beyond the one after the last completed step, nor any step after
        // a run completed (it completes by committing its last step), so such a message belongs to no step of this run.
        if (message.Step != run.CompletedSteps + 1 || run.Status == RunStatus.Completed)
        {
            string reason = $"Step {message.Step} of run '{run.RunId}' cannot run: the run has completed "
                + $"{run.CompletedSteps} steps and is {run.Status}.";
            LogMessageRejected(logger, redactor.Redact(reason));
            return Reject(messageText, reason);
        }

        if (run.IsFinished)
        {
            // Only the step that failed a run without committing (on its last delivery, or when its agent had left
            // the catalog) comes here from the app, delivered again or sent back from the poison queue. The end stands.
            LogStepAfterRunFinished(logger, run.RunId, message.Step, run.CompletedSteps, run.Status);
            return RunStepResult.Nothing;
        }

        if (!catalog.TryGet(run.Agent, out var agent))
        {
            await FailAsync(stored, $"Agent '{run.Agent}' is no longer in the catalog.", cancellationToken).ConfigureAwait(false);
            return RunStepResult.Nothing;
        }

        AgentStepOutcome outcome;
        try
        {
            outcome = await runner.ExecuteStepAsync(agent, run.Conversation, message.Step, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            string error = DescribeForCaller(exception);
            string detail = DescribeForOperator(exception);
            bool lastAttempt = dequeueCount >= maxDequeueCount;
            LogStepFailed(logger, run.RunId, message.Step, dequeueCount, maxDequeueCount, detail);
            // Thrown either way, so the queue retries it or, after the last attempt, moves it to the poison queue; the
            // run records why, and on the last attempt that it failed.
            await RecordFailureAsync(stored, error, lastAttempt, message.Step, dequeueCount, cancellationToken).ConfigureAwait(false);
            throw new RunStepFailedException($"Run {run.RunId} step {message.Step} failed on delivery {dequeueCount}: {detail}");
        }

        var next = Advance(run, agent, message.Step, outcome);
        if (!await store.TryReplaceAsync(next, stored.ETag, cancellationToken).ConfigureAwait(false))
        {
            // Another delivery of this message committed first; its result stands and it sends the next step.
            LogLostRace(logger, run.RunId, message.Step);
            return RunStepResult.Nothing;
        }

        LogStepCommitted(logger, run.RunId, message.Step, next.Status);
        return next.Status == RunStatus.Running ? new RunStepResult(NextMessage(run.RunId, message.Step + 1), null) : RunStepResult.Nothing;
    }

    public static string NextMessage(string runId, int step) =>
        JsonSerializer.Serialize(new RunStepMessage(runId, step), RunJsonContext.Default.RunStepMessage);

    private AgentRun Advance(AgentRun run, AgentDefinition agent, int step, AgentStepOutcome outcome)
    {
        var now = time.GetUtcNow();
        var newMessages = outcome.NewMessages.Select(Redact).ToList();
        var conversation = run.Conversation.Concat(newMessages).ToList();
        var toolsCalled = newMessages.SelectMany(m => m.ToolCalls ?? []).Select(call => call.Name).ToList();
        var steps = run.Steps.Append(new RunStepRecord(step, now, toolsCalled, outcome.Answer is not null)).ToList();
        var advanced = run with
        {
            CompletedSteps = step,
            Conversation = conversation,
            Steps = steps,
            UpdatedAt = now,
            LastError = null,
            PromptTokens = run.PromptTokens + outcome.PromptTokens,
            CompletionTokens = run.CompletionTokens + outcome.CompletionTokens,
        };

        if (outcome.Answer is { } answer)
        {
            return advanced with { Status = RunStatus.Completed, Output = redactor.Redact(answer) };
        }

        return step >= Math.Min(run.MaxSteps, agent.MaxSteps)
            ? advanced with { Status = RunStatus.Failed, FailureReason = $"The agent did not answer within its limit of {step} model calls." }
            : advanced with { Status = RunStatus.Running };
    }

    // Every text of a step's messages is the model's choice or a tool's answer to it, so each can repeat a key: content,
    // and a tool call's name, arguments and id. The id of a call and of the tool message answering it pass the same filter,
    // so they still pair up when the stored conversation goes back to the model on the next step; names and ids get a
    // replacement Azure OpenAI accepts in them, so that next step is not refused.
    private ConversationMessage Redact(ConversationMessage message) => message with
    {
        Content = message.Content is null ? null : redactor.Redact(message.Content),
        ToolCalls = message.ToolCalls?
            .Select(call => new ToolCallRecord(
                redactor.RedactIdentifier(call.Id), redactor.RedactIdentifier(call.Name), redactor.RedactJson(call.Arguments)))
            .ToList(),
        ToolCallId = message.ToolCallId is null ? null : redactor.RedactIdentifier(message.ToolCallId),
    };

    private async Task RecordFailureAsync(StoredRun stored, string error, bool lastAttempt, int step, long dequeueCount,
        CancellationToken cancellationToken)
    {
        var run = stored.Run with { LastError = error, UpdatedAt = time.GetUtcNow() };
        if (lastAttempt)
        {
            run = run with
            {
                Status = RunStatus.Failed,
                FailureReason = $"Step {step} failed {dequeueCount} times and its message was moved to the poison queue. Last error: {error}",
            };
        }

        // Best effort: if another delivery moved the run on meanwhile, its state is the truth and this note is moot.
        await store.TryReplaceAsync(run, stored.ETag, cancellationToken).ConfigureAwait(false);
    }

    private async Task FailAsync(StoredRun stored, string reason, CancellationToken cancellationToken)
    {
        var failed = stored.Run with { Status = RunStatus.Failed, FailureReason = reason, UpdatedAt = time.GetUtcNow() };
        await store.TryReplaceAsync(failed, stored.ETag, cancellationToken).ConfigureAwait(false);
        LogRunFailed(logger, stored.Run.RunId, reason);
    }

    // What the run's reader may see: run state is returned by GET /api/runs/{id}, so it gets the same fixed, caller-safe
    // descriptions as HTTP errors (no vault address, no service text). The operator's detail is in the StepFailed log.
    private static string DescribeForCaller(Exception exception) => exception switch
    {
        KeyUnavailableException => "The app could not read its Azure OpenAI key from Key Vault.",
        KeyRejectedException => "Azure OpenAI rejected the app's key and no newer key was available.",
        AuthenticationFailedException => "The app could not get a token for its identity.",
        ModelCallException { Status: 429 } => "Azure OpenAI was throttling requests.",
        ModelCallException { IsTransient: true } => "Azure OpenAI failed or could not be reached.",
        ModelCallException model => $"Azure OpenAI refused the request ({model.Status}).",
        _ => $"The step failed unexpectedly ({exception.GetType().Name}).",
    };

    private string DescribeForOperator(Exception exception)
    {
        string text = redactor.Redact($"{exception.GetType().Name}: {exception.Message}");
        return text.Length <= MaxReasonLength ? text : string.Concat(text.AsSpan(0, MaxReasonLength), "…");
    }

    // Whoever can write to the queue chose the message text, and the reason may quote it; both pass the key filter before
    // they are kept.
    private RunStepResult Reject(string messageText, string reason) =>
        new(null, JsonSerializer.Serialize(
            new RejectedStepMessage(redactor.Redact(reason), redactor.Redact(messageText), time.GetUtcNow()),
            RejectedJsonContext.Default.RejectedStepMessage));

    private static bool TryParse(string text, out RunStepMessage message, out string problem)
    {
        message = null!;
        try
        {
            var parsed = JsonSerializer.Deserialize(text, RunJsonContext.Default.RunStepMessage);
            if (parsed is null || string.IsNullOrWhiteSpace(parsed.RunId) || parsed.Step < 1)
            {
                problem = "The message is JSON but lacks a runId or a step of 1 or more.";
                return false;
            }

            if (!RunIds.IsValid(parsed.RunId))
            {
                problem = $"The runId is not a valid run id: run ids are 1 to {RunIds.MaxLength} letters, digits or dashes.";
                return false;
            }

            message = parsed;
            problem = string.Empty;
            return true;
        }
        catch (JsonException)
        {
            problem = "The message is not JSON of the form {\"runId\": \"...\", \"step\": n}.";
            return false;
        }
    }

    [LoggerMessage(EventId = 1500, EventName = "StepMessageRejected", Level = LogLevel.Warning,
        Message = "A run step message was set aside in the rejected queue: {Reason}")]
    private static partial void LogMessageRejected(ILogger logger, string reason);

    [LoggerMessage(EventId = 1501, EventName = "StepDuplicate", Level = LogLevel.Information,
        Message = "Run {RunId} step {Step} was delivered again; the run has completed {CompletedSteps} steps and is {Status}, so nothing changes.")]
    private static partial void LogDuplicate(ILogger logger, string runId, int step, int completedSteps, RunStatus status);

    [LoggerMessage(EventId = 1502, EventName = "StepFailed", Level = LogLevel.Warning,
        Message = "Run {RunId} step {Step} failed on delivery {DequeueCount} of {MaxDequeueCount}: {Error}")]
    private static partial void LogStepFailed(ILogger logger, string runId, int step, long dequeueCount, int maxDequeueCount, string error);

    [LoggerMessage(EventId = 1503, EventName = "StepLostRace", Level = LogLevel.Information,
        Message = "Run {RunId} step {Step} was committed by another delivery first; this result is dropped.")]
    private static partial void LogLostRace(ILogger logger, string runId, int step);

    [LoggerMessage(EventId = 1504, EventName = "StepCommitted", Level = LogLevel.Information,
        Message = "Run {RunId} step {Step} committed; the run is {Status}.")]
    private static partial void LogStepCommitted(ILogger logger, string runId, int step, RunStatus status);

    [LoggerMessage(EventId = 1505, EventName = "RunFailed", Level = LogLevel.Warning, Message = "Run {RunId} failed: {Reason}")]
    private static partial void LogRunFailed(ILogger logger, string runId, string reason);

    [LoggerMessage(EventId = 1507, EventName = "StepDuplicateResent", Level = LogLevel.Information,
        Message = "Run {RunId} step {Step} was delivered again after it committed; its result stands and the next " +
            "step's message is sent again in case the first send was lost.")]
    private static partial void LogDuplicateResent(ILogger logger, string runId, int step);

    [LoggerMessage(EventId = 1506, EventName = "StepAfterRunFinished", Level = LogLevel.Information,
        Message = "Run {RunId} step {Step} arrived after the run finished: it is {Status} after {CompletedSteps} steps, so nothing changes.")]
    private static partial void LogStepAfterRunFinished(ILogger logger, string runId, int step, int completedSteps, RunStatus status);
}

/// <summary>A step message that belongs to no step, kept with the reason in the rejected queue for an operator.</summary>
public sealed record RejectedStepMessage(string Reason, string Message, DateTimeOffset RejectedAt);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RejectedStepMessage))]
internal sealed partial class RejectedJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
