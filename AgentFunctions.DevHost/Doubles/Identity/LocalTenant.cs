using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>
/// The local stand-in for a Microsoft Entra tenant: it mints JWT-shaped access tokens for its principals and
/// checks them for the doubles that act as resources.
/// </summary>
/// <remarks>
/// Tokens are signed with HMAC-SHA256 under a key that exists only in this object's memory, so only this
/// process can mint a token the doubles accept. Claims follow the v1 tokens Azure resources receive:
/// <c>aud</c>, <c>iss</c> (<c>https://sts.windows.net/&lt;tenant&gt;/</c>), <c>tid</c>, <c>oid</c>,
/// <c>appid</c>, <c>iat</c>, <c>nbf</c> and <c>exp</c>.
/// </remarks>
internal sealed class LocalTenant
{
    // Tokens the doubles accept a little past their expiry, as Entra-protected services do, so a token
    // refreshed just in time is never refused because two clocks disagree by a second.
    private static readonly TimeSpan s_clockSkew = TimeSpan.FromMinutes(5);

    private readonly byte[] _signingKey = RandomNumberGenerator.GetBytes(32);

    public LocalTenant(TimeProvider? timeProvider = null, string? tenantId = null)
    {
        TimeProvider = timeProvider ?? TimeProvider.System;
        TenantId = tenantId ?? Guid.NewGuid().ToString();
    }

    public string TenantId { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>The issuer the tenant's tokens carry: <c>https://sts.windows.net/&lt;tenant&gt;/</c>.</summary>
    public string Issuer => IssuerFor(TenantId);

    /// <summary>
    /// The authority a resource names in its challenge: <c>https://login.microsoftonline.com/&lt;tenant&gt;</c>.
    /// </summary>
    public string Authority => $"https://login.microsoftonline.com/{TenantId}";

    public static string IssuerFor(string tenantId) => $"https://sts.windows.net/{tenantId}/";

    /// <summary>Mints an access token for <paramref name="principal"/> to call <paramref name="audience"/>.</summary>
    /// <param name="issuingTenantId">
    /// Overrides the tenant in <c>iss</c> and <c>tid</c> while keeping a valid signature, the way a token from
    /// another tenant of the same cloud looks to a resource.
    /// </param>
    public (string Token, DateTimeOffset ExpiresOn) IssueToken(
        LocalPrincipal principal, string audience, TimeSpan lifetime, string? issuingTenantId = null)
    {
        ArgumentNullException.ThrowIfNull(principal);
        ArgumentException.ThrowIfNullOrWhiteSpace(audience);
        var tenantId = issuingTenantId ?? TenantId;
        var now = TimeProvider.GetUtcNow();
        var expiresOn = now + lifetime;
        var header = new JsonObject { ["alg"] = "HS256", ["typ"] = "JWT" };
        var payload = new JsonObject
        {
            ["aud"] = audience,
            ["iss"] = IssuerFor(tenantId),
            ["iat"] = now.ToUnixTimeSeconds(),
            ["nbf"] = now.ToUnixTimeSeconds(),
            ["exp"] = expiresOn.ToUnixTimeSeconds(),
            ["appid"] = principal.ClientId,
            ["appidacr"] = "2",
            ["idtyp"] = "app",
            ["oid"] = principal.ObjectId,
            ["sub"] = principal.ObjectId,
            ["tid"] = tenantId,
            ["ver"] = "1.0",
        };
        var signingInput = Encode(header) + "." + Encode(payload);
        return (signingInput + "." + Sign(signingInput), expiresOn);
    }

    /// <summary>
    /// Checks signature, lifetime, issuer and audience, in that order, as a resource would.
    /// </summary>
    /// <param name="expectedAudience">The resource's identifier; a trailing slash on either side is ignored.</param>
    public AccessTokenValidation Validate(string token, string expectedAudience)
    {
        ArgumentNullException.ThrowIfNull(token);
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return new(AccessTokenStatus.Malformed, null);
        }

        AccessTokenClaims claims;
        try
        {
            using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            var root = payload.RootElement;
            claims = new AccessTokenClaims(
                Audience: root.GetProperty("aud").GetString() ?? string.Empty,
                Issuer: root.GetProperty("iss").GetString() ?? string.Empty,
                TenantId: root.GetProperty("tid").GetString() ?? string.Empty,
                ObjectId: root.GetProperty("oid").GetString() ?? string.Empty,
                AppId: root.GetProperty("appid").GetString() ?? string.Empty,
                IssuedAt: DateTimeOffset.FromUnixTimeSeconds(root.GetProperty("iat").GetInt64()),
                ExpiresOn: DateTimeOffset.FromUnixTimeSeconds(root.GetProperty("exp").GetInt64()));
        }
        catch (Exception ex) when (
            ex is FormatException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return new(AccessTokenStatus.Malformed, null);
        }

        var expected = Encoding.ASCII.GetBytes(Sign(parts[0] + "." + parts[1]));
        if (!CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(parts[2])))
        {
            return new(AccessTokenStatus.BadSignature, claims);
        }

        var now = TimeProvider.GetUtcNow();
        if (now > claims.ExpiresOn + s_clockSkew)
        {
            return new(AccessTokenStatus.Expired, claims);
        }

        if (now + s_clockSkew < claims.IssuedAt)
        {
            return new(AccessTokenStatus.NotYetValid, claims);
        }

        if (!string.Equals(claims.Issuer, Issuer, StringComparison.Ordinal) ||
            !string.Equals(claims.TenantId, TenantId, StringComparison.Ordinal))
        {
            return new(AccessTokenStatus.WrongIssuer, claims);
        }

        var audienceMatches = string.Equals(
            claims.Audience.TrimEnd('/'), expectedAudience.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);
        return new(audienceMatches ? AccessTokenStatus.Valid : AccessTokenStatus.WrongAudience, claims);
    }

    private static string Encode(JsonObject value) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(value.ToJsonString()));

    private string Sign(string signingInput) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(_signingKey, Encoding.ASCII.GetBytes(signingInput)));
}
