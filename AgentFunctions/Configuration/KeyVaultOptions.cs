namespace AgentFunctions.Configuration;

/// <summary>Where the Azure OpenAI key lives. Bound from the <c>KeyVault</c> section.</summary>
public sealed class KeyVaultOptions
{
    public const string SectionName = "KeyVault";

    public const string DefaultSecretName = "azure-openai-api-key";

    /// <summary>The vault URI, e.g. <c>https://my-vault.vault.azure.net/</c>. Required in key mode.</summary>
    public Uri? VaultUri { get; set; }

    /// <summary>
    /// The one secret the app reads, by name only: the identity needs "Key Vault Secrets User" on this secret and
    /// nothing on the vault. Default: <c>azure-openai-api-key</c>.
    /// </summary>
    public string SecretName { get; set; } = DefaultSecretName;
}
