using System.Text.Json.Serialization;

namespace AgentFunctions.Functions.Http;

internal sealed record InvokeAgentResponse(string Agent, string Output, int Steps, TokenUsage Usage);

internal sealed record TokenUsage(int PromptTokens, int CompletionTokens);

internal sealed record HealthResponse(string Status, string Authentication, long? KeyAgeSeconds);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(InvokeAgentResponse))]
[JsonSerializable(typeof(HealthResponse))]
internal sealed partial class HttpJsonContext : JsonSerializerContext;
