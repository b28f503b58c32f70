using System.Text.Json.Serialization;
using AgentFunctions.Agents;

namespace AgentFunctions.Runs;

[JsonConverter(typeof(JsonStringEnumConverter<RunStatus>))]
public enum RunStatus
{
    Queued,
    Running,
    Completed,
    Failed,
}

/// <summary>What one completed step did, for the status endpoint: which tools it called and whether it answered.</summary>
public sealed record RunStepRecord(int Step, DateTimeOffset CompletedAt, IReadOnlyList<string> ToolsCalled, bool Answered);

/// <summary>
/// A run's whole state, stored as one document and replaced whole on every step under optimistic concurrency. Model
/// content in it has passed the key filter, so the document holds no secret.
/// </summary>
public sealed record AgentRun(
    string RunId,
    string Agent,
    string Trigger,
    RunStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int CompletedSteps,
    int MaxSteps,
    IReadOnlyList<ConversationMessage> Conversation,
    IReadOnlyList<RunStepRecord> Steps,
    string? Output,
    string? FailureReason,
    string? LastError,
    int PromptTokens,
    int CompletionTokens)
{
    public bool IsFinished => Status is RunStatus.Completed or RunStatus.Failed;

    public static AgentRun Create(string runId, AgentDefinition agent, string input, string trigger, DateTimeOffset now) =>
        new(runId, agent.Name, trigger, RunStatus.Queued, now, now, 0, agent.MaxSteps, ConversationMessage.Start(agent, input), [],
            null, null, null, 0, 0);
}

/// <summary>The queue message for one step: which run, which step. Nothing else travels in the queue.</summary>
public sealed record RunStepMessage(string RunId, int Step);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AgentRun))]
[JsonSerializable(typeof(RunStepMessage))]
internal sealed partial class RunJsonContext : JsonSerializerContext;
