using System.Net;
using System.Text.Json;
using AgentFunctions.Credentials;
using AgentFunctions.Functions.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace AgentFunctions.Functions;

/// <summary>
/// <c>GET /api/health</c>, anonymous: whether the app can get its credential for Azure OpenAI. It answers with the state
/// and the key's age only: no version, no vault name, nothing an anonymous caller could use.
/// </summary>
public sealed class HealthFunction(CredentialHealth health)
{
    [Function("Health")]
    public async Task<HttpResponseData> RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequestData request,
        FunctionContext context)
    {
        // From the context, not a parameter: a parameter is bound by name, and a JSON body field of the same name would
        // be offered to it.
        var cancellationToken = context.CancellationToken;
        ArgumentNullException.ThrowIfNull(request);
        var report = await health.CheckAsync(cancellationToken).ConfigureAwait(false);
        var response = request.CreateResponse(report.Healthy ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable);
        response.Headers.Add("Content-Type", "application/json; charset=utf-8");
        response.Headers.Add("Cache-Control", "no-store");
        var body = new HealthResponse(report.Healthy ? "Healthy" : "Unhealthy", report.Authentication, report.KeyAgeSeconds);
        await response.WriteBytesAsync(JsonSerializer.SerializeToUtf8Bytes(body, HttpJsonContext.Default.HealthResponse), cancellationToken)
            .ConfigureAwait(false);
        return response;
    }
}
