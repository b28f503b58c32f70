using AgentFunctions.DevHost.Doubles;

namespace AgentFunctions.Tests.Doubles;

/// <summary>
/// A vault and an Azure OpenAI account of one test's own, trusted by the shared tenant and reachable through the shared
/// proxy, so that a test may rotate keys and inject failures while still using the process's one managed identity.
/// </summary>
internal sealed class PrivateAccount : IAsyncDisposable
{
    public const string SecretName = LocalAzure.OpenAIKeySecretName;

    private PrivateAccount(KeyVaultDouble vault, AzureOpenAIDouble openAI)
    {
        Vault = vault;
        OpenAI = openAI;
    }

    public KeyVaultDouble Vault { get; }

    public AzureOpenAIDouble OpenAI { get; }

    /// <summary>Starts both, seeds the secret with Key1 and, unless told not to, grants the app's identity its roles.</summary>
    public static async Task<PrivateAccount> StartAsync(bool grantAppIdentity = true)
    {
        var shared = SharedLocalAzure.Instance;
        var vault = await KeyVaultDouble.StartAsync(shared.Tenant, shared.CertificateAuthority.ServerCertificate);
        var openAI = await AzureOpenAIDouble.StartAsync(shared.Tenant, shared.CertificateAuthority.ServerCertificate);
        shared.Proxy.AllowPort(vault.Port);
        shared.Proxy.AllowPort(openAI.Port);
        vault.SetSecret(SecretName, openAI.GetKeys().Key1);
        if (grantAppIdentity)
        {
            vault.GrantRole(shared.AppIdentity.ObjectId, AzureRoles.KeyVaultSecretsUser, SecretName);
            openAI.GrantRole(shared.AppIdentity.ObjectId, AzureRoles.CognitiveServicesOpenAIUser);
        }

        return new PrivateAccount(vault, openAI);
    }

    /// <summary>Publishes the spare key as a new secret version, then regenerates the key in use, as an operator does.</summary>
    public void Rotate()
    {
        var keys = OpenAI.GetKeys();
        bool key1InUse = Vault.PeekCurrentValue(SecretName) == keys.Key1;
        string published = OpenAI.RegenerateKey(key1InUse ? KeyName.Key2 : KeyName.Key1);
        Vault.SetSecret(SecretName, published);
        OpenAI.RegenerateKey(key1InUse ? KeyName.Key1 : KeyName.Key2);
    }

    public async ValueTask DisposeAsync()
    {
        await Vault.DisposeAsync();
        await OpenAI.DisposeAsync();
    }
}
