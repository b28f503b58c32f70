using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>One request the managed-identity double answered.</summary>
/// <param name="Resource">The <c>resource</c> query value as sent.</param>
/// <param name="PrincipalObjectId">
/// The identity the request named (the system-assigned one when it named none); null when it named an unknown one or was
/// refused before its identity was read.
/// </param>
internal sealed record ManagedIdentityRequest(
    DateTimeOffset At, string? Resource, string? PrincipalObjectId, int StatusCode);

/// <summary>
/// The App Service managed-identity endpoint, on plain HTTP at 127.0.0.1 as on a real App Service instance,
/// which the Azure SDK picks when <c>IDENTITY_ENDPOINT</c> and <c>IDENTITY_HEADER</c> are set.
/// </summary>
/// <remarks>
/// <para>
/// <c>GET /msi/token?api-version=2019-08-01&amp;resource=&lt;r&gt;[&amp;client_id=…|object_id=…|mi_res_id=…]</c>
/// with <c>X-IDENTITY-HEADER</c> answers
/// <c>{"access_token","expires_on","resource","token_type":"Bearer","client_id"}</c>, where <c>expires_on</c> is
/// Unix seconds as a string. Without an id parameter the token is the system-assigned identity's.
/// </para>
/// <para>
/// Refusals use App Service's shape <c>{"statusCode","message","correlationId"}</c>: 401 for a missing or wrong
/// header, 400 for another api-version, a missing or unknown resource, or an unknown user-assigned identity.
/// </para>
/// </remarks>
internal sealed partial class ManagedIdentityDouble : IAsyncDisposable
{
    public const string ApiVersion = "2019-08-01";
    public const string TokenPath = "/msi/token";
    private const string IdentityHeaderName = "X-IDENTITY-HEADER";

    private readonly LocalTenant _tenant;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, byte> _resources = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, LocalPrincipal> _userAssigned = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, FaultInjector> _faultsByObjectId = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, int> _tokensByResource = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentQueue<ManagedIdentityRequest> _requests = new();
    private readonly byte[] _identityHeaderBytes;
    private LoopbackHttpServer? _server;
    private int _requestCount;

    private ManagedIdentityDouble(LocalTenant tenant, LocalPrincipal systemAssigned, ILogger logger)
    {
        _tenant = tenant;
        _logger = logger;
        SystemAssigned = systemAssigned;
        IdentityHeader = Guid.NewGuid().ToString();
        _identityHeaderBytes = Encoding.UTF8.GetBytes(IdentityHeader);
    }

    /// <summary>The value for <c>IDENTITY_ENDPOINT</c>: <c>http://127.0.0.1:&lt;port&gt;/msi/token</c>.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>The value for <c>IDENTITY_HEADER</c>; every request must send it in <c>X-IDENTITY-HEADER</c>.</summary>
    public string IdentityHeader { get; }

    /// <summary>The function app's system-assigned identity.</summary>
    public LocalPrincipal SystemAssigned { get; }

    /// <summary>
    /// Failures and delays for the next requests that carry the right header, whichever identity they are for. A
    /// process's identity endpoint is shared by everything in it that signs in, so a test that must see its own
    /// request fail uses <see cref="FaultsFor"/> instead.
    /// </summary>
    public FaultInjector Faults { get; } = new();

    /// <summary>How long issued tokens live; one hour, like Entra's default for managed identities.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Every request received, whatever the answer.</summary>
    public int RequestCount => Volatile.Read(ref _requestCount);

    /// <summary>All tokens issued, for any resource and identity.</summary>
    public int TokensIssued => _tokensByResource.Values.Sum();

    public IReadOnlyList<ManagedIdentityRequest> Requests => [.. _requests];

    /// <summary>Starts the endpoint; it issues tokens only for <paramref name="knownResources"/>.</summary>
    public static async Task<ManagedIdentityDouble> StartAsync(
        LocalTenant tenant,
        LocalPrincipal systemAssigned,
        IEnumerable<string> knownResources,
        ILogger? logger = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(systemAssigned);
        ArgumentNullException.ThrowIfNull(knownResources);
        var identity = new ManagedIdentityDouble(tenant, systemAssigned, logger ?? NullLogger.Instance);
        foreach (var resource in knownResources)
        {
            identity.AddKnownResource(resource);
        }

        identity._server = await LoopbackHttpServer
            .StartAsync(identity.HandleAsync, certificate: null, cancellationToken)
            .ConfigureAwait(false);
        var port = identity._server.Port.ToString(CultureInfo.InvariantCulture);
        identity.Endpoint = new Uri($"http://127.0.0.1:{port}{TokenPath}");
        return identity;
    }

    /// <summary>Lets the endpoint issue tokens for one more resource, e.g. <c>https://storage.azure.com</c>.</summary>
    public void AddKnownResource(string resource)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        _resources[resource.TrimEnd('/')] = 0;
    }

    /// <summary>Attaches a user-assigned identity, reachable by its client id, object id or resource id.</summary>
    public void AddUserAssignedIdentity(LocalPrincipal principal, string? resourceId = null)
    {
        ArgumentNullException.ThrowIfNull(principal);
        _userAssigned[principal.ClientId] = principal;
        _userAssigned[principal.ObjectId] = principal;
        if (resourceId is not null)
        {
            _userAssigned[resourceId] = principal;
        }
    }

    /// <summary>
    /// Failures and delays for the next requests for <paramref name="principal"/> only; they come before
    /// <see cref="Faults"/>.
    /// </summary>
    public FaultInjector FaultsFor(LocalPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return _faultsByObjectId.GetOrAdd(principal.ObjectId, static _ => new FaultInjector());
    }

    /// <summary>How many tokens were issued for <paramref name="resource"/> (a trailing slash is ignored).</summary>
    public int TokenCount(string resource) =>
        _tokensByResource.TryGetValue(resource.TrimEnd('/'), out var count) ? count : 0;

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requestCount);
        var resource = context.Request.Query["resource"].ToString();
        var (reply, principal) = await AnswerAsync(context, resource).ConfigureAwait(false);
        await DoubleHttp.WriteJsonAsync(context, reply).ConfigureAwait(false);

        var now = _tenant.TimeProvider.GetUtcNow();
        _requests.Enqueue(new ManagedIdentityRequest(now, resource, principal?.ObjectId, reply.StatusCode));
        LogAnswered(_logger, resource, reply.StatusCode);
    }

    private async Task<(JsonReply Reply, LocalPrincipal? Principal)> AnswerAsync(HttpContext context, string resource)
    {
        var request = context.Request;
        if (!string.Equals(request.Path.Value?.TrimEnd('/'), TokenPath, StringComparison.OrdinalIgnoreCase))
        {
            return (Error(StatusCodes.Status404NotFound, "Not found."), null);
        }

        if (!HttpMethods.IsGet(request.Method))
        {
            return (Error(StatusCodes.Status405MethodNotAllowed, "Only GET is supported."), null);
        }

        var header = Encoding.UTF8.GetBytes(request.Headers[IdentityHeaderName].ToString());
        if (!CryptographicOperations.FixedTimeEquals(header, _identityHeaderBytes))
        {
            var message = $"The {IdentityHeaderName} header is missing or does not match this instance's identity header.";
            return (Error(StatusCodes.Status401Unauthorized, message), null);
        }

        var principal = SelectIdentity(request);
        if (TakeFault(principal) is { } fault)
        {
            await Task.Delay(fault.Delay, _tenant.TimeProvider, context.RequestAborted).ConfigureAwait(false);
            if (fault.StatusCode is { } injected)
            {
                if (fault.RetryAfter is { } retryAfter)
                {
                    DoubleHttp.AddRetryAfter(context.Response, retryAfter, withMilliseconds: false);
                }

                return (Error(injected, "An unexpected error occurred while fetching the AAD token."), principal);
            }
        }

        var apiVersion = request.Query["api-version"].ToString();
        if (!string.Equals(apiVersion, ApiVersion, StringComparison.Ordinal))
        {
            var message = $"The api-version '{apiVersion}' is not supported; use {ApiVersion}.";
            return (Error(StatusCodes.Status400BadRequest, message), principal);
        }

        if (string.IsNullOrWhiteSpace(resource) || !_resources.ContainsKey(resource.TrimEnd('/')))
        {
            var message = $"No token can be issued for resource '{resource}': the local tenant does not know it.";
            return (Error(StatusCodes.Status400BadRequest, message), principal);
        }

        if (principal is null)
        {
            return (Error(StatusCodes.Status400BadRequest, "Unable to load the proper Managed Identity."), null);
        }

        var audience = resource.TrimEnd('/');
        var (token, expiresOn) = _tenant.IssueToken(principal, audience, TokenLifetime);
        _tokensByResource.AddOrUpdate(audience, 1, static (_, count) => count + 1);
        var body = new JsonObject
        {
            ["access_token"] = token,
            ["expires_on"] = expiresOn.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            ["resource"] = resource,
            ["token_type"] = "Bearer",
            ["client_id"] = principal.ClientId,
        };
        return (new JsonReply(StatusCodes.Status200OK, body), principal);
    }

    private InjectedFault? TakeFault(LocalPrincipal? principal) =>
        (principal is not null && _faultsByObjectId.TryGetValue(principal.ObjectId, out var own) ? own.Take() : null)
        ?? Faults.Take();

    // Without an id parameter the request is for the system-assigned identity, as on App Service.
    private LocalPrincipal? SelectIdentity(HttpRequest request)
    {
        foreach (var parameter in (string[])["client_id", "object_id", "principal_id", "mi_res_id"])
        {
            var value = request.Query[parameter].ToString();
            if (value.Length > 0)
            {
                return _userAssigned.GetValueOrDefault(value);
            }
        }

        return SystemAssigned;
    }

    private static JsonReply Error(int statusCode, string message) => new(statusCode, new JsonObject
    {
        ["statusCode"] = statusCode,
        ["message"] = message,
        ["correlationId"] = Guid.NewGuid().ToString(),
    });

    [LoggerMessage(EventId = 9010, EventName = "ManagedIdentityAnswered", Level = LogLevel.Debug,
        Message = "Managed identity double answered a token request for '{Resource}' with {StatusCode}")]
    private static partial void LogAnswered(ILogger logger, string resource, int statusCode);
}
