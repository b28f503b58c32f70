namespace AgentFunctions.Tests.Infrastructure;

/// <summary>The Azure OpenAI switch: created or existing endpoint, key from the vault or keyless.</summary>
[Collection(InfrastructureTestGroup.Name)]
public sealed class OpenAiModeTests(InfrastructureFixture infra)
{
    private const string AccountType = "Microsoft.CognitiveServices/accounts";
    private const string OpenAiUser = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd";

    [Fact]
    public void CreatedAccount_KeyVaultKeyMode_KeepsKeysOnAndWritesKey1IntoTheVault()
    {
        var deployment = infra.Deployment(Scenario.CreatedWithKey);
        var account = deployment.Single(AccountType);
        var secret = deployment.Single(ArmResourceQueries.SecretType);

        account.Evaluate("kind").Should().Be("OpenAI");
        account.Evaluate("properties", "disableLocalAuth").Should().Be(false, "the app authenticates with a key in this mode");
        ArmScope.Render(secret.Evaluate("name")).Should().EndWith(", 'azure-openai-api-key')");
        ArmScope.Render(secret.Evaluate("properties", "value")).Should()
            .StartWith("listKeys(resourceId('Microsoft.CognitiveServices/accounts', ")
            .And.Contain("'openai'")
            .And.EndWith(".key1");
        deployment.RoleAssignments().Should().NotContain(a => a.RoleGuid() == OpenAiUser);
    }

    [Fact]
    public void CreatedAccount_ModelDeployment_TakesItsParameters()
    {
        var modelDeployment = infra.Deployment(Scenario.CreatedWithKey)
            .Single("Microsoft.CognitiveServices/accounts/deployments");
        var parameters = infra.Template["parameters"]!;
        object? Default(string name) => ArmScope.FromLiteral(parameters[name]!["defaultValue"]);

        modelDeployment.Evaluate("properties", "model", "name").Should().Be(Default("openAiModelName"));
        modelDeployment.Evaluate("properties", "model", "version").Should().Be(Default("openAiModelVersion"));
        modelDeployment.Evaluate("sku", "name").Should().Be(Default("openAiDeploymentSkuName"));
        modelDeployment.Evaluate("sku", "capacity").Should().Be(Default("openAiDeploymentCapacity"));
    }

    [Fact]
    public void CreatedAccount_ManagedIdentityMode_TurnsLocalAuthOffAndGrantsTheOpenAiUserRole()
    {
        var deployment = infra.Deployment(Scenario.CreatedKeyless);
        var grants = deployment.RoleAssignments().Where(a => a.RoleGuid() == OpenAiUser).ToList();

        deployment.Single(AccountType).Evaluate("properties", "disableLocalAuth").Should().Be(true);
        grants.Should().ContainSingle();
        grants[0].ScopeText().Should().StartWith("resourceId('Microsoft.CognitiveServices/accounts', ");
        grants[0].Evaluate("properties", "principalType").Should().Be("ServicePrincipal");
        deployment.OfType(ArmResourceQueries.SecretType).Should().BeEmpty("keyless mode creates no key secret");
    }

    [Theory]
    [InlineData(Scenario.CreatedKeyless)]
    [InlineData(Scenario.ExistingKeyless)]
    public void AppSettings_ManagedIdentityMode_SayKeylessAndNameNoVault(string scenario)
    {
        var settings = infra.Deployment(scenario).AppSettings();

        settings["AzureOpenAI__Authentication"].Should().Be("ManagedIdentity");
        settings.Keys.Should().NotContain(k => k.StartsWith("KeyVault__", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(Scenario.ExistingWithOperatorKey)]
    [InlineData(Scenario.ExistingKeepsVaultValue)]
    [InlineData(Scenario.ExistingKeyless)]
    public void ExistingEndpoint_AnyMode_CreatesNoAccountAndPointsTheAppAtIt(string scenario)
    {
        var deployment = infra.Deployment(scenario);
        var settings = deployment.AppSettings();

        deployment.OfType(AccountType).Should().BeEmpty();
        settings["AzureOpenAI__Endpoint"].Should().Be(Scenario.ExistingEndpoint);
        settings["AzureOpenAI__DefaultDeployment"].Should().Be("chat");
        deployment.RoleAssignments().Should().NotContain(a => a.RoleGuid() == OpenAiUser,
            "the template cannot grant on an account it does not manage; infra/README.md shows the command");
    }

    [Fact]
    public void ExistingEndpoint_OperatorKeyGiven_IsWrittenIntoTheVaultOnly()
    {
        var secret = infra.Deployment(Scenario.ExistingWithOperatorKey).Single(ArmResourceQueries.SecretType);

        ArmScope.Render(secret.Evaluate("name")).Should().EndWith(", 'azure-openai-api-key')");
        secret.Evaluate("properties", "value").Should().Be(Scenario.OperatorKeyStandIn);
        secret.Scope.ParameterType("value").Should().Be("securestring", "a secure parameter is kept out of deployment logs");
        infra.Template["parameters"]!["openAiApiKey"]!["type"]!.GetValue<string>().Should().Be("securestring");
    }

    [Fact]
    public void ExistingEndpoint_NoKeyGiven_LeavesTheVaultValueAlone()
    {
        var deployment = infra.Deployment(Scenario.ExistingKeepsVaultValue);

        deployment.OfType(ArmResourceQueries.SecretType).Should().BeEmpty("a redeployment must not undo a rotation");
        deployment.RoleAssignments().Should().Contain(a => a.RoleGuid() == "4633458b-17de-408a-b874-0445c86b69e6",
            "the app still reads the secret the operator stored");
    }
}
