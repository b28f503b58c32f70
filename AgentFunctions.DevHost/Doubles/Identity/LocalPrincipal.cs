namespace AgentFunctions.DevHost.Doubles;

/// <summary>
/// A service principal of the local tenant: a managed identity or an operator.
/// </summary>
/// <param name="DisplayName">A name for messages and logs; never part of authorization.</param>
/// <param name="ObjectId">The principal id, the token's <c>oid</c>, which role assignments name.</param>
/// <param name="ClientId">The application id, the token's <c>appid</c> and the managed identity's client id.</param>
internal sealed record LocalPrincipal(string DisplayName, string ObjectId, string ClientId)
{
    /// <summary>Creates a principal with fresh random object and client ids.</summary>
    public static LocalPrincipal Create(string displayName) =>
        new(displayName, Guid.NewGuid().ToString(), Guid.NewGuid().ToString());
}
