using AgentFunctions.Composition;
using AgentFunctions.Configuration;
using AgentFunctions.Credentials;
using Azure.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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
    [InlineData("KeyCache:TimeToLive", "five minutes", "KeyCache:TimeToLive (app setting KeyCache__TimeToLive) must be a time span")]
    [InlineData("AzureOpenAI:Authentication", "ApiKeyInAppSettings",
        "AzureOpenAI:Authentication (app setting AzureOpenAI__Authentication) must be one of KeyVaultKey, ManagedIdentity")]
    [InlineData("Agents:MaxInputCharacters", "abc", "Agents:MaxInputCharacters (app setting Agents__MaxInputCharacters) must be a whole number")]
    [InlineData("Agents:MaxRequestBytes", "99999999999", "Agents:MaxRequestBytes (app setting Agents__MaxRequestBytes) must be a whole number")]
    [InlineData("KeyCache:JitterRatio", "ten percent", "KeyCache:JitterRatio (app setting KeyCache__JitterRatio) must be a number")]
    public void Validate_UnreadableSetting_FailsNamingTheKeyWithoutItsValue(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?>(ValidSettings) { [key] = value };

        var act = () => Validate(settings);

        var message = act.Should().Throw<OptionsValidationException>().Which.Message;
        message.Should().Contain(expected).And.NotContain(value, "a value set in the wrong place could be a secret");
    }

    [Fact]
    public void Validate_UnreadableAndOutOfRangeSettingsInOneSection_ReportsEveryOneAtOnce()
    {
        var settings = new Dictionary<string, string?>(ValidSettings)
        {
            ["KeyCache:TimeToLive"] = "five minutes",
            ["KeyCache:MaxRetryDelay"] = "soon",
            ["KeyCache:JitterRatio"] = "0.9",
        };

        var act = () => Validate(settings);

        act.Should().Throw<OptionsValidationException>().Which.Failures.Should().HaveCount(3)
            .And.Contain(failure => failure.StartsWith("KeyCache:TimeToLive (app setting", StringComparison.Ordinal))
            .And.Contain(failure => failure.StartsWith("KeyCache:MaxRetryDelay (app setting", StringComparison.Ordinal))
            .And.Contain(failure => failure.StartsWith("KeyCache:JitterRatio must be between 0 and 0.5", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_UnreadableSettingsInTwoSections_ReportsBoth()
    {
        var settings = new Dictionary<string, string?>(ValidSettings)
        {
            ["KeyCache:TimeToLive"] = "five minutes",
            ["Agents:MaxInputCharacters"] = "many",
        };

        var act = () => Validate(settings);

        act.Should().Throw<AggregateException>().Which.InnerExceptions.Should().HaveCount(2)
            .And.Contain(exception => exception.Message.Contains("KeyCache:TimeToLive", StringComparison.Ordinal))
            .And.Contain(exception => exception.Message.Contains("Agents:MaxInputCharacters", StringComparison.Ordinal));
    }

    [Fact]
    public void Bind_UnreadableValue_LeavesItOutAndBindsTheRest()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["KeyCache:TimeToLive"] = "five minutes",
            ["KeyCache:MaxStaleness"] = "00:10:00",
            ["KeyCache:JitterRatio"] = "0.25",
        }).Build();
        var options = new KeyCacheOptions();

        var failures = FlatSettingsBinder.Bind(configuration.GetSection(KeyCacheOptions.SectionName), options);

        failures.Should().ContainSingle().Which.Should().StartWith("KeyCache:TimeToLive (app setting KeyCache__TimeToLive)");
        options.TimeToLive.Should().Be(TimeSpan.FromMinutes(5), "the unreadable value is left out and the default stays");
        options.MaxStaleness.Should().Be(TimeSpan.FromMinutes(10));
        options.JitterRatio.Should().Be(0.25);
    }

    [Fact]
    public async Task StartupChecks_ScheduledAgentNotInCatalog_StopsTheAppNamingTheSettingAndTheCatalog()
    {
        var settings = new Dictionary<string, string?>(ValidSettings)
        {
            ["ScheduledRun:Agent"] = "asistant",
            ["ScheduledRun:Input"] = "Summarise the night.",
        };

        var act = () => StartHostedServicesAsync(settings);

        (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should()
            .Be("ScheduledRun:Agent (app setting ScheduledRun__Agent) names an agent that is not in the catalog; "
                + "the catalog has assistant, timekeeper.");
    }

    [Theory]
    [InlineData("assistant")]
    [InlineData("ASSISTANT")]
    [InlineData(null)]
    public async Task StartupChecks_ScheduledAgentInCatalogOrNone_Starts(string? agent)
    {
        var settings = new Dictionary<string, string?>(ValidSettings)
        {
            ["ScheduledRun:Agent"] = agent,
            ["ScheduledRun:Input"] = agent is null ? null : "Summarise the night.",
        };

        var act = () => StartHostedServicesAsync(settings);

        await act.Should().NotThrowAsync();
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

    private static async Task StartHostedServicesAsync(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        await using var provider = new ServiceCollection().AddLogging().AddAgentFunctions(configuration).BuildServiceProvider();
        foreach (var service in provider.GetServices<IHostedService>())
        {
            await service.StartAsync(CancellationToken.None);
        }
    }

    private static void Validate(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging().AddAgentFunctions(configuration);
        using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();
    }
}
