namespace AgentFunctions.Tests.Infrastructure;

[Collection(InfrastructureTestGroup.Name)]
public sealed class StorageTests(InfrastructureFixture infra)
{
    private IReadOnlyList<ArmResource> Defaults => infra.Deployment(Scenario.CreatedWithKey);

    [Fact]
    public void StorageAccount_SharedKeyAccess_IsOff()
    {
        var properties = Defaults.Single("Microsoft.Storage/storageAccounts").Properties;

        properties["allowSharedKeyAccess"].Should().Be(false);
        properties["defaultToOAuthAuthentication"].Should().Be(true);
    }

    [Fact]
    public void StorageAccount_PublicAccessAndTransport_AreLockedDown()
    {
        var properties = Defaults.Single("Microsoft.Storage/storageAccounts").Properties;

        properties["allowBlobPublicAccess"].Should().Be(false);
        properties["minimumTlsVersion"].Should().Be("TLS1_2");
        properties["supportsHttpsTrafficOnly"].Should().Be(true);
        properties["allowCrossTenantReplication"].Should().Be(false);
        Defaults.OfType("Microsoft.Storage/storageAccounts/blobServices/containers")
            .Should().NotBeEmpty()
            .And.OnlyContain(c => Equals(c.Evaluate("properties", "publicAccess"), "None"));
    }

    [Theory]
    [InlineData("AzureWebJobsStorage", new[] { "blob", "queue", "table" })]
    [InlineData("RunStateStorage", new[] { "blob" })]
    public void AppSettings_StorageConnection_IsIdentityBasedWithOnlyTheServicesItUses(string connection, string[] services)
    {
        foreach (var scenario in Scenario.Parameters.Keys)
        {
            var settings = infra.Deployment(scenario).AppSettings();
            var ofConnection = settings.Where(s => s.Key.StartsWith(connection + "__", StringComparison.Ordinal))
                .ToDictionary(s => s.Key[(connection.Length + 2)..], s => s.Value);

            var expectedKeys = services.Select(service => service + "ServiceUri").Append("credential")
                .Concat(connection == "AzureWebJobsStorage" ? ["accountName"] : Array.Empty<string>());
            ofConnection.Keys.Should().BeEquivalentTo(expectedKeys, $"scenario {scenario}");
            ofConnection["credential"].Should().Be("managedidentity");
            foreach (var service in services)
            {
                ArmScope.Render(ofConnection[service + "ServiceUri"]).Should()
                    .StartWith("reference(resourceId('Microsoft.Storage/storageAccounts', ")
                    .And.EndWith($".primaryEndpoints.{service}");
            }
        }
    }

    [Fact]
    public void RoleAssignments_OnStorage_AreTheThreeDataRolesTheAppNeeds()
    {
        var onStorage = Defaults.RoleAssignments()
            .Where(a => a.ScopeText().StartsWith("resourceId('Microsoft.Storage/storageAccounts', ", StringComparison.Ordinal))
            .Select(a => a.RoleGuid());

        onStorage.Should().BeEquivalentTo(
        [
            "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", // Storage Blob Data Owner
            "974c5e8b-45b9-4653-ba55-5f855dd0fb88", // Storage Queue Data Contributor
            "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", // Storage Table Data Contributor
        ]);
    }
}
