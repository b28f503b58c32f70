namespace AgentFunctions.Configuration;

/// <summary>How the app reaches Azure OpenAI. Bound from the <c>AzureOpenAI</c> section.</summary>
public sealed class AzureOpenAIOptions
{
    public const string SectionName = "AzureOpenAI";

    /// <summary>The account endpoint, e.g. <c>https://my-account.openai.azure.com/</c>. Required.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>How requests to Azure OpenAI are authenticated. Default: <see cref="AzureOpenAIAuthentication.KeyVaultKey"/>.</summary>
    public AzureOpenAIAuthentication Authentication { get; set; } = AzureOpenAIAuthentication.KeyVaultKey;

    /// <summary>The deployment an agent uses when its catalog entry names none. Optional.</summary>
    public string? DefaultDeployment { get; set; }

    /// <summary>How long one model request may take before it is abandoned. Default: 100 seconds.</summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromSeconds(100);
}

public enum AzureOpenAIAuthentication
{
    /// <summary>An account key read from Key Vault through the app's identity and sent as the <c>api-key</c> header.</summary>
    KeyVaultKey,

    /// <summary>No key at all: the app's identity gets an Entra ID token for the account (accounts with local auth disabled).</summary>
    ManagedIdentity,
}
