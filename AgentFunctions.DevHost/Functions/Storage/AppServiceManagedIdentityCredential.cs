using System.Globalization;
using System.Net;
using System.Text.Json;
using Azure.Core;

namespace AgentFunctions.DevHost.Functions.Storage;

/// <summary>
/// The host's side of a managed identity: tokens from the App Service identity endpoint the app is given
/// (<c>IDENTITY_ENDPOINT</c> with <c>X-IDENTITY-HEADER</c>), as the Functions host gets them in the same sandbox.
/// </summary>
/// <remarks>
/// Azure.Identity's credential reads those variables from the current process and caches the source it finds in a
/// static; the local host holds them only in the worker's settings, so it speaks the documented protocol itself.
/// Tokens are cached until five minutes before they expire. Only a loopback endpoint is accepted, so this can never
/// reach IMDS or any other machine.
/// </remarks>
internal sealed class AppServiceManagedIdentityCredential : TokenCredential, IDisposable
{
    private const string ApiVersion = "2019-08-01";
    private const string DefaultScopeSuffix = "/.default";
    private static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(5);

    private readonly Uri _endpoint;
    private readonly string _identityHeader;
    private readonly string? _clientId;
    private readonly TimeProvider _timeProvider;
    private readonly HttpClient _client;
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private readonly Dictionary<string, AccessToken> _tokens = new(StringComparer.OrdinalIgnoreCase);

    public AppServiceManagedIdentityCredential(Uri endpoint, string identityHeader, string? clientId = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentException.ThrowIfNullOrEmpty(identityHeader);
        if (!endpoint.IsLoopback)
        {
            throw new FunctionsHostException(
                $"The managed-identity endpoint must be on this machine; '{endpoint.Host}' is not a loopback address.");
        }

        _endpoint = endpoint;
        _identityHeader = identityHeader;
        _clientId = string.IsNullOrWhiteSpace(clientId) ? null : clientId;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(30) };
    }

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        GetTokenAsync(requestContext, cancellationToken).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext,
        CancellationToken cancellationToken)
    {
        var resource = ToResource(requestContext);
        if (TryGetCached(resource, out var cached))
        {
            return cached;
        }

        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (TryGetCached(resource, out cached))
            {
                return cached;
            }

            var token = await RequestAsync(resource, cancellationToken).ConfigureAwait(false);
            lock (_tokens)
            {
                _tokens[resource] = token;
            }

            return token;
        }
        finally
        {
            _refresh.Release();
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _refresh.Dispose();
    }

    private static string ToResource(TokenRequestContext requestContext)
    {
        if (requestContext.Scopes is not [var scope])
        {
            throw new ArgumentException(
                $"A managed-identity token is for exactly one resource; {requestContext.Scopes.Length} scopes were requested.",
                nameof(requestContext));
        }

        return scope.EndsWith(DefaultScopeSuffix, StringComparison.Ordinal) ? scope[..^DefaultScopeSuffix.Length] : scope;
    }

    private bool TryGetCached(string resource, out AccessToken token)
    {
        lock (_tokens)
        {
            return _tokens.TryGetValue(resource, out token) && token.ExpiresOn - RefreshMargin > _timeProvider.GetUtcNow();
        }
    }

    private async Task<AccessToken> RequestAsync(string resource, CancellationToken cancellationToken)
    {
        var query = $"?api-version={ApiVersion}&resource={Uri.EscapeDataString(resource)}" +
            (_clientId is null ? string.Empty : $"&client_id={Uri.EscapeDataString(_clientId)}");
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_endpoint, _endpoint.AbsolutePath + query));
        request.Headers.TryAddWithoutValidation("X-IDENTITY-HEADER", _identityHeader);

        using var response = await _client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new FunctionsHostException(string.Create(CultureInfo.InvariantCulture,
                $"The managed-identity endpoint refused a token for '{resource}' with status {(int)response.StatusCode}" +
                $"{DescribeRefusal(body)}."));
        }

        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        var token = root.TryGetProperty("access_token", out var value) ? value.GetString() : null;
        var expiresOn = root.TryGetProperty("expires_on", out var expiry) ? ReadEpochSeconds(expiry) : null;
        if (string.IsNullOrEmpty(token) || expiresOn is null)
        {
            throw new FunctionsHostException(
                $"The managed-identity endpoint answered without access_token or expires_on for '{resource}'.");
        }

        return new AccessToken(token, expiresOn.Value);
    }

    private static DateTimeOffset? ReadEpochSeconds(JsonElement value)
    {
        long seconds;
        var parsed = value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetInt64(out seconds),
            JsonValueKind.String => long.TryParse(value.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture,
                out seconds),
            _ => (seconds = 0) != 0,
        };
        return parsed ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
    }

    /// <summary>The App Service refusal's <c>message</c> field; it names the problem and never carries a token.</summary>
    private static string DescribeRefusal(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String
                ? $": {message.GetString()}"
                : string.Empty;
        }
        catch (JsonException)
        {
            return string.Empty;
        }
    }
}
