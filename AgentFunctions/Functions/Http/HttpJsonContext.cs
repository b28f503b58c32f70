using System.Text.Json.Serialization;

namespace AgentFunctions.Functions.Http;

internal sealed record InvokeAgentResponse(string Agent, string Output, int Steps, TokenUsage Usage);

internal sealed record TokenUsage(int PromptTokens, int CompletionTokens);

internal sealed record HealthResponse(string Status, string Authentication, long? KeyAgeSeconds);

internal sealed record RunAcceptedResponse(string RunId, string Status);

internal sealed record RunStepResponse(int Step, DateTimeOffset CompletedAt, IReadOnlyList<string> ToolsCalled, bool Answered);

/// <summary>
/// A run as <c>GET /api/runs/{runId}</c> shows it. <see cref="LastError"/> says why the last delivery of a step failed, while
/// the queue retries it; a step that commits clears it.
/// </summary>
internal sealed record RunStatusResponse(string RunId, string Agent, string Status, string Trigger, DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt, IReadOnlyList<RunStepResponse> Steps, string? Output, string? Reason, string? LastError, TokenUsage Usage);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(InvokeAgentResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(RunAcceptedResponse))]
[JsonSerializable(typeof(RunStatusResponse))]
internal sealed partial class HttpJsonContext : JsonSerializerContext;
