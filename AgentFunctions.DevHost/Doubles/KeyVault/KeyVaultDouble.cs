using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>One request the vault double answered. Never holds a secret value or a token.</summary>
/// <param name="Path">The path as sent, without the query.</param>
/// <param name="ApiVersion">The <c>api-version</c> query value; empty when there was none.</param>
/// <param name="SecretName">The secret the path names, or null for the vault itself.</param>
/// <param name="PrincipalObjectId">The caller's <c>oid</c> when its token was valid.</param>
internal sealed record KeyVaultRequest(
    DateTimeOffset At,
    string Method,
    string Path,
    string ApiVersion,
    string? SecretName,
    string? PrincipalObjectId,
    int StatusCode);

/// <summary>
/// A Key Vault (secrets only) served over HTTPS at <c>https://&lt;vault&gt;.vault.localhost:&lt;port&gt;/</c>.
/// </summary>
/// <remarks>
/// <para>Operations: <c>GET /secrets/{name}[/{version}]</c> (with or without a trailing slash),
/// <c>PUT /secrets/{name}</c> (a new version), <c>GET /secrets/{name}/versions</c> and <c>GET /secrets</c>;
/// api-version 7.x, 2025-07-01 or 2026-04-01.</para>
/// <para>Authentication follows the challenge flow: a request without a bearer token gets 401 with
/// <c>WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/&lt;tenant&gt;",
/// resource="https://vault.localhost"</c>. The resource mirrors <c>https://vault.azure.net</c> for
/// <c>*.vault.azure.net</c>, so the SDK's check that the vault host ends with the resource's host passes without
/// switching it off. Tokens must carry a valid local signature, be unexpired, come from the local tenant
/// (AKV10032 otherwise) and be for <c>https://vault.localhost</c> (AKV10022 otherwise).</para>
/// <para>Authorization is Azure RBAC only: <see cref="AzureRoles.KeyVaultSecretsUser"/> grants get and metadata
/// reads, <see cref="AzureRoles.KeyVaultSecretsOfficer"/> also set, each at the vault or at one secret. Listing
/// the vault needs metadata reads at vault scope, so a grant on one secret does not allow it. A denial is 403
/// <c>Forbidden</c>/<c>ForbiddenByRbac</c> naming the action, the resource and "Assignment: (not found)".</para>
/// </remarks>
internal sealed partial class KeyVaultDouble : IAsyncDisposable
{
    /// <summary>The resource the vault names in its challenge; tokens must be issued for it.</summary>
    public const string ChallengeResource = "https://vault.localhost";

    private const string RecoveryLevel = "Recoverable+Purgeable";
    private const int RecoverableDays = 90;
    private const string ServiceVersion = "1.9.0.0";

    private static readonly string[] s_fixedApiVersions = ["2025-07-01", "2026-04-01"];

    private readonly LocalTenant _tenant;
    private readonly KeyVaultDoubleOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<StoredSecret>> _secrets = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentQueue<KeyVaultRequest> _requests = new();
    private LoopbackHttpServer? _server;

    private KeyVaultDouble(LocalTenant tenant, KeyVaultDoubleOptions options, ILogger logger)
    {
        _tenant = tenant;
        _options = options;
        _logger = logger;
        ResourceId =
            $"/subscriptions/{options.SubscriptionId}/resourceGroups/{options.ResourceGroup}" +
            $"/providers/Microsoft.KeyVault/vaults/{options.VaultName}";
    }

    /// <summary><c>https://&lt;vault&gt;.vault.localhost:&lt;port&gt;/</c>, reached through the proxy.</summary>
    public Uri VaultUri { get; private set; } = null!;

    /// <summary>The port on 127.0.0.1; the proxy must allow it.</summary>
    public int Port { get; private set; }

    public string VaultName => _options.VaultName;

    /// <summary>The vault's Azure resource id, the scope of vault-wide role assignments.</summary>
    public string ResourceId { get; }

    public RoleAssignments RoleAssignments { get; } = new();

    /// <summary>Failures and delays for the next requests that carry a valid token.</summary>
    public FaultInjector Faults { get; } = new();

    /// <summary>Every request answered so far, oldest first.</summary>
    public IReadOnlyList<KeyVaultRequest> Requests => [.. _requests];

    public static async Task<KeyVaultDouble> StartAsync(
        LocalTenant tenant,
        X509Certificate2 serverCertificate,
        KeyVaultDoubleOptions? options = null,
        ILogger? logger = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(serverCertificate);
        options ??= new KeyVaultDoubleOptions();
        options.Validate();
        var vault = new KeyVaultDouble(tenant, options, logger ?? NullLogger.Instance);
        vault._server = await LoopbackHttpServer.StartAsync(vault.HandleAsync, serverCertificate, cancellationToken)
            .ConfigureAwait(false);
        vault.Port = vault._server.Port;
        vault.VaultUri = new Uri(
            $"https://{vault.VaultName}.vault.localhost:{vault.Port.ToString(CultureInfo.InvariantCulture)}/");
        return vault;
    }

    /// <summary>The resource id of one secret, the scope of a secret-level role assignment.</summary>
    public string SecretResourceId(string secretName) => $"{ResourceId}/secrets/{secretName}";

    /// <summary>Grants a role on one secret, or on the vault when <paramref name="secretName"/> is null.</summary>
    public RoleAssignment GrantRole(string principalObjectId, string roleDefinitionId, string? secretName = null) =>
        RoleAssignments.Grant(
            principalObjectId, roleDefinitionId, secretName is null ? ResourceId : SecretResourceId(secretName));

    /// <summary>
    /// Stores a new version directly, with no request and no authorization, for seeding; returns the version id.
    /// </summary>
    public string SetSecret(string name, string value, string? contentType = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        if (!IsValidName(name))
        {
            throw new ArgumentException(
                $"'{name}' is not a valid secret name: use 1-127 letters, digits and '-'.", nameof(name));
        }

        return Store(name, value, contentType, tags: null, enabled: true, notBefore: null, expires: null).Version;
    }

    /// <summary>
    /// The value of the newest version, read from memory without a request, so inspecting the vault never shows up
    /// in the counts tests assert on; null when the secret does not exist.
    /// </summary>
    public string? PeekCurrentValue(string name)
    {
        lock (_gate)
        {
            return _secrets.TryGetValue(name, out var versions) ? versions[^1].Value : null;
        }
    }

    /// <summary>The version ids of a secret, oldest first; empty when it does not exist.</summary>
    public IReadOnlyList<string> GetVersionIds(string name)
    {
        lock (_gate)
        {
            return _secrets.TryGetValue(name, out var versions) ? [.. versions.Select(v => v.Version)] : [];
        }
    }

    /// <summary>Successful reads (200) of a secret, any version: the count "exactly one vault request" means.</summary>
    public int SecretReadCount(string name) => _requests.Count(r =>
        HttpMethods.IsGet(r.Method) && r.StatusCode == StatusCodes.Status200OK && IsSecretValuePath(r, name));

    /// <summary>Every request naming a secret, whatever the method or answer, challenge probes included.</summary>
    public int SecretRequestCount(string name) =>
        _requests.Count(r => string.Equals(r.SecretName, name, StringComparison.OrdinalIgnoreCase));

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static bool IsSecretValuePath(KeyVaultRequest request, string name) =>
        string.Equals(request.SecretName, name, StringComparison.OrdinalIgnoreCase) &&
        !request.Path.TrimEnd('/').EndsWith("/versions", StringComparison.OrdinalIgnoreCase);

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        var segments = path.Trim('/').Split('/');
        AddServiceHeaders(context);
        var (reply, principal) = await AnswerAsync(context, segments).ConfigureAwait(false);
        await DoubleHttp.WriteJsonAsync(context, reply).ConfigureAwait(false);

        var secretName = segments is ["secrets", var named, ..] ? named : null;
        var now = _tenant.TimeProvider.GetUtcNow();
        var apiVersion = request.Query["api-version"].ToString();
        _requests.Enqueue(new KeyVaultRequest(
            now, request.Method, path, apiVersion, secretName, principal, reply.StatusCode));
        LogAnswered(_logger, request.Method, path, reply.StatusCode);
    }

    private async Task<(JsonReply Reply, string? Principal)> AnswerAsync(HttpContext context, string[] segments)
    {
        var request = context.Request;
        if (DoubleHttp.BearerToken(request) is not { } token)
        {
            return (Challenge(context, "AKV10000: Request is missing a Bearer or PoP token."), null);
        }

        var validation = _tenant.Validate(token, ChallengeResource);
        if (!validation.IsValid)
        {
            return (Challenge(context, DescribeRefusal(validation)), null);
        }

        var caller = validation.Claims!;
        if (Faults.Take() is { } fault)
        {
            await Task.Delay(fault.Delay, _tenant.TimeProvider, context.RequestAborted).ConfigureAwait(false);
            if (fault.StatusCode is { } injected)
            {
                return (Injected(context, injected, fault.RetryAfter), caller.ObjectId);
            }
        }

        var apiVersion = request.Query["api-version"].ToString();
        if (!IsSupportedApiVersion(apiVersion))
        {
            return (Error(
                StatusCodes.Status400BadRequest,
                "BadParameter",
                $"The specified version ({apiVersion}) is not recognized. " +
                "Consider using the latest supported version (2026-04-01)."), caller.ObjectId);
        }

        var method = request.Method;
        var reply = segments switch
        {
            ["secrets"] when HttpMethods.IsGet(method) => ListSecrets(context, caller),
            ["secrets", var name, ..] when !IsValidName(name) => Error(
                StatusCodes.Status400BadRequest, "BadParameter", "A secret name has 1-127 letters, digits and '-'."),
            ["secrets", var name] when HttpMethods.IsGet(method) => GetSecret(context, caller, name, version: null),
            ["secrets", var name] when HttpMethods.IsPut(method) =>
                await SetSecretAsync(context, caller, name).ConfigureAwait(false),
            ["secrets", var name, "versions"] when HttpMethods.IsGet(method) => ListVersions(context, caller, name),
            ["secrets", var name, var version] when HttpMethods.IsGet(method) =>
                GetSecret(context, caller, name, version),
            ["secrets", ..] => Error(
                StatusCodes.Status405MethodNotAllowed, "MethodNotAllowed", $"{method} is not served on this path."),
            _ => Error(StatusCodes.Status404NotFound, "NotFound", "The requested path does not exist."),
        };
        return (reply, caller.ObjectId);
    }

    private JsonReply GetSecret(HttpContext context, AccessTokenClaims caller, string name, string? version)
    {
        if (Authorize(context, caller, AzureRoles.Actions.GetSecret, SecretResourceId(name)) is { } denied)
        {
            return denied;
        }

        StoredSecret? secret;
        lock (_gate)
        {
            secret = !_secrets.TryGetValue(name, out var versions) ? null
                : version is null ? versions[^1]
                : versions.Find(v => string.Equals(v.Version, version, StringComparison.OrdinalIgnoreCase));
        }

        if (secret is null)
        {
            var id = version is null ? name : $"{name}/{version}";
            return Error(
                StatusCodes.Status404NotFound,
                "SecretNotFound",
                $"A secret with (name/id) {id} was not found in this key vault. If you recently deleted this secret " +
                "you may be able to recover it using the correct recovery command. For help resolving this issue, " +
                "please see https://go.microsoft.com/fwlink/?linkid=2125182");
        }

        return secret.Enabled
            ? new JsonReply(StatusCodes.Status200OK, Bundle(secret, withValue: true))
            : Error(
                StatusCodes.Status403Forbidden,
                "Forbidden",
                "Operation get is not allowed on a disabled secret.",
                innerCode: "SecretDisabled");
    }

    private async Task<JsonReply> SetSecretAsync(HttpContext context, AccessTokenClaims caller, string name)
    {
        if (Authorize(context, caller, AzureRoles.Actions.SetSecret, SecretResourceId(name)) is { } denied)
        {
            return denied;
        }

        var body = await DoubleHttp.TryReadJsonAsync(context.Request).ConfigureAwait(false);
        if (body is not JsonObject json ||
            json["value"] is not JsonValue valueNode ||
            !valueNode.TryGetValue<string>(out var value))
        {
            const string message = "The request body needs a string property 'value'.";
            return Error(StatusCodes.Status400BadRequest, "BadParameter", message);
        }

        StoredSecret stored;
        try
        {
            var attributes = json["attributes"] as JsonObject;
            var tags = (json["tags"] as JsonObject)?
                .Where(pair => pair.Value is JsonValue)
                .ToDictionary(pair => pair.Key, pair => pair.Value!.ToString(), StringComparer.Ordinal);
            stored = Store(
                name,
                value,
                json["contentType"]?.GetValue<string>(),
                tags,
                enabled: attributes?["enabled"]?.GetValue<bool>() ?? true,
                notBefore: attributes?["nbf"]?.GetValue<long>(),
                expires: attributes?["exp"]?.GetValue<long>());
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            // A property of the wrong JSON type, e.g. "enabled":"yes".
            const string message = "contentType must be a string, attributes.enabled a boolean, nbf and exp integers.";
            return Error(StatusCodes.Status400BadRequest, "BadParameter", message);
        }

        LogSecretVersionSet(_logger, name, stored.Version);
        return new JsonReply(StatusCodes.Status200OK, Bundle(stored, withValue: true));
    }

    private JsonReply ListVersions(HttpContext context, AccessTokenClaims caller, string name)
    {
        if (Authorize(context, caller, AzureRoles.Actions.ReadSecretMetadata, SecretResourceId(name)) is { } denied)
        {
            return denied;
        }

        lock (_gate)
        {
            return Page(_secrets.TryGetValue(name, out var versions)
                ? versions.Select(v => Bundle(v, withValue: false))
                : []);
        }
    }

    private JsonReply ListSecrets(HttpContext context, AccessTokenClaims caller)
    {
        if (Authorize(context, caller, AzureRoles.Actions.ReadSecretMetadata, ResourceId) is { } denied)
        {
            return denied;
        }

        lock (_gate)
        {
            return Page(_secrets.Values.Select(versions =>
            {
                // A listing names each secret without a version.
                var item = Bundle(versions[^1], withValue: false);
                item["id"] = new Uri(VaultUri, $"secrets/{versions[^1].Name}").ToString();
                return item;
            }));
        }
    }

    private static JsonReply Page(IEnumerable<JsonObject> items) => new(
        StatusCodes.Status200OK,
        new JsonObject { ["value"] = new JsonArray([.. items]), ["nextLink"] = null });

    // Null when the caller may act; otherwise the 403 to send.
    private JsonReply? Authorize(HttpContext context, AccessTokenClaims caller, string action, string resourceId)
    {
        var grant = RoleAssignments.FindGrant(caller.ObjectId, action, resourceId);
        if (grant is not null)
        {
            context.Response.Headers["x-ms-keyvault-rbac-assignment-id"] = grant.Id;
            return null;
        }

        LogForbidden(_logger, caller.ObjectId, action, resourceId);
        var message =
            "Caller is not authorized to perform action on resource.\r\n" +
            "If role assignments, deny assignments or role definitions were changed recently, " +
            "please observe propagation time.\r\n" +
            $"Caller: appid={caller.AppId};oid={caller.ObjectId};iss={caller.Issuer}\r\n" +
            $"Action: '{action}'\r\n" +
            $"Resource: '{resourceId.ToLowerInvariant()}'\r\n" +
            "Assignment: (not found)\r\n" +
            "DenyAssignmentId: null\r\n" +
            "DecisionReason: null \r\n" +
            $"Vault: {VaultName};location={_options.Region}\r\n";
        return Error(StatusCodes.Status403Forbidden, "Forbidden", message, innerCode: "ForbiddenByRbac");
    }

    private string DescribeRefusal(AccessTokenValidation validation) => validation.Status switch
    {
        AccessTokenStatus.WrongIssuer =>
            $"AKV10032: Invalid issuer. Expected one of {_tenant.Issuer}, found {validation.Claims!.Issuer}.",
        AccessTokenStatus.WrongAudience =>
            $"AKV10022: Invalid audience. Expected {ChallengeResource}, found: {validation.Claims!.Audience}.",
        AccessTokenStatus.Expired => "The access token has expired.",
        AccessTokenStatus.NotYetValid => "The access token is not valid yet.",
        AccessTokenStatus.BadSignature => "The access token's signature is not valid.",
        _ => "The access token is malformed.",
    };

    private JsonReply Challenge(HttpContext context, string message)
    {
        context.Response.Headers.WWWAuthenticate =
            $"Bearer authorization=\"{_tenant.Authority}\", resource=\"{ChallengeResource}\"";
        return Error(StatusCodes.Status401Unauthorized, "Unauthorized", message);
    }

    private static JsonReply Injected(HttpContext context, int statusCode, TimeSpan? retryAfter)
    {
        if (retryAfter is { } wait)
        {
            DoubleHttp.AddRetryAfter(context.Response, wait, withMilliseconds: false);
        }

        var (code, message) = statusCode switch
        {
            StatusCodes.Status429TooManyRequests => (
                "Throttled",
                "Request was not processed because too many requests were received. " +
                "Reason: VaultRequestTypeLimitReached"),
            StatusCodes.Status503ServiceUnavailable => ("ServiceUnavailable", "The vault is temporarily unavailable."),
            _ => ("InternalServerError", "The vault failed to process the request."),
        };
        return Error(statusCode, code, message);
    }

    private static JsonReply Error(int statusCode, string code, string message, string? innerCode = null)
    {
        var error = new JsonObject { ["code"] = code, ["message"] = message };
        if (innerCode is not null)
        {
            error["innererror"] = new JsonObject { ["code"] = innerCode };
        }

        return new JsonReply(statusCode, new JsonObject { ["error"] = error });
    }

    private void AddServiceHeaders(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.Pragma = "no-cache";
        headers.Expires = "-1";
        headers.StrictTransportSecurity = "max-age=31536000;includeSubDomains";
        headers.XContentTypeOptions = "nosniff";
        headers["x-ms-request-id"] = DoubleHttp.NewRequestId();
        headers["x-ms-keyvault-region"] = _options.Region;
        headers["x-ms-keyvault-service-version"] = ServiceVersion;
        headers["x-ms-keyvault-network-info"] = "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;";
        var clientRequestId = context.Request.Headers["x-ms-client-request-id"].ToString();
        if (clientRequestId.Length > 0)
        {
            headers["x-ms-client-request-id"] = clientRequestId;
        }
    }

    private JsonObject Bundle(StoredSecret secret, bool withValue)
    {
        var attributes = new JsonObject { ["enabled"] = secret.Enabled };
        if (secret.NotBefore is { } nbf)
        {
            attributes["nbf"] = nbf;
        }

        if (secret.Expires is { } exp)
        {
            attributes["exp"] = exp;
        }

        attributes["created"] = secret.Created;
        attributes["updated"] = secret.Created;
        attributes["recoveryLevel"] = RecoveryLevel;
        attributes["recoverableDays"] = RecoverableDays;
        var bundle = new JsonObject();
        if (withValue)
        {
            bundle["value"] = secret.Value;
        }

        bundle["id"] = new Uri(VaultUri, $"secrets/{secret.Name}/{secret.Version}").ToString();
        if (secret.ContentType is not null)
        {
            bundle["contentType"] = secret.ContentType;
        }

        if (secret.Tags is { Count: > 0 } tags)
        {
            bundle["tags"] = new JsonObject(tags.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)t.Value)));
        }

        bundle["attributes"] = attributes;
        return bundle;
    }

    private StoredSecret Store(
        string name,
        string value,
        string? contentType,
        Dictionary<string, string>? tags,
        bool enabled,
        long? notBefore,
        long? expires)
    {
        lock (_gate)
        {
            if (!_secrets.TryGetValue(name, out var versions))
            {
                versions = [];
                _secrets[name] = versions;
            }

            // Key Vault keeps the casing of the name the secret was created with.
            var storedName = versions.Count > 0 ? versions[0].Name : name;
            var secret = new StoredSecret(
                storedName,
                Guid.NewGuid().ToString("N"),
                value,
                contentType,
                tags,
                enabled,
                notBefore,
                expires,
                _tenant.TimeProvider.GetUtcNow().ToUnixTimeSeconds());
            versions.Add(secret);
            return secret;
        }
    }

    private static bool IsSupportedApiVersion(string apiVersion) =>
        s_fixedApiVersions.Contains(apiVersion, StringComparer.Ordinal) || SevenDotVersion().IsMatch(apiVersion);

    private static bool IsValidName(string name) => SecretName().IsMatch(name);

    [GeneratedRegex(@"^7\.\d+(-preview(\.\d+)?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex SevenDotVersion();

    [GeneratedRegex("^[0-9a-zA-Z-]{1,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex SecretName();

    [LoggerMessage(EventId = 9020, EventName = "KeyVaultAnswered", Level = LogLevel.Debug,
        Message = "Key Vault double answered {Method} {Path} with {StatusCode}")]
    private static partial void LogAnswered(ILogger logger, string method, string path, int statusCode);

    [LoggerMessage(EventId = 9021, EventName = "KeyVaultForbidden", Level = LogLevel.Information,
        Message = "Key Vault double refused {Action} on {Resource} to {PrincipalObjectId}: no role assignment")]
    private static partial void LogForbidden(ILogger logger, string principalObjectId, string action, string resource);

    [LoggerMessage(EventId = 9022, EventName = "KeyVaultSecretVersionSet", Level = LogLevel.Information,
        Message = "Key Vault double stored version {Version} of secret {SecretName}")]
    private static partial void LogSecretVersionSet(ILogger logger, string secretName, string version);

    // Deliberately a class, not a record: a record's generated ToString would print the value.
    private sealed class StoredSecret(
        string name,
        string version,
        string value,
        string? contentType,
        Dictionary<string, string>? tags,
        bool enabled,
        long? notBefore,
        long? expires,
        long created)
    {
        public string Name { get; } = name;
        public string Version { get; } = version;
        public string Value { get; } = value;
        public string? ContentType { get; } = contentType;
        public Dictionary<string, string>? Tags { get; } = tags;
        public bool Enabled { get; } = enabled;
        public long? NotBefore { get; } = notBefore;
        public long? Expires { get; } = expires;
        public long Created { get; } = created;

        public override string ToString() => $"{Name}/{Version}";
    }
}
