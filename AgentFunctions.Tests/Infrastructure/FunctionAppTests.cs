namespace AgentFunctions.Tests.Infrastructure;

[Collection(InfrastructureTestGroup.Name)]
public sealed class FunctionAppTests(InfrastructureFixture infra)
{
    private IReadOnlyList<ArmResource> Defaults => infra.Deployment(Scenario.CreatedWithKey);

    [Fact]
    public void Site_Identity_IsSystemAssigned()
    {
        Defaults.FunctionApp().Evaluate("identity", "type").Should().Be("SystemAssigned");
    }

    [Fact]
    public void Site_Transport_IsHttpsOnlyWithTls12Minimum()
    {
        var site = Defaults.FunctionApp();

        site.Evaluate("properties", "httpsOnly").Should().Be(true);
        site.Evaluate("properties", "siteConfig", "minTlsVersion").Should().Be("1.2");
        site.Evaluate("properties", "siteConfig", "scmMinTlsVersion").Should().Be("1.2");
    }

    [Fact]
    public void Site_Ftp_IsDisabled()
    {
        Defaults.FunctionApp().Evaluate("properties", "siteConfig", "ftpsState").Should().Be("Disabled");
    }

    [Fact]
    public void BasicPublishingCredentials_FtpAndScm_AreNotAllowed()
    {
        var policies = Defaults.OfType("Microsoft.Web/sites/basicPublishingCredentialsPolicies").ToList();

        // Names are "<site>/ftp" and "<site>/scm"; the site name is only known at deployment.
        policies.Select(p => ArmScope.Render(p.Evaluate("name"))[^6..])
            .Should().BeEquivalentTo(["'ftp')", "'scm')"], "FTP and the SCM (Kudu) site each need their own policy");
        policies.Should().OnlyContain(p => Equals(p.Evaluate("properties", "allow"), false));
    }

    [Fact]
    public void Site_FlexConsumption_RunsDotnetIsolated10OnLinux()
    {
        var site = Defaults.FunctionApp();
        var plan = Defaults.Single("Microsoft.Web/serverfarms");

        site.Evaluate("kind").Should().Be("functionapp,linux");
        site.Evaluate("properties", "functionAppConfig", "runtime", "name").Should().Be("dotnet-isolated");
        site.Evaluate("properties", "functionAppConfig", "runtime", "version").Should().Be("10.0");
        plan.Evaluate("sku", "name").Should().Be("FC1");
        plan.Evaluate("sku", "tier").Should().Be("FlexConsumption");
        plan.Evaluate("properties", "reserved").Should().Be(true, "reserved marks a Linux plan");
    }

    [Fact]
    public void Site_DeploymentStorage_IsReadWithTheSystemAssignedIdentity()
    {
        var storage = Defaults.FunctionApp().Evaluate("properties", "functionAppConfig", "deployment", "storage")
            as Dictionary<string, object?>;

        storage.Should().NotBeNull();
        storage!["type"].Should().Be("blobContainer");
        ((Dictionary<string, object?>)storage["authentication"]!)["type"].Should().Be("SystemAssignedIdentity");
        ((Dictionary<string, object?>)storage["authentication"]!).Should().NotContainKey("storageAccountConnectionStringName");
        ArmScope.Render(storage["value"]).Should().Contain(".primaryEndpoints.blob").And.Contain("app-package-");
    }

    [Fact]
    public void Site_Tags_NameTheAzdService()
    {
        var tags = (Dictionary<string, object?>)Defaults.FunctionApp().Evaluate("tags")!;

        tags.Should().Contain("azd-service-name", "api", "azure.yaml deploys the service named api to the resource with this tag");
    }

    [Fact]
    public void AppSettings_KeyVaultKeyMode_AreExactlyTheSettingsTheAppReads()
    {
        Defaults.AppSettings().Keys.Should().BeEquivalentTo(
        [
            "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__queueServiceUri",
            "AzureWebJobsStorage__tableServiceUri", "AzureWebJobsStorage__credential",
            "RunStateStorage__blobServiceUri", "RunStateStorage__credential",
            "APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
            "AzureOpenAI__Endpoint", "AzureOpenAI__Authentication", "AzureOpenAI__DefaultDeployment",
            "KeyVault__VaultUri", "KeyVault__SecretName", "Identity__Source",
            "ScheduledRunSchedule", "ScheduledRun__Agent", "ScheduledRun__Input",
        ]);
    }

    [Fact]
    public void AppSettings_KeyVaultKeyMode_NameTheVaultAndTheSecret()
    {
        var settings = Defaults.AppSettings();

        settings["AzureOpenAI__Authentication"].Should().Be("KeyVaultKey");
        settings["KeyVault__SecretName"].Should().Be("azure-openai-api-key");
        ArmScope.Render(settings["KeyVault__VaultUri"]).Should().Contain("'keyvault'").And.EndWith(".outputs.vaultUri.value");
        settings["Identity__Source"].Should().Be("ManagedIdentity");
        settings["AzureOpenAI__DefaultDeployment"].Should().NotBeNull();
    }

    [Fact]
    public void AppSettings_KeyCacheTimeToLive_IsSetOnlyWhenItsParameterIs()
    {
        Defaults.AppSettings().Should().NotContainKey("KeyCache__TimeToLive", "unset, the app's 00:05:00 default applies");
        infra.Deployment(Scenario.Tuned).AppSettings().Should().Contain("KeyCache__TimeToLive", "00:02:00");
    }

    [Theory]
    [InlineData("FUNCTIONS_WORKER_RUNTIME")]
    [InlineData("FUNCTIONS_EXTENSION_VERSION")]
    [InlineData("FUNCTIONS_WORKER_RUNTIME_VERSION")]
    [InlineData("WEBSITE_RUN_FROM_PACKAGE")]
    [InlineData("AzureWebJobsStorage")]
    [InlineData("WEBSITE_CONTENTAZUREFILECONNECTIONSTRING")]
    public void AppSettings_FlexConsumption_LeaveOutSettingsThePlanRejectsOrIgnores(string setting)
    {
        foreach (var scenario in Scenario.Parameters.Keys)
        {
            infra.Deployment(scenario).AppSettings().Should().NotContainKey(setting, $"scenario {scenario}");
        }
    }

    [Fact]
    public void Site_InstanceMemory_FollowsItsParameter()
    {
        string[] memory = ["properties", "functionAppConfig", "scaleAndConcurrency", "instanceMemoryMB"];

        Defaults.FunctionApp().Evaluate(memory).Should().Be(2048L);
        infra.Deployment(Scenario.Tuned).FunctionApp().Evaluate(memory).Should().Be(4096L);
    }
}
