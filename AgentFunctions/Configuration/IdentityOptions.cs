namespace AgentFunctions.Configuration;

/// <summary>Which identity the app uses for Key Vault (and for Azure OpenAI in keyless mode). Section <c>Identity</c>.</summary>
public sealed class IdentityOptions
{
    public const string SectionName = "Identity";

    /// <summary>Default: <see cref="IdentitySource.Auto"/>.</summary>
    public IdentitySource Source { get; set; } = IdentitySource.Auto;

    /// <summary>
    /// The client id of a user-assigned managed identity to use instead of the system-assigned one. Optional; only
    /// meaningful with a managed identity; empty means the system-assigned one.
    /// </summary>
    public string? ManagedIdentityClientId { get; set; }
}

public enum IdentitySource
{
    /// <summary>
    /// The managed identity when the platform's identity endpoint is present (App Service and Functions set
    /// <c>IDENTITY_ENDPOINT</c>), otherwise the developer's own sign-in. Decided once from the environment; nothing is probed.
    /// </summary>
    Auto,

    /// <summary>The function app's managed identity, directly, with no fallback.</summary>
    ManagedIdentity,

    /// <summary>The developer's own sign-in from Azure CLI, Azure Developer CLI, Visual Studio or VS Code.</summary>
    DeveloperSignIn,
}
