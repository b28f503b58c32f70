using AgentFunctions.Composition;
using AgentFunctions.Configuration;
using AgentFunctions.Credentials;
using Azure.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentFunctions.Tests.Configuration;

public sealed class StartupValidationTests
{
    private static readonly Dictionary<string, string?> ValidSettings = new()
    {
        ["AzureOpenAI:Endpoint"] = "https://example-account.openai.azure.com/",
        ["AzureOpenAI:DefaultDeployment"] = "chat",
        ["KeyVault:VaultUri"] = "https://example-vault.vault.azure.net/",
        ["Identity:Source"] = "ManagedIdentity",
        ["RunStateStorage:blobServiceUri"] = "https://examplestorage.blob.core.windows.net/",
        ["ScheduledRunSchedule"] = "0 0 6 * * *",
    };

    [Fact]
    public void Validate_ValidSettings_Passes()
    {
        var act = () => Validate(ValidSettings);

        act.Should().NotThrow();
    }

    [Theory]
    [InlineData("AzureOpenAI:Endpoint", null, "AzureOpenAI:Endpoint is required")]
    [InlineData("AzureOpenAI:Endpoint", "http://example-account.openai.azure.com/", "AzureOpenAI:Endpoint must be an absolute https URI")]
    [InlineData("KeyVault:VaultUri", null, "KeyVault:VaultUri is required")]
    [InlineData("KeyVault:SecretName", "bad_name!", "KeyVault:SecretName must be")]
    [InlineData("KeyCache:TimeToLive", "00:00:05", "KeyCache:TimeToLive must be between 00:00:10 and 01:00:00")]
    [InlineData("KeyCache:TimeToLive", "02:00:00", "KeyCache:TimeToLive must be between")]
    [InlineData("KeyCache:JitterRatio", "0.9", "KeyCache:JitterRatio must be between 0 and 0.5")]
    [InlineData("KeyCache:RefreshAhead", "00:03:00", "KeyCache:RefreshAhead must be at least 0 and less than half")]
    [InlineData("KeyCache:MaxStaleness", "2.00:00:00", "KeyCache:MaxStaleness must be between")]
    [InlineData("KeyCache:MinRetryDelay", "00:00:00", "KeyCache:MinRetryDelay must be more than 0")]
    [InlineData("Identity:ManagedIdentityClientId", "not-a-guid", "Identity:ManagedIdentityClientId must be the client id")]
    [InlineData("Agents:MaxInputCharacters", "0", "Agents:MaxInputCharacters must be between 1 and 100000")]
    [InlineData("Agents:MaxRequestBytes", "10", "Agents:MaxRequestBytes must be between 1024")]
    [InlineData("RunStateStorage:blobServiceUri", null, "RunStateStorage:BlobServiceUri is required")]
    [InlineData("RunStateStorage:blobServiceUri", "http://examplestorage.blob.core.windows.net/", "must be an absolute https URI")]
    [InlineData("RunStateStorage:ContainerName", "Agent_Runs", "RunStateStorage:ContainerName must be")]
    [InlineData("ScheduledRunSchedule", null, "ScheduledRunSchedule is required")]
    [InlineData("ScheduledRunSchedule", "every morning", "ScheduledRunSchedule must be an NCRONTAB expression")]
    [InlineData("ScheduledRun:Agent", "assistant", "ScheduledRun:Input is required")]
    public void Validate_BadSetting_FailsWithMessageNamingTheKey(string key, string? value, string expected)
    {
        var settings = new Dictionary<string, string?>(ValidSettings) { [key] = value };

        var act = () => Validate(settings);

        act.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(expected);
    }

    [Theory]
    [InlineData("KeyCache:TimeToLive", "five minutes")]
    [InlineData("AzureOpenAI:Authentication", "ApiKeyInAppSettings")]
    public void Validate_UnparsableSetting_FailsNamingTheKey(string key, string value)
    {
        var settings = new Dictionary<string, string?>(ValidSettings) { [key] = value };

        var act = () => Validate(settings);

        act.Should().Throw<InvalidOperationException>().Which.Message.Should().Contain(key);
    }

    [Fact]
    public void Validate_KeylessModeWithoutVault_Passes()
    {
        var settings = new Dictionary<string, string?>(ValidSettings)
        {
            ["AzureOpenAI:Authentication"] = "ManagedIdentity",
            ["KeyVault:VaultUri"] = null,
        };

        var act = () => Validate(settings);

        act.Should().NotThrow();
    }

    [Theory]
    [InlineData(IdentitySource.Auto, "http://127.0.0.1:41566/msi/token", IdentitySource.ManagedIdentity)]
    [InlineData(IdentitySource.Auto, null, IdentitySource.DeveloperSignIn)]
    [InlineData(IdentitySource.ManagedIdentity, null, IdentitySource.ManagedIdentity)]
    [InlineData(IdentitySource.DeveloperSignIn, "http://127.0.0.1:41566/msi/token", IdentitySource.DeveloperSignIn)]
    public void Resolve_IdentitySource_FollowsSettingThenPlatformEnvironment(IdentitySource setting, string? identityEndpoint,
        IdentitySource expected)
    {
        var resolved = AzureCredentialFactory.Resolve(new IdentityOptions { Source = setting },
            name => name == AzureCredentialFactory.IdentityEndpointVariable ? identityEndpoint : null);

        resolved.Should().Be(expected);
    }

    [Fact]
    public void Create_ManagedIdentitySource_IsTheManagedIdentityCredentialAlone()
    {
        var credential = AzureCredentialFactory.Create(new IdentityOptions { Source = IdentitySource.ManagedIdentity }, _ => null);

        credential.Should().BeOfType<ManagedIdentityCredential>("in Azure nothing but the managed identity is tried");
    }

    private static void Validate(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging().AddAgentFunctions(configuration);
        using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();
    }
}
