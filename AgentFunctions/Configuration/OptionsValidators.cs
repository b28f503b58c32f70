using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace AgentFunctions.Configuration;

// Each message names the setting as an operator types it (section:key, or section__key in app settings) and says what
// a good value looks like, because these messages are the only thing an operator sees when the app refuses to start.

internal sealed class AzureOpenAIOptionsValidator : IValidateOptions<AzureOpenAIOptions>
{
    public ValidateOptionsResult Validate(string? name, AzureOpenAIOptions options)
    {
        var failures = new List<string>();
        if (options.Endpoint is null)
        {
            failures.Add("AzureOpenAI:Endpoint is required (app setting AzureOpenAI__Endpoint): "
                + "set it to the account endpoint, for example https://my-account.openai.azure.com/.");
        }
        else if (!options.Endpoint.IsAbsoluteUri || options.Endpoint.Scheme != Uri.UriSchemeHttps)
        {
            failures.Add("AzureOpenAI:Endpoint must be an absolute https URI, for example https://my-account.openai.azure.com/.");
        }

        if (!Enum.IsDefined(options.Authentication))
        {
            failures.Add("AzureOpenAI:Authentication must be KeyVaultKey or ManagedIdentity.");
        }

        if (options.DefaultDeployment is { } deployment && string.IsNullOrWhiteSpace(deployment))
        {
            failures.Add("AzureOpenAI:DefaultDeployment must not be blank when it is set.");
        }

        if (options.NetworkTimeout <= TimeSpan.Zero || options.NetworkTimeout > TimeSpan.FromMinutes(10))
        {
            failures.Add($"AzureOpenAI:NetworkTimeout must be more than 0 and at most 00:10:00; it is {options.NetworkTimeout}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

// Reads the mode straight from configuration: going through IOptions<AzureOpenAIOptions> would run that section's
// validation inside this one and report its failure in place of ours.
internal sealed class KeyVaultOptionsValidator(IConfiguration configuration) : IValidateOptions<KeyVaultOptions>
{
    public ValidateOptionsResult Validate(string? name, KeyVaultOptions options)
    {
        string? mode = configuration[$"{AzureOpenAIOptions.SectionName}:{nameof(AzureOpenAIOptions.Authentication)}"];
        if (!string.IsNullOrEmpty(mode) && !mode.Equals(nameof(AzureOpenAIAuthentication.KeyVaultKey), StringComparison.OrdinalIgnoreCase))
        {
            return ValidateOptionsResult.Skip;
        }

        var failures = new List<string>();
        if (options.VaultUri is null)
        {
            failures.Add("KeyVault:VaultUri is required when AzureOpenAI:Authentication is KeyVaultKey "
                + "(app setting KeyVault__VaultUri): set it to the vault URI, for example https://my-vault.vault.azure.net/.");
        }
        else if (!options.VaultUri.IsAbsoluteUri || options.VaultUri.Scheme != Uri.UriSchemeHttps)
        {
            failures.Add("KeyVault:VaultUri must be an absolute https URI, for example https://my-vault.vault.azure.net/.");
        }

        if (!IsValidSecretName(options.SecretName))
        {
            failures.Add("KeyVault:SecretName must be 1 to 127 letters, digits or dashes, as Key Vault requires; "
                + $"the default is {KeyVaultOptions.DefaultSecretName}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsValidSecretName(string? secretName) =>
        !string.IsNullOrEmpty(secretName) && secretName.Length <= 127 && secretName.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');
}

internal sealed class KeyCacheOptionsValidator : IValidateOptions<KeyCacheOptions>
{
    public ValidateOptionsResult Validate(string? name, KeyCacheOptions options)
    {
        var failures = new List<string>();
        if (options.TimeToLive < KeyCacheOptions.MinimumTimeToLive || options.TimeToLive > KeyCacheOptions.MaximumTimeToLive)
        {
            failures.Add($"KeyCache:TimeToLive must be between {KeyCacheOptions.MinimumTimeToLive} and "
                + $"{KeyCacheOptions.MaximumTimeToLive}; it is {options.TimeToLive}.");
        }

        if (double.IsNaN(options.JitterRatio) || options.JitterRatio < 0 || options.JitterRatio > KeyCacheOptions.MaximumJitterRatio)
        {
            failures.Add($"KeyCache:JitterRatio must be between 0 and {KeyCacheOptions.MaximumJitterRatio}; it is {options.JitterRatio}.");
        }

        if (options.RefreshAhead < TimeSpan.Zero || options.RefreshAhead >= options.TimeToLive / 2)
        {
            failures.Add($"KeyCache:RefreshAhead must be at least 0 and less than half of KeyCache:TimeToLive ({options.TimeToLive / 2}); "
                + $"it is {options.RefreshAhead}.");
        }

        if (options.MaxStaleness < TimeSpan.Zero || options.MaxStaleness > KeyCacheOptions.MaximumStaleness)
        {
            failures.Add($"KeyCache:MaxStaleness must be between 00:00:00 and {KeyCacheOptions.MaximumStaleness}; it is {options.MaxStaleness}.");
        }

        if (options.MinRetryDelay <= TimeSpan.Zero || options.MinRetryDelay > options.MaxRetryDelay)
        {
            failures.Add($"KeyCache:MinRetryDelay must be more than 0 and at most KeyCache:MaxRetryDelay ({options.MaxRetryDelay}); "
                + $"it is {options.MinRetryDelay}.");
        }

        if (options.MaxRetryDelay > TimeSpan.FromHours(1))
        {
            failures.Add($"KeyCache:MaxRetryDelay must be at most 01:00:00; it is {options.MaxRetryDelay}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal sealed class IdentityOptionsValidator : IValidateOptions<IdentityOptions>
{
    public ValidateOptionsResult Validate(string? name, IdentityOptions options)
    {
        var failures = new List<string>();
        if (!Enum.IsDefined(options.Source))
        {
            failures.Add("Identity:Source must be Auto, ManagedIdentity or DeveloperSignIn.");
        }

        bool clientIdSet = !string.IsNullOrWhiteSpace(options.ManagedIdentityClientId);
        if (clientIdSet && !Guid.TryParse(options.ManagedIdentityClientId, out _))
        {
            failures.Add("Identity:ManagedIdentityClientId must be the client id (a GUID) of a user-assigned identity when it is set.");
        }

        if (clientIdSet && options.Source == IdentitySource.DeveloperSignIn)
        {
            failures.Add("Identity:ManagedIdentityClientId cannot be used with Identity:Source DeveloperSignIn.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal sealed class AgentsOptionsValidator : IValidateOptions<AgentsOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentsOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.CatalogPath))
        {
            failures.Add("Agents:CatalogPath must name the agent catalog file; the default is agents.json.");
        }

        if (options.MaxInputCharacters < 1 || options.MaxInputCharacters > AgentsOptions.MaximumInputCharactersCeiling)
        {
            failures.Add($"Agents:MaxInputCharacters must be between 1 and {AgentsOptions.MaximumInputCharactersCeiling}; "
                + $"it is {options.MaxInputCharacters}.");
        }

        if (options.MaxRequestBytes < 1024 || options.MaxRequestBytes > AgentsOptions.MaximumRequestBytesCeiling)
        {
            failures.Add($"Agents:MaxRequestBytes must be between 1024 and {AgentsOptions.MaximumRequestBytesCeiling}; "
                + $"it is {options.MaxRequestBytes}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal sealed class RunStateStorageOptionsValidator : IValidateOptions<RunStateStorageOptions>
{
    public ValidateOptionsResult Validate(string? name, RunStateStorageOptions options)
    {
        var failures = new List<string>();
        if (options.BlobServiceUri is null)
        {
            failures.Add("RunStateStorage:BlobServiceUri is required (app setting RunStateStorage__blobServiceUri): set it to the "
                + "storage account's blob endpoint, for example https://mystorage.blob.core.windows.net/.");
        }
        else if (!options.BlobServiceUri.IsAbsoluteUri || options.BlobServiceUri.Scheme != Uri.UriSchemeHttps)
        {
            failures.Add("RunStateStorage:BlobServiceUri must be an absolute https URI: the app authenticates with its identity, "
                + "which needs TLS.");
        }

        string container = options.ContainerName ?? string.Empty;
        if (container.Length is < 3 or > 63 || !container.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
            || container.StartsWith('-') || container.Contains("--", StringComparison.Ordinal))
        {
            failures.Add("RunStateStorage:ContainerName must be 3 to 63 lower-case letters, digits or single dashes, as Azure Storage "
                + "requires; the default is agent-runs.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal sealed class ScheduledRunOptionsValidator(IConfiguration configuration) : IValidateOptions<ScheduledRunOptions>
{
    public ValidateOptionsResult Validate(string? name, ScheduledRunOptions options)
    {
        var failures = new List<string>();
        string? schedule = configuration[ScheduledRunOptions.ScheduleSettingName];
        if (string.IsNullOrWhiteSpace(schedule))
        {
            failures.Add($"{ScheduledRunOptions.ScheduleSettingName} is required by the ScheduledRun timer: set an NCRONTAB "
                + "schedule such as '0 0 6 * * *' (06:00 daily), and leave ScheduledRun:Agent empty to start nothing.");
        }
        else if (Runs.ScheduleOccurrences.TryParse(schedule) is null)
        {
            failures.Add($"{ScheduledRunOptions.ScheduleSettingName} must be an NCRONTAB expression with 5 or 6 fields, "
                + "for example '0 0 6 * * *'.");
        }

        if (!string.IsNullOrWhiteSpace(options.Agent) && string.IsNullOrWhiteSpace(options.Input))
        {
            failures.Add("ScheduledRun:Input is required when ScheduledRun:Agent is set.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
