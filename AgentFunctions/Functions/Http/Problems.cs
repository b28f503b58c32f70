using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using AgentFunctions.Agents;
using Microsoft.Azure.Functions.Worker.Http;

namespace AgentFunctions.Functions.Http;

/// <summary>
/// RFC 9457 problem details. <c>code</c> is a stable, machine-readable name for the failure; <c>detail</c> is written by
/// this app for the caller and never carries service text, configuration or secrets.
/// </summary>
internal sealed record ProblemDetails(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("status")] int Status,
    [property: JsonPropertyName("detail")] string Detail,
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("retryAfterSeconds")] int? RetryAfterSeconds);

internal static class Problems
{
    public const string ContentType = "application/problem+json";

    public static async Task<HttpResponseData> WriteAsync(HttpRequestData request, HttpStatusCode status, string code, string title,
        string detail, TimeSpan? retryAfter = null)
    {
        int? retryAfterSeconds = retryAfter is { } delay ? Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds)) : null;
        var response = request.CreateResponse(status);
        response.Headers.Add("Content-Type", ContentType);
        if (retryAfterSeconds is { } seconds)
        {
            response.Headers.Add("Retry-After", seconds.ToString(CultureInfo.InvariantCulture));
        }

        var problem = new ProblemDetails($"urn:agentfunctions:problem:{code}", title, (int)status, detail, code, retryAfterSeconds);
        await response.WriteBytesAsync(JsonSerializer.SerializeToUtf8Bytes(problem, HttpJsonContext.Default.ProblemDetails))
            .ConfigureAwait(false);
        return response;
    }

    /// <summary>The 404 for an agent the catalog does not hold, naming the agents it does so the caller can fix the URL.</summary>
    public static Task<HttpResponseData> WriteUnknownAgentAsync(HttpRequestData request, string agent, AgentCatalog catalog) =>
        WriteAsync(request, HttpStatusCode.NotFound, "unknown-agent", "Unknown agent",
            $"No agent named '{AgentInput.Truncate(agent)}' exists. Agents: "
            + $"{string.Join(", ", catalog.Agents.Select(a => a.Name).Order(StringComparer.Ordinal))}.");
}
