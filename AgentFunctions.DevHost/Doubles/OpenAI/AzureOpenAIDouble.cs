using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>How a request to the Azure OpenAI double authenticated.</summary>
internal enum OpenAIAuthentication
{
    None,
    Key1,
    Key2,
    Bearer,
}

/// <summary>One request the Azure OpenAI double answered. Never holds a key, a token or message text.</summary>
/// <param name="Authentication">How it authenticated; <see cref="OpenAIAuthentication.None"/> when it did not.</param>
internal sealed record AzureOpenAIRequest(
    DateTimeOffset At,
    string? Deployment,
    string ApiVersion,
    OpenAIAuthentication Authentication,
    string? PrincipalObjectId,
    int StatusCode);

/// <summary>
/// An Azure OpenAI account served over HTTPS at <c>https://&lt;account&gt;.openai.localhost:&lt;port&gt;/</c>,
/// answering chat completions from <see cref="DeterministicChatModel"/>.
/// </summary>
/// <remarks>
/// <para><c>POST /openai/deployments/{deployment}/chat/completions?api-version=2024-10-21</c> (or 2024-06-01).
/// Authentication, like a real account: header <c>api-key</c> with either of the two account keys, or
/// <c>Authorization: Bearer</c> with a local token for <c>https://cognitiveservices.azure.com</c> whose principal
/// holds <see cref="AzureRoles.CognitiveServicesOpenAIUser"/> on the account. Setting
/// <see cref="KeyAuthenticationEnabled"/> to false acts like <c>disableLocalAuth</c>.</para>
/// <para>Answers use the service's shapes: 401 for a wrong key, 404 <c>DeploymentNotFound</c>, 404 "Resource not
/// found" for an unknown path or api-version, 400 for a body that is not JSON, and 429 with <c>Retry-After</c> and
/// <c>retry-after-ms</c> when <see cref="Faults"/> says so.</para>
/// <para>Operator actions: <see cref="GetKeys"/> and <see cref="RegenerateKey"/>; a regenerated key stops working at
/// once.</para>
/// </remarks>
internal sealed partial class AzureOpenAIDouble : IAsyncDisposable
{
    /// <summary>The audience of Azure OpenAI tokens, scope <c>https://cognitiveservices.azure.com/.default</c>.</summary>
    public const string TokenAudience = "https://cognitiveservices.azure.com";

    private const int RequestLimitPerMinute = 1_000;
    private const int TokenLimitPerMinute = 1_000_000;
    private static readonly string[] s_apiVersions = ["2024-10-21", "2024-06-01"];
    private static readonly TimeSpan s_rateWindow = TimeSpan.FromMinutes(1);

    private readonly LocalTenant _tenant;
    private readonly AzureOpenAIDoubleOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly ConcurrentQueue<AzureOpenAIRequest> _requests = new();
    private readonly ConcurrentDictionary<string, string> _deployments;
    private readonly string _systemFingerprint = "fp_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
    private string _key1 = NewKey(KeyName.Key1);
    private string _key2 = NewKey(KeyName.Key2);
    private int _toolCallCounter;
    private DateTimeOffset _windowStart;
    private int _windowRequests;
    private int _windowTokens;
    private LoopbackHttpServer? _server;

    private AzureOpenAIDouble(LocalTenant tenant, AzureOpenAIDoubleOptions options, ILogger logger)
    {
        _tenant = tenant;
        _options = options;
        _logger = logger;
        _deployments = new ConcurrentDictionary<string, string>(options.Deployments, StringComparer.Ordinal);
        ResourceId =
            $"/subscriptions/{options.SubscriptionId}/resourceGroups/{options.ResourceGroup}" +
            $"/providers/Microsoft.CognitiveServices/accounts/{options.AccountName}";
        _windowStart = tenant.TimeProvider.GetUtcNow();
    }

    /// <summary><c>https://&lt;account&gt;.openai.localhost:&lt;port&gt;/</c>, reached through the proxy.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>The port on 127.0.0.1; the proxy must allow it.</summary>
    public int Port { get; private set; }

    /// <summary>The account's Azure resource id, the scope of its role assignments.</summary>
    public string ResourceId { get; }

    public RoleAssignments RoleAssignments { get; } = new();

    /// <summary>Failures and delays for the next requests that authenticated.</summary>
    public FaultInjector Faults { get; } = new();

    /// <summary>False acts like <c>disableLocalAuth</c>: <c>api-key</c> is refused and only tokens work.</summary>
    public bool KeyAuthenticationEnabled { get; set; } = true;

    /// <summary>Every request answered so far, oldest first.</summary>
    public IReadOnlyList<AzureOpenAIRequest> Requests => [.. _requests];

    public static async Task<AzureOpenAIDouble> StartAsync(
        LocalTenant tenant,
        X509Certificate2 serverCertificate,
        AzureOpenAIDoubleOptions? options = null,
        ILogger? logger = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(serverCertificate);
        options ??= new AzureOpenAIDoubleOptions();
        options.Validate();
        var account = new AzureOpenAIDouble(tenant, options, logger ?? NullLogger.Instance);
        account._server = await LoopbackHttpServer.StartAsync(account.HandleAsync, serverCertificate, cancellationToken)
            .ConfigureAwait(false);
        account.Port = account._server.Port;
        var port = account.Port.ToString(CultureInfo.InvariantCulture);
        account.Endpoint = new Uri($"https://{account._options.AccountName}.openai.localhost:{port}/");
        return account;
    }

    /// <summary>The account's keys, as an operator lists them.</summary>
    public AccountKeys GetKeys()
    {
        lock (_gate)
        {
            return new AccountKeys(_key1, _key2);
        }
    }

    /// <summary>Replaces one key with a new value and returns it; the old value is refused from now on.</summary>
    public string RegenerateKey(KeyName keyName)
    {
        var key = NewKey(keyName);
        lock (_gate)
        {
            if (keyName == KeyName.Key1)
            {
                _key1 = key;
            }
            else
            {
                _key2 = key;
            }
        }

        LogKeyRegenerated(_logger, keyName);
        return key;
    }

    /// <summary>Grants a role on the account to a principal.</summary>
    public RoleAssignment GrantRole(string principalObjectId, string roleDefinitionId) =>
        RoleAssignments.Grant(principalObjectId, roleDefinitionId, ResourceId);

    /// <summary>Adds (or repoints) a deployment.</summary>
    public void AddDeployment(string deployment, string model) => _deployments[deployment] = model;

    /// <summary>Requests that authenticated with the given key, whatever the answer.</summary>
    public int RequestCount(KeyName keyName)
    {
        var wanted = keyName == KeyName.Key1 ? OpenAIAuthentication.Key1 : OpenAIAuthentication.Key2;
        return _requests.Count(r => r.Authentication == wanted);
    }

    /// <summary>Requests that authenticated with a bearer token, whatever the answer.</summary>
    public int BearerRequestCount => _requests.Count(r => r.Authentication == OpenAIAuthentication.Bearer);

    /// <summary>Requests refused before authentication succeeded.</summary>
    public int UnauthenticatedRequestCount => _requests.Count(r => r.Authentication == OpenAIAuthentication.None);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }

    // 32 hex characters like a real key, behind a prefix that makes it obviously fake and names its slot.
    private static string NewKey(KeyName keyName)
    {
        var slot = keyName.ToString().ToLowerInvariant();
        return $"fake-aoai-{slot}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}";
    }

    private async Task HandleAsync(HttpContext context)
    {
        AddServiceHeaders(context);
        var segments = (context.Request.Path.Value ?? "/").Trim('/').Split('/');
        var deployment = segments is ["openai", "deployments", var named, "chat", "completions"] ? named : null;
        var (reply, caller) = await AnswerAsync(context, deployment).ConfigureAwait(false);
        await DoubleHttp.WriteJsonAsync(context, reply).ConfigureAwait(false);

        var now = _tenant.TimeProvider.GetUtcNow();
        var apiVersion = context.Request.Query["api-version"].ToString();
        _requests.Enqueue(new AzureOpenAIRequest(
            now, deployment, apiVersion, caller.Authentication, caller.PrincipalObjectId, reply.StatusCode));
        LogAnswered(_logger, deployment ?? "(none)", caller.Authentication, reply.StatusCode);
    }

    private async Task<(JsonReply Reply, Caller Caller)> AnswerAsync(HttpContext context, string? deployment)
    {
        var request = context.Request;
        if (deployment is null || !HttpMethods.IsPost(request.Method))
        {
            return (ResourceNotFound(), Caller.Anonymous);
        }

        var (caller, refusal) = Authenticate(context);
        if (refusal is { } refused)
        {
            return (refused, caller);
        }

        if (Faults.Take() is { } fault)
        {
            await Task.Delay(fault.Delay, _tenant.TimeProvider, context.RequestAborted).ConfigureAwait(false);
            if (fault.StatusCode is { } injected)
            {
                return (Injected(context, injected, fault.RetryAfter), caller);
            }
        }

        var apiVersion = request.Query["api-version"].ToString();
        if (!s_apiVersions.Contains(apiVersion, StringComparer.Ordinal))
        {
            return (ResourceNotFound(), caller);
        }

        if (!_deployments.TryGetValue(deployment, out var model))
        {
            return (Error(
                StatusCodes.Status404NotFound,
                "DeploymentNotFound",
                "The API deployment for this resource does not exist. If you created the deployment within the last " +
                "5 minutes, please wait a moment and try again."), caller);
        }

        var body = await DoubleHttp.TryReadJsonAsync(request).ConfigureAwait(false);
        if (body is not JsonObject json)
        {
            const string message = "The request body is not a valid JSON object.";
            return (Error(StatusCodes.Status400BadRequest, "BadRequest", message), caller);
        }

        if (json["messages"] is not JsonArray { Count: > 0 } messages || messages.Any(m => m is not JsonObject))
        {
            const string message = "'messages' must be a non-empty array of message objects.";
            return (Error(StatusCodes.Status400BadRequest, "BadRequest", message, param: "messages"), caller);
        }

        var apiKey = caller.Authentication is OpenAIAuthentication.Key1 or OpenAIAuthentication.Key2
            ? request.Headers["api-key"].ToString()
            : null;
        var reply = DeterministicChatModel.Reply(
            messages,
            DeterministicChatModel.OfferedTools(json),
            apiKey,
            () => "call_" + Interlocked.Increment(ref _toolCallCounter).ToString(CultureInfo.InvariantCulture));
        AddRateLimitHeaders(context, reply.PromptTokens + reply.CompletionTokens);
        context.Response.Headers["x-ms-deployment-name"] = deployment;
        return (new JsonReply(StatusCodes.Status200OK, Completion(reply, model)), caller);
    }

    private (Caller Caller, JsonReply? Refusal) Authenticate(HttpContext context)
    {
        var request = context.Request;
        if (request.Headers.TryGetValue("api-key", out var keyHeader))
        {
            return KeyAuthenticationEnabled
                ? AuthenticateKey(keyHeader.ToString())
                : (Caller.Anonymous, Error(
                    StatusCodes.Status401Unauthorized,
                    "AuthenticationTypeDisabled",
                    "Key based authentication is disabled for this resource."));
        }

        if (DoubleHttp.BearerToken(request) is not { } token)
        {
            return (Caller.Anonymous, Error(
                StatusCodes.Status401Unauthorized,
                "401",
                "Access denied due to missing subscription key. Make sure to include subscription key when making " +
                "requests to an API."));
        }

        var validation = _tenant.Validate(token, TokenAudience);
        if (!validation.IsValid)
        {
            return (Caller.Anonymous, Error(
                StatusCodes.Status401Unauthorized,
                "401",
                $"Unauthorized. Access token is missing, invalid, audience is incorrect ({TokenAudience}), " +
                "or have expired."));
        }

        var principal = validation.Claims!.ObjectId;
        if (RoleAssignments.FindGrant(principal, AzureRoles.Actions.ChatCompletions, ResourceId) is null)
        {
            return (new Caller(OpenAIAuthentication.None, principal), Error(
                StatusCodes.Status401Unauthorized,
                "PermissionDenied",
                $"The principal `{principal}` lacks the required data action `{AzureRoles.Actions.ChatCompletions}` " +
                "to perform `POST /openai/deployments/{deployment-id}/chat/completions` operation."));
        }

        return (new Caller(OpenAIAuthentication.Bearer, principal), null);
    }

    private (Caller Caller, JsonReply? Refusal) AuthenticateKey(string presentedKey)
    {
        var presented = Encoding.UTF8.GetBytes(presentedKey);
        string key1, key2;
        lock (_gate)
        {
            (key1, key2) = (_key1, _key2);
        }

        // Both comparisons always run, so timing does not tell which slot a guess came close to.
        var isKey1 = CryptographicOperations.FixedTimeEquals(presented, Encoding.UTF8.GetBytes(key1));
        var isKey2 = CryptographicOperations.FixedTimeEquals(presented, Encoding.UTF8.GetBytes(key2));
        if (isKey1 || isKey2)
        {
            return (new Caller(isKey1 ? OpenAIAuthentication.Key1 : OpenAIAuthentication.Key2, null), null);
        }

        return (Caller.Anonymous, Error(
            StatusCodes.Status401Unauthorized,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key " +
            "for an active subscription and use a correct regional API endpoint for your resource."));
    }

    private JsonObject Completion(ChatReply reply, string model)
    {
        var message = new JsonObject { ["content"] = reply.Content, ["refusal"] = null, ["role"] = "assistant" };
        if (reply.ToolCalls.Count > 0)
        {
            message["tool_calls"] = new JsonArray([.. reply.ToolCalls.Select(call => (JsonNode)new JsonObject
            {
                ["function"] = new JsonObject { ["arguments"] = call.Arguments, ["name"] = call.Name },
                ["id"] = call.Id,
                ["type"] = "function",
            })]);
        }

        return new JsonObject
        {
            ["choices"] = new JsonArray(new JsonObject
            {
                // The service reports no completion filter results on a tool-call choice.
                ["content_filter_results"] = reply.ToolCalls.Count > 0 ? new JsonObject() : CompletionFilterResults(),
                ["finish_reason"] = reply.FinishReason,
                ["index"] = 0,
                ["logprobs"] = null,
                ["message"] = message,
            }),
            ["created"] = _tenant.TimeProvider.GetUtcNow().ToUnixTimeSeconds(),
            ["id"] = "chatcmpl-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(14)),
            ["model"] = model,
            ["object"] = "chat.completion",
            ["prompt_filter_results"] = new JsonArray(new JsonObject
            {
                ["prompt_index"] = 0,
                ["content_filter_results"] = new JsonObject
                {
                    ["hate"] = Severity(),
                    ["jailbreak"] = Detected(),
                    ["self_harm"] = Severity(),
                    ["sexual"] = Severity(),
                    ["violence"] = Severity(),
                },
            }),
            ["system_fingerprint"] = _systemFingerprint,
            ["usage"] = new JsonObject
            {
                ["completion_tokens"] = reply.CompletionTokens,
                ["prompt_tokens"] = reply.PromptTokens,
                ["total_tokens"] = reply.PromptTokens + reply.CompletionTokens,
            },
        };

        static JsonObject Severity() => new() { ["filtered"] = false, ["severity"] = "safe" };
        static JsonObject Detected() => new() { ["filtered"] = false, ["detected"] = false };
        static JsonObject CompletionFilterResults() => new()
        {
            ["hate"] = Severity(),
            ["protected_material_code"] = Detected(),
            ["protected_material_text"] = Detected(),
            ["self_harm"] = Severity(),
            ["sexual"] = Severity(),
            ["violence"] = Severity(),
        };
    }

    private JsonReply Injected(HttpContext context, int statusCode, TimeSpan? retryAfter)
    {
        if (retryAfter is { } wait)
        {
            DoubleHttp.AddRetryAfter(context.Response, wait, withMilliseconds: true);
        }

        if (statusCode != StatusCodes.Status429TooManyRequests)
        {
            return Error(statusCode, "InternalServerError", "The server had an error while processing your request.");
        }

        AddRateLimitHeaders(context, tokens: 0);
        var apiVersion = context.Request.Query["api-version"].ToString();
        var wholeSeconds = (long)Math.Ceiling((retryAfter ?? TimeSpan.Zero).TotalSeconds);
        var seconds = wholeSeconds.ToString(CultureInfo.InvariantCulture);
        return Error(
            statusCode,
            "429",
            $"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version {apiVersion} have " +
            $"exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after {seconds} seconds.");
    }

    private static JsonReply ResourceNotFound() => Error(StatusCodes.Status404NotFound, "404", "Resource not found");

    private static JsonReply Error(int statusCode, string code, string message, string? param = null)
    {
        var error = new JsonObject { ["code"] = code, ["message"] = message };
        if (param is not null)
        {
            error["param"] = param;
            error["type"] = "invalid_request_error";
        }

        return new JsonReply(statusCode, new JsonObject { ["error"] = error });
    }

    private void AddServiceHeaders(HttpContext context)
    {
        var headers = context.Response.Headers;
        var requestId = DoubleHttp.NewRequestId();
        headers["apim-request-id"] = requestId;
        headers["x-request-id"] = requestId;
        headers["x-ms-region"] = _options.Region;
        headers.StrictTransportSecurity = "max-age=31536000; includeSubDomains; preload";
        headers.XContentTypeOptions = "nosniff";
    }

    private void AddRateLimitHeaders(HttpContext context, int tokens)
    {
        int remainingRequests, remainingTokens;
        lock (_gate)
        {
            var now = _tenant.TimeProvider.GetUtcNow();
            if (now - _windowStart >= s_rateWindow)
            {
                (_windowStart, _windowRequests, _windowTokens) = (now, 0, 0);
            }

            _windowRequests++;
            _windowTokens += tokens;
            remainingRequests = Math.Max(0, RequestLimitPerMinute - _windowRequests);
            remainingTokens = Math.Max(0, TokenLimitPerMinute - _windowTokens);
        }

        var headers = context.Response.Headers;
        headers["x-ms-rai-invoked"] = "true";
        headers["azureml-model-session"] = "local-deterministic";
        headers["x-envoy-upstream-service-time"] = "1";
        headers["x-ratelimit-limit-requests"] = RequestLimitPerMinute.ToString(CultureInfo.InvariantCulture);
        headers["x-ratelimit-limit-tokens"] = TokenLimitPerMinute.ToString(CultureInfo.InvariantCulture);
        headers["x-ratelimit-remaining-requests"] = remainingRequests.ToString(CultureInfo.InvariantCulture);
        headers["x-ratelimit-remaining-tokens"] = remainingTokens.ToString(CultureInfo.InvariantCulture);
    }

    private readonly record struct Caller(OpenAIAuthentication Authentication, string? PrincipalObjectId)
    {
        public static Caller Anonymous => new(OpenAIAuthentication.None, null);
    }

    [LoggerMessage(EventId = 9040, EventName = "AzureOpenAIAnswered", Level = LogLevel.Debug,
        Message = "Azure OpenAI double answered a chat request to {Deployment} ({Authentication}) with {StatusCode}")]
    private static partial void LogAnswered(
        ILogger logger, string deployment, OpenAIAuthentication authentication, int statusCode);

    [LoggerMessage(EventId = 9041, EventName = "AzureOpenAIKeyRegenerated", Level = LogLevel.Information,
        Message = "Azure OpenAI double regenerated {KeyName}")]
    private static partial void LogKeyRegenerated(ILogger logger, KeyName keyName);
}
