using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AgentFunctions.Tests.Infrastructure;

/// <summary>No key in an app setting, an output or anywhere but the vault secret's value.</summary>
[Collection(InfrastructureTestGroup.Name)]
public sealed partial class SecretExposureTests(InfrastructureFixture infra)
{
    public static TheoryData<string> Scenarios => [.. Scenario.Parameters.Keys];

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void AppSettings_Scenario_HoldNothingThatLooksLikeASecret(string scenario)
    {
        foreach (var (name, value) in infra.Deployment(scenario).AppSettings())
        {
            SecretDetector.Reason(name, value).Should().BeNull($"setting {name} = {ArmScope.Render(value)}");
            ArmScope.Render(value).Should().NotContain(Scenario.OperatorKeyStandIn);
        }
    }

    [Fact]
    public void AppInsightsConnectionString_AllowedException_HoldsOnlyBecauseLocalAuthIsOff()
    {
        var deployment = infra.Deployment(Scenario.CreatedWithKey);
        var value = deployment.AppSettings()[SecretDetector.AppInsightsConnectionStringSetting];

        SecretDetector.IsAppInsightsConnectionStringFromComponent(SecretDetector.AppInsightsConnectionStringSetting, value)
            .Should().BeTrue();
        deployment.Single("Microsoft.Insights/components").Evaluate("properties", "DisableLocalAuth").Should()
            .Be(true, "the instrumentation key it contains must not be enough to send telemetry");
        SecretDetector.Reason("SOME_OTHER_SETTING", value).Should().NotBeNull("the exception is for that one setting only");
    }

    [Theory]
    [InlineData("DefaultEndpointsProtocol=https;AccountName=st1;AccountKey=bm90LWEta2V5;EndpointSuffix=core.windows.net")]
    [InlineData("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=bm90LWEta2V5")]
    [InlineData("https://st1.blob.core.windows.net/c?sv=2022-11-02&sr=c&sig=bm90LWEtc2lnbmF0dXJl")]
    [InlineData("InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/")]
    [InlineData("0123456789abcdef0123456789abcdef")]
    [InlineData("Bearer eyJhbGciOiJub25lIn0.e30.")]
    public void SecretDetector_CredentialShapedLiteral_IsFlagged(string value)
    {
        SecretDetector.Reason("AnySetting", value).Should().NotBeNull();
    }

    [Theory]
    [InlineData("listKeys(resourceId('Microsoft.CognitiveServices/accounts', 'oai'), '2024-10-01').key1")]
    [InlineData("listConnectionStrings(resourceId('Microsoft.DocumentDB/databaseAccounts', 'db'), '2024-05-15')")]
    [InlineData("reference(resourceId('Microsoft.Insights/components', 'appi'), '2020-02-02').ConnectionString")]
    [InlineData("reference(resourceId('Microsoft.Cache/redis', 'r'), '2024-03-01').primaryKey")]
    public void SecretDetector_ExpressionReadingAKey_IsFlagged(string expression)
    {
        SecretDetector.Reason("AnySetting", new Residual(expression)).Should().NotBeNull();
    }

    [Theory]
    [InlineData("managedidentity")]
    [InlineData("Authorization=AAD")]
    [InlineData("azure-openai-api-key")]
    [InlineData("https://contoso-agents.openai.azure.com/")]
    [InlineData("00:05:00")]
    [InlineData("KeyVaultKey")]
    public void SecretDetector_AddressOrName_IsNotFlagged(string value)
    {
        SecretDetector.Reason("AnySetting", value).Should().BeNull();
    }

    [Fact]
    public void ListFunctions_InCompiledTemplate_AppearOnlyAsTheValueOfAKeyVaultSecret()
    {
        var uses = new List<string>();
        Visit(infra.Template, path: "$", enclosingType: null, uses);

        uses.Should().NotBeEmpty("the created account's key is copied with listKeys()")
            .And.OnlyContain(use => use == $"{ArmResourceQueries.SecretType}: properties.value", string.Join("\n", uses));
    }

    [Fact]
    public void Outputs_AtEveryLevel_CarryNoKeyAndNoSecureValue()
    {
        var templates = new List<JsonObject> { infra.Template };
        for (var i = 0; i < templates.Count; i++)
        {
            templates.AddRange(Resources(templates[i])
                .Select(r => r["properties"]?["template"]).OfType<JsonObject>());
        }

        foreach (var template in templates)
        {
            var secureParameters = (template["parameters"]?.AsObject() ?? [])
                .Where(p => ((string?)p.Value!["type"])?.StartsWith("secure", StringComparison.OrdinalIgnoreCase) == true)
                .Select(p => p.Key)
                .ToList();
            foreach (var (name, output) in template["outputs"]?.AsObject() ?? [])
            {
                var type = (string?)output!["type"];
                var text = output.ToJsonString();

                type.Should().NotStartWithEquivalentOf("secure", $"output {name}");
                ListCall().IsMatch(text).Should().BeFalse($"output {name} must not return a key: {text}");
                secureParameters.Should().NotContain(p => text.Contains($"parameters('{p}')", StringComparison.OrdinalIgnoreCase),
                    $"output {name} must not return a secure parameter");
            }
        }
    }

    [Fact]
    public void OperatorKey_ExistingEndpoint_ReachesOnlyTheVaultSecret()
    {
        var holders = infra.Deployment(Scenario.ExistingWithOperatorKey).Deployed()
            .Where(r => ArmScope.Render(r.Scope.Evaluate(WithoutNestedTemplate(r.Json)))
                .Contains(Scenario.OperatorKeyStandIn, StringComparison.Ordinal))
            .Select(r => r.Type)
            .ToList();

        // The module call hands the value to the secret module's secure parameter; the secret stores it.
        holders.Should().BeEquivalentTo(["Microsoft.Resources/deployments", ArmResourceQueries.SecretType]);
    }

    // A module's own template is evaluated in its own scope (its resources are listed separately).
    private static JsonObject WithoutNestedTemplate(JsonObject resource)
    {
        var copy = resource.DeepClone().AsObject();
        (copy["properties"] as JsonObject)?.Remove("template");
        return copy;
    }

    private static IEnumerable<JsonObject> Resources(JsonObject template) => template["resources"] switch
    {
        JsonArray list => list.OfType<JsonObject>(),
        JsonObject bySymbol => bySymbol.Select(p => p.Value).OfType<JsonObject>(),
        _ => [],
    };

    private static void Visit(JsonNode? node, string path, string? enclosingType, List<string> uses)
    {
        switch (node)
        {
            case JsonObject obj:
                // Entering a resource: remember its type and measure paths from it.
                var type = obj["type"] is JsonValue t && obj.ContainsKey("apiVersion") ? t.GetValue<string>() : null;
                foreach (var (key, child) in obj)
                {
                    Visit(child, type is null ? $"{path}.{key}" : key, type ?? enclosingType, uses);
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    Visit(array[i], $"{path}[{i}]", enclosingType, uses);
                }

                break;
            case JsonValue value when value.TryGetValue<string>(out var text) && ListCall().IsMatch(text):
                uses.Add($"{enclosingType ?? "(no resource)"}: {path}");
                break;
        }
    }

    [GeneratedRegex(@"\blist[A-Za-z]*\(", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ListCall();
}
