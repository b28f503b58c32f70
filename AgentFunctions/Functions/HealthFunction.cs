using System.Net;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace AgentFunctions.Functions;

public sealed class HealthFunction
{
    [Function("Health")]
    public static HttpResponseData Run([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequestData request)
        => request.CreateResponse(HttpStatusCode.OK);
}
