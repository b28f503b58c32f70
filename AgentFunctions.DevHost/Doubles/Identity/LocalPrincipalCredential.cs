using Azure.Core;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>
/// A <see cref="TokenCredential"/> that gets tokens for one principal straight from the <see cref="LocalTenant"/>,
/// without a managed-identity endpoint: the way the local host signs in as the operator who rotates keys, and the
/// way tests act as a principal other than the app's own identity.
/// </summary>
internal sealed class LocalPrincipalCredential(LocalTenant tenant, LocalPrincipal principal) : TokenCredential
{
    private const string DefaultScopeSuffix = "/.default";
    private static readonly TimeSpan s_lifetime = TimeSpan.FromHours(1);

    private int _tokensIssued;

    public LocalPrincipal Principal { get; } = principal;

    /// <summary>How many tokens this credential has minted.</summary>
    public int TokensIssued => Volatile.Read(ref _tokensIssued);

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        if (requestContext.Scopes is not [var scope])
        {
            throw new ArgumentException(
                $"A local token is for exactly one resource; {requestContext.Scopes.Length} scopes were requested.",
                nameof(requestContext));
        }

        var audience = scope.EndsWith(DefaultScopeSuffix, StringComparison.Ordinal)
            ? scope[..^DefaultScopeSuffix.Length]
            : scope;
        var (token, expiresOn) = tenant.IssueToken(Principal, audience, s_lifetime);
        Interlocked.Increment(ref _tokensIssued);
        return new AccessToken(token, expiresOn);
    }

    public override ValueTask<AccessToken> GetTokenAsync(
        TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetToken(requestContext, cancellationToken));
}
