namespace AgentFunctions.DevHost.Doubles;

/// <summary>Why a bearer token was accepted or refused by a double.</summary>
internal enum AccessTokenStatus
{
    Valid,
    Malformed,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
}

/// <summary>The claims a double reads from a local token.</summary>
internal sealed record AccessTokenClaims(
    string Audience,
    string Issuer,
    string TenantId,
    string ObjectId,
    string AppId,
    DateTimeOffset IssuedAt,
    DateTimeOffset ExpiresOn);

/// <summary>The outcome of checking a bearer token; <see cref="Claims"/> is set whenever the token parsed.</summary>
internal sealed record AccessTokenValidation(AccessTokenStatus Status, AccessTokenClaims? Claims)
{
    public bool IsValid => Status == AccessTokenStatus.Valid;
}
