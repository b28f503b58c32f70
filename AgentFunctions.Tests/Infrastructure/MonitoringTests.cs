namespace AgentFunctions.Tests.Infrastructure;

[Collection(InfrastructureTestGroup.Name)]
public sealed class MonitoringTests(InfrastructureFixture infra)
{
    private IReadOnlyList<ArmResource> Defaults => infra.Deployment(Scenario.CreatedWithKey);

    [Fact]
    public void ApplicationInsights_LocalAuth_IsOffAndTheWorkspaceIsSet()
    {
        var properties = Defaults.Single("Microsoft.Insights/components").Properties;

        properties["DisableLocalAuth"].Should().Be(true);
        ArmScope.Render(properties["WorkspaceResourceId"]).Should().Contain("'loganalytics'").And.EndWith(".outputs.id.value");
    }

    [Fact]
    public void LogAnalytics_LocalAuth_IsOff()
    {
        var features = Defaults.Single("Microsoft.OperationalInsights/workspaces").Evaluate("properties", "features")
            as Dictionary<string, object?>;

        features.Should().NotBeNull();
        features!["disableLocalAuth"].Should().Be(true);
    }

    [Fact]
    public void AppSettings_Telemetry_IsSentWithTheAppIdentity()
    {
        var settings = Defaults.AppSettings();

        settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"].Should().Be("Authorization=AAD");
        SecretDetector.IsAppInsightsConnectionStringFromComponent(
            SecretDetector.AppInsightsConnectionStringSetting, settings[SecretDetector.AppInsightsConnectionStringSetting])
            .Should().BeTrue("the connection string is read from the component, not pasted");
    }

    [Fact]
    public void MetricsPublisherRole_IsGrantedOnApplicationInsights()
    {
        var grant = Defaults.RoleAssignments().Where(a => a.RoleGuid() == "3913510d-42f4-4e42-8a64-420c390055eb").ToList();

        grant.Should().ContainSingle();
        grant[0].ScopeText().Should().StartWith("resourceId('Microsoft.Insights/components', ");
    }
}
