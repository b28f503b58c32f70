namespace AgentFunctions.Tests.Infrastructure;

[Collection(InfrastructureTestGroup.Name)]
public sealed class KeyVaultTests(InfrastructureFixture infra)
{
    private const string SecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";

    private IReadOnlyList<ArmResource> Defaults => infra.Deployment(Scenario.CreatedWithKey);

    [Fact]
    public void Vault_Authorization_IsRbacWithSoftDeleteAndPurgeProtection()
    {
        var properties = Defaults.Single("Microsoft.KeyVault/vaults").Properties;

        properties["enableRbacAuthorization"].Should().Be(true);
        properties["enableSoftDelete"].Should().Be(true);
        properties["enablePurgeProtection"].Should().Be(true);
        properties["softDeleteRetentionInDays"].Should().Be(90L);
        ((List<object?>)properties["accessPolicies"]!).Should().BeEmpty("RBAC decides; no access policy may grant anything");
    }

    [Fact]
    public void Vault_PublicNetworkAccess_FollowsItsParameter()
    {
        var open = Defaults.Single("Microsoft.KeyVault/vaults").Properties;
        var closed = infra.Deployment(Scenario.Tuned).Single("Microsoft.KeyVault/vaults").Properties;

        open["publicNetworkAccess"].Should().Be("Enabled");
        closed["publicNetworkAccess"].Should().Be("Disabled");
        ((Dictionary<string, object?>)closed["networkAcls"]!)["defaultAction"].Should().Be("Deny");
        infra.Template["parameters"]!["keyVaultPublicNetworkAccess"]!["allowedValues"]!.AsArray()
            .Select(v => (string?)v).Should().BeEquivalentTo(["Enabled", "Disabled"]);
    }

    [Theory]
    [InlineData(Scenario.CreatedWithKey)]
    [InlineData(Scenario.ExistingWithOperatorKey)]
    [InlineData(Scenario.ExistingKeepsVaultValue)]
    public void SecretsUserRole_KeyVaultKeyMode_IsScopedToTheApiKeySecretAlone(string scenario)
    {
        var grants = infra.Deployment(scenario).RoleAssignments().Where(a => a.RoleGuid() == SecretsUser).ToList();

        grants.Should().ContainSingle();
        grants[0].ScopeText().Should()
            .StartWith("resourceId('Microsoft.KeyVault/vaults/secrets', ")
            .And.EndWith(", 'azure-openai-api-key')", "the role is granted on the secret resource, not on the vault");
        grants[0].Evaluate("properties", "principalType").Should().Be("ServicePrincipal");
    }

    [Theory]
    [InlineData(Scenario.CreatedKeyless)]
    [InlineData(Scenario.ExistingKeyless)]
    public void SecretsUserRole_KeylessMode_IsNotGranted(string scenario)
    {
        infra.Deployment(scenario).RoleAssignments().Should().NotContain(a => a.RoleGuid() == SecretsUser);
    }

    [Fact]
    public void RoleAssignments_OnTheVaultItself_DoNotExist()
    {
        foreach (var scenario in Scenario.Parameters.Keys)
        {
            infra.Deployment(scenario).RoleAssignments()
                .Should().NotContain(a => a.ScopeText().StartsWith("resourceId('Microsoft.KeyVault/vaults', ", StringComparison.Ordinal),
                    $"scenario {scenario}: a vault-wide grant would let the app read every secret");
        }
    }
}
