namespace AgentFunctions.DevHost.Doubles;

/// <summary>Names and deployments of the Azure OpenAI double; each default is what the local host uses.</summary>
internal sealed class AzureOpenAIDoubleOptions
{
    /// <summary>The default deployment, serving <see cref="DefaultModel"/>.</summary>
    public const string DefaultDeployment = "gpt-4o-mini";

    /// <summary>The model version the default deployment reports in <c>model</c>.</summary>
    public const string DefaultModel = "gpt-4o-mini-2024-07-18";

    /// <summary>The account name, the first label of its host name. Default <c>agentfunctions</c>.</summary>
    public string AccountName { get; set; } = "agentfunctions";

    /// <summary>Deployment name to model name. Default one deployment, <see cref="DefaultDeployment"/>.</summary>
    public Dictionary<string, string> Deployments { get; } = new(StringComparer.Ordinal)
    {
        [DefaultDeployment] = DefaultModel,
    };

    public string SubscriptionId { get; set; } = LocalAzureDefaults.SubscriptionId;

    public string ResourceGroup { get; set; } = LocalAzureDefaults.ResourceGroup;

    /// <summary>What responses report in <c>x-ms-region</c>. Default <c>local</c>.</summary>
    public string Region { get; set; } = LocalAzureDefaults.Region;

    /// <summary>Throws when a name could not be a label of the account's host name.</summary>
    public void Validate() => LocalAzureDefaults.ValidateHostLabel(AccountName, "AzureOpenAIDoubleOptions.AccountName");
}
