using System.Net;
using AgentFunctions.Functions.Http;
using Azure;
using Azure.Identity;
using Microsoft.Azure.Functions.Worker.Http;

namespace AgentFunctions.Functions.Runs;

/// <summary>Run state that cannot be read or written is a 503 with a retry hint, never a bare 500.</summary>
internal static class RunStoreFailures
{
    // Azure.Core reports storage it could not reach on any retry as one AggregateException of the attempts' failures.
    public static bool IsStorageFailure(Exception exception) =>
        exception is RequestFailedException or AuthenticationFailedException or HttpRequestException
        || (exception is AggregateException aggregate && aggregate.InnerExceptions.All(IsStorageFailure));

    public static Task<HttpResponseData> WriteAsync(HttpRequestData request) =>
        Problems.WriteAsync(request, HttpStatusCode.ServiceUnavailable, "run-store-unavailable", "Run state unavailable",
            "The app cannot reach its run state storage right now. Retry later.", TimeSpan.FromSeconds(5));
}
