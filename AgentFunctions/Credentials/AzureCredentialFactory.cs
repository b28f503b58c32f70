using AgentFunctions.Configuration;
using Azure.Core;
using Azure.Identity;

namespace AgentFunctions.Credentials;

/// <summary>Chooses the one credential the process uses, from settings and the platform's environment; nothing is probed.</summary>
public static class AzureCredentialFactory
{
    /// <summary>Set by App Service and Azure Functions when the app has a managed identity.</summary>
    public const string IdentityEndpointVariable = "IDENTITY_ENDPOINT";

    public static IdentitySource Resolve(IdentityOptions options, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        return options.Source != IdentitySource.Auto
            ? options.Source
            : string.IsNullOrEmpty(environment(IdentityEndpointVariable)) ? IdentitySource.DeveloperSignIn : IdentitySource.ManagedIdentity;
    }

    public static TokenCredential Create(IdentityOptions options, Func<string, string?> environment) =>
        Resolve(options, environment) switch
        {
            // Directly the managed identity: no chain, so a cold start never waits on credentials that cannot work there.
            IdentitySource.ManagedIdentity => new ManagedIdentityCredential(string.IsNullOrWhiteSpace(options.ManagedIdentityClientId)
                ? ManagedIdentityId.SystemAssigned
                : ManagedIdentityId.FromUserAssignedClientId(options.ManagedIdentityClientId)),

            // A developer's own sign-in. Managed identity, environment and workload identity are left out so that a
            // laptop never reaches for a metadata endpoint or a service principal secret.
            _ => new DefaultAzureCredential(new DefaultAzureCredentialOptions
            {
                ExcludeManagedIdentityCredential = true,
                ExcludeEnvironmentCredential = true,
                ExcludeWorkloadIdentityCredential = true,
                ExcludeInteractiveBrowserCredential = true,
            }),
        };
}
