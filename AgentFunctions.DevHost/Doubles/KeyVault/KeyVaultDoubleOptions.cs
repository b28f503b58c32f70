namespace AgentFunctions.DevHost.Doubles;

/// <summary>Names the vault double answers under; each default is what the local host uses.</summary>
internal sealed class KeyVaultDoubleOptions
{
    /// <summary>The vault name, the first label of its host name. Default <c>agentfunctions</c>.</summary>
    public string VaultName { get; set; } = "agentfunctions";

    /// <summary>The subscription in the vault's resource id. Default an all-zero-looking fake GUID.</summary>
    public string SubscriptionId { get; set; } = LocalAzureDefaults.SubscriptionId;

    /// <summary>The resource group in the vault's resource id. Default <c>rg-agentfunctions-local</c>.</summary>
    public string ResourceGroup { get; set; } = LocalAzureDefaults.ResourceGroup;

    /// <summary>What the vault reports as its region. Default <c>local</c>.</summary>
    public string Region { get; set; } = LocalAzureDefaults.Region;

    /// <summary>Throws when a name could not be a label of the vault's host name.</summary>
    public void Validate() => LocalAzureDefaults.ValidateHostLabel(VaultName, "KeyVaultDoubleOptions.VaultName");
}

/// <summary>Values the doubles share so that their resource ids and messages agree.</summary>
internal static class LocalAzureDefaults
{
    public const string SubscriptionId = "00000000-0000-0000-0000-00000000a9f1";
    public const string ResourceGroup = "rg-agentfunctions-local";
    public const string Region = "local";

    /// <summary>Throws unless <paramref name="value"/> is a DNS label: 1-63 letters, digits or inner hyphens.</summary>
    public static void ValidateHostLabel(string value, string settingName)
    {
        var valid = value is { Length: > 0 and <= 63 } &&
            value[0] != '-' && value[^1] != '-' &&
            value.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');
        if (!valid)
        {
            throw new ArgumentException(
                $"{settingName} is '{value}', which cannot be part of a host name: use 1-63 letters, digits or " +
                "inner hyphens.",
                settingName);
        }
    }
}
