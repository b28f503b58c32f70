using System.Net;
using System.Text.Json;

namespace AgentFunctions.Tests.EndToEnd;

internal static class ProblemAssertions
{
    /// <summary>The answer is an RFC 9457 problem document with this status and code, and a detail for the caller.</summary>
    public static void AssertProblem(HttpResponseMessage response, string body, HttpStatusCode status, string code)
    {
        response.StatusCode.Should().Be(status);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        using var json = JsonDocument.Parse(body);
        json.RootElement.GetProperty("status").GetInt32().Should().Be((int)status);
        json.RootElement.GetProperty("code").GetString().Should().Be(code);
        json.RootElement.GetProperty("detail").GetString().Should().NotBeNullOrWhiteSpace();
    }
}
