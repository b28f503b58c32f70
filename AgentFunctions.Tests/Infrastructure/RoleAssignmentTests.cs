namespace AgentFunctions.Tests.Infrastructure;

[Collection(InfrastructureTestGroup.Name)]
public sealed class RoleAssignmentTests(InfrastructureFixture infra)
{
    private const string BlobOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    private const string QueueContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    private const string TableContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    private const string MetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb";
    private const string SecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";
    private const string OpenAiUser = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd";

    public static TheoryData<string> Scenarios => [.. Scenario.Parameters.Keys];

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void RoleAssignments_Name_IsGuidOfScopePrincipalAndRole(string scenario)
    {
        foreach (var assignment in infra.Deployment(scenario).RoleAssignments())
        {
            var expected = $"guid({assignment.ScopeText()}, {ArmScope.Render(assignment.Evaluate("properties", "principalId"))}, " +
                $"{ArmScope.Render(assignment.Evaluate("properties", "roleDefinitionId"))})";

            ArmScope.Render(assignment.Evaluate("name")).Should().Be(expected, $"{assignment} must have a deterministic name");
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void RoleAssignments_Principal_IsTheFunctionAppIdentityAsServicePrincipal(string scenario)
    {
        foreach (var assignment in infra.Deployment(scenario).RoleAssignments())
        {
            assignment.Evaluate("properties", "principalType").Should().Be("ServicePrincipal");
            ArmScope.Render(assignment.Evaluate("properties", "principalId")).Should()
                .Contain("'Microsoft.Resources/deployments', 'api')").And.EndWith(".outputs.principalId.value");
        }
    }

    [Fact]
    public void AppModule_PrincipalIdOutput_IsTheSiteSystemAssignedIdentity()
    {
        var site = infra.Deployment(Scenario.CreatedWithKey).FunctionApp();

        // The site's module returns identity.principalId, and the app module passes that output on unchanged.
        ArmScope.Render(site.Scope.Evaluate(site.Scope.Template["outputs"]!["principalId"]!["value"])).Should()
            .StartWith("reference(resourceId('Microsoft.Web/sites', ").And.EndWith(".identity.principalId");
        var api = infra.Deployment(Scenario.CreatedWithKey).Single(r => r.Path == "api");
        api.Json["properties"]!["template"]!["outputs"]!["principalId"]!["value"]!.GetValue<string>().Should()
            .Be("[reference(resourceId('Microsoft.Resources/deployments', 'functionapp'), '2025-04-01').outputs.principalId.value]");
    }

    [Theory]
    [InlineData(Scenario.CreatedWithKey, SecretsUser)]
    [InlineData(Scenario.CreatedKeyless, OpenAiUser)]
    [InlineData(Scenario.ExistingWithOperatorKey, SecretsUser)]
    [InlineData(Scenario.ExistingKeepsVaultValue, SecretsUser)]
    [InlineData(Scenario.ExistingKeyless, null)]
    [InlineData(Scenario.Tuned, SecretsUser)]
    public void RoleAssignments_Scenario_GrantExactlyTheRolesItNeeds(string scenario, string? openAiAccess)
    {
        string[] always = [BlobOwner, QueueContributor, TableContributor, MetricsPublisher];

        infra.Deployment(scenario).RoleAssignments().Select(a => a.RoleGuid())
            .Should().BeEquivalentTo(openAiAccess is null ? always : [.. always, openAiAccess]);
    }

    [Fact]
    public void RoleDefinitions_Module_NamesEveryGrantedRole()
    {
        var named = infra.Deployment(Scenario.CreatedWithKey).Single(r => r.Path == "rbac").Json["properties"]!["template"]!
            ["variables"]!["builtInRoleIds"]!.AsObject()
            .ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());

        named.Should().BeEquivalentTo(new Dictionary<string, string>
        {
            ["storageBlobDataOwner"] = BlobOwner,
            ["storageQueueDataContributor"] = QueueContributor,
            ["storageTableDataContributor"] = TableContributor,
            ["keyVaultSecretsUser"] = SecretsUser,
            ["monitoringMetricsPublisher"] = MetricsPublisher,
            ["cognitiveServicesOpenAiUser"] = OpenAiUser,
        });
    }
}
