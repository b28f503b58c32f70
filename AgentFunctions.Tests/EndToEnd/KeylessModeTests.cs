using System.Net;
using AgentFunctions.DevHost.Doubles;

namespace AgentFunctions.Tests.EndToEnd;

/// <summary>Keyless mode through the real worker: the account refuses keys, the app authenticates with its identity.</summary>
public sealed class KeylessModeTests(KeylessLocalHostFixture fixture) : IClassFixture<KeylessLocalHostFixture>
{
    [Fact]
    public async Task Invoke_AccountWithKeysDisabled_AnswersUsingTheManagedIdentityAndNeverReadsTheVault()
    {
        var azure = fixture.Host.Azure;
        azure.OpenAI.KeyAuthenticationEnabled = false;

        var (response, body) = await fixture.PostAsync("api/agents/assistant/invoke", """{"input": "what is 6 * 7?"}""");
        var (health, healthBody) = await fixture.GetAsync("api/health");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        body.Should().Contain("calculate returned 42.");
        azure.OpenAI.BearerRequestCount.Should().Be(2);
        azure.OpenAI.RequestCount(KeyName.Key1).Should().Be(0);
        azure.KeyVault.SecretRequestCount(LocalAzure.OpenAIKeySecretName).Should().Be(0);
        health.StatusCode.Should().Be(HttpStatusCode.OK);
        healthBody.Should().Contain("\"authentication\":\"ManagedIdentity\"");
    }
}
