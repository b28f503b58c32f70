using System.Net;
using System.Text.Json;
using AgentFunctions.Agents;
using AgentFunctions.Configuration;
using AgentFunctions.Credentials;
using AgentFunctions.Functions.Http;
using AgentFunctions.Model;
using AgentFunctions.Security;
using Azure.Identity;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentFunctions.Functions;

/// <summary><c>POST /api/agents/{agent}/invoke</c> with <c>{"input": "..."}</c>: runs the agent and answers with its output.</summary>
public sealed partial class InvokeAgentFunction(
    AgentCatalog catalog,
    AgentRunner runner,
    SecretRedactor redactor,
    IOptions<AgentsOptions> options,
    ILogger<InvokeAgentFunction> logger)
{
    private readonly AgentsOptions _options = options.Value;

    [Function("InvokeAgent")]
    public async Task<HttpResponseData> RunAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "agents/{agent}/invoke")] HttpRequestData request,
        string agent,
        FunctionContext context)
    {
        // From the context, not a parameter: a parameter is bound by name, and a JSON body field of the same name would
        // be offered to it.
        var cancellationToken = context.CancellationToken;
        ArgumentNullException.ThrowIfNull(request);
        if (!catalog.TryGet(agent, out var definition))
        {
            return await Problems.WriteUnknownAgentAsync(request, agent, catalog).ConfigureAwait(false);
        }

        var parsed = await AgentInput.ReadAsync(request, _options, cancellationToken).ConfigureAwait(false);
        if (parsed.Problem is { } problem)
        {
            return await problem.WriteAsync(request).ConfigureAwait(false);
        }

        AgentRunResult result;
        try
        {
            result = await runner.RunAsync(definition, parsed.Input!, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return await WriteFailureAsync(request, definition.Name, exception).ConfigureAwait(false);
        }

        var response = request.CreateResponse(HttpStatusCode.OK);
        response.Headers.Add("Content-Type", "application/json; charset=utf-8");
        response.Headers.Add("Cache-Control", "no-store");
        var body = new InvokeAgentResponse(result.Agent, redactor.Redact(result.Output), result.Steps,
            new TokenUsage(result.PromptTokens, result.CompletionTokens));
        await response.WriteBytesAsync(JsonSerializer.SerializeToUtf8Bytes(body, HttpJsonContext.Default.InvokeAgentResponse),
            cancellationToken).ConfigureAwait(false);
        return response;
    }

    private async Task<HttpResponseData> WriteFailureAsync(HttpRequestData request, string agent, Exception exception)
    {
        // The operator's message goes to the log, filtered like everything else that leaves the process; the caller gets
        // a fixed description of what failed and whether to retry.
        LogInvocationFailed(logger, agent, exception.GetType().Name, redactor.Redact(exception.Message));
        return exception switch
        {
            KeyUnavailableException unavailable => await Problems.WriteAsync(request, HttpStatusCode.ServiceUnavailable,
                "key-unavailable", "Credential unavailable",
                "The app cannot read its Azure OpenAI key from Key Vault right now. Retry later.",
                unavailable.RetryAfter ?? TimeSpan.FromSeconds(5)).ConfigureAwait(false),
            KeyRejectedException => await Problems.WriteAsync(request, HttpStatusCode.BadGateway, "key-rejected",
                "Credential rejected", "Azure OpenAI rejected the app's key and no newer key is available yet.").ConfigureAwait(false),
            AuthenticationFailedException or CredentialUnavailableException => await Problems.WriteAsync(request,
                HttpStatusCode.ServiceUnavailable, "identity-unavailable", "Identity unavailable",
                "The app could not get a token for its identity right now. Retry later.", TimeSpan.FromSeconds(5)).ConfigureAwait(false),
            ModelCallException { Status: 429 } throttled => await Problems.WriteAsync(request, HttpStatusCode.ServiceUnavailable,
                "model-throttled", "Model throttled", "Azure OpenAI is throttling requests. Retry later.",
                throttled.RetryAfter ?? TimeSpan.FromSeconds(10)).ConfigureAwait(false),
            ModelCallException { IsTransient: true } transient => await Problems.WriteAsync(request, HttpStatusCode.BadGateway,
                "model-unavailable", "Model unavailable", "Azure OpenAI failed or could not be reached. Retry later.",
                transient.RetryAfter ?? TimeSpan.FromSeconds(5)).ConfigureAwait(false),
            ModelCallException => await Problems.WriteAsync(request, HttpStatusCode.BadGateway, "model-error", "Model error",
                "Azure OpenAI refused the request.").ConfigureAwait(false),
            AgentStepLimitException limit => await Problems.WriteAsync(request, HttpStatusCode.BadGateway, "step-limit",
                "Agent step limit reached", $"The agent did not answer within its limit of {limit.MaxSteps} model calls.")
                .ConfigureAwait(false),
            _ => await Problems.WriteAsync(request, HttpStatusCode.InternalServerError, "internal-error", "Internal error",
                "The agent failed unexpectedly.").ConfigureAwait(false),
        };
    }

    [LoggerMessage(EventId = 1400, EventName = "InvocationFailed", Level = LogLevel.Error,
        Message = "Agent {Agent} failed with {ExceptionType}: {Reason}")]
    private static partial void LogInvocationFailed(ILogger logger, string agent, string exceptionType, string reason);
}
