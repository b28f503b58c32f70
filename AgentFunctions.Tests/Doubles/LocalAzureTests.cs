using System.ClientModel;
using System.ClientModel.Primitives;
using AgentFunctions.DevHost.Doubles;
using Azure.AI.OpenAI;
using OpenAI.Chat;

namespace AgentFunctions.Tests.Doubles;

[Collection(LocalAzureCollectionDefinition.Name)]
public sealed class LocalAzureTests
{
    [Fact]
    public async Task StartAsync_Fresh_SeedsKey1AndGrantsLeastPrivilege()
    {
        await using var local = await LocalAzure.StartAsync();

        local.KeyVault.GetVersionIds(LocalAzure.OpenAIKeySecretName).Should().ContainSingle();
        local.KeyVault.PeekCurrentValue(LocalAzure.OpenAIKeySecretName).Should().Be(local.OpenAI.GetKeys().Key1);
        var secretScope = local.KeyVault.SecretResourceId(LocalAzure.OpenAIKeySecretName);
        local.KeyVault.RoleAssignments.All.Select(a => (a.PrincipalObjectId, a.RoleDefinitionId, a.Scope)).Should()
            .BeEquivalentTo(
            [
                (local.AppIdentity.ObjectId, AzureRoles.KeyVaultSecretsUser, secretScope),
                (local.Operator.ObjectId, AzureRoles.KeyVaultSecretsOfficer, local.KeyVault.ResourceId),
            ]);
        local.OpenAI.RoleAssignments.All.Should().ContainSingle().Which.Should().Be(
            local.OpenAI.RoleAssignments.All[0] with
            {
                PrincipalObjectId = local.AppIdentity.ObjectId,
                RoleDefinitionId = AzureRoles.CognitiveServicesOpenAIUser,
                Scope = local.OpenAI.ResourceId,
            });
        local.Proxy.AllowedPorts.Should().BeEquivalentTo([local.KeyVault.Port, local.OpenAI.Port]);
    }

    [Fact]
    public async Task WorkerEnvironment_Started_HoldsExactlyTheWorkerVariables()
    {
        await using var local = await LocalAzure.StartAsync();

        var environment = local.WorkerEnvironment;

        environment.Keys.Should().BeEquivalentTo(
            "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "SSL_CERT_FILE", "HTTPS_PROXY", "https_proxy", "NO_PROXY",
            "no_proxy", "KeyVault__VaultUri", "AzureOpenAI__Endpoint");
        environment["IDENTITY_ENDPOINT"].Should().Be(local.ManagedIdentityEndpoint.ToString())
            .And.StartWith("http://127.0.0.1:");
        environment["IDENTITY_HEADER"].Should().Be(local.IdentityHeader);
        environment["SSL_CERT_FILE"].Should().Be(local.CaBundlePath);
        File.ReadAllText(local.CaBundlePath).Should().EndWith(local.CertificateAuthority.CertificatePem + "\n");
        environment["HTTPS_PROXY"].Should().Be($"http://127.0.0.1:{local.Proxy.Port}")
            .And.Be(environment["https_proxy"]);
        environment["NO_PROXY"].Should().Be("127.0.0.1,localhost,::1").And.Be(environment["no_proxy"]);
        environment["KeyVault__VaultUri"].Should().Be($"https://agentfunctions.vault.localhost:{local.KeyVault.Port}/");
        environment["AzureOpenAI__Endpoint"].Should()
            .Be($"https://agentfunctions.openai.localhost:{local.OpenAI.Port}/");
    }

    [Fact]
    public async Task DisposeAsync_Started_DeletesTheTrustBundle()
    {
        var local = await LocalAzure.StartAsync();
        var bundle = local.CaBundlePath;

        await local.DisposeAsync();

        File.Exists(bundle).Should().BeFalse();
    }

    [Fact]
    public async Task RotateOpenAIKeyAsync_Twice_AlternatesKeysAndRetiresTheOldValue()
    {
        await using var local = await LocalAzure.StartAsync();
        var original = local.OpenAI.GetKeys();

        var first = await local.RotateOpenAIKeyAsync();
        var afterFirst = local.OpenAI.GetKeys();
        var second = await local.RotateOpenAIKeyAsync();
        var afterSecond = local.OpenAI.GetKeys();

        const string secret = LocalAzure.OpenAIKeySecretName;
        first.Should().Be(new KeyRotationSummary(KeyName.Key2, KeyName.Key1, secret, first.NewSecretVersion, true));
        second.Should().Be(new KeyRotationSummary(KeyName.Key1, KeyName.Key2, secret, second.NewSecretVersion, true));
        afterFirst.Key1.Should().NotBe(original.Key1);
        afterFirst.Key2.Should().NotBe(original.Key2);
        afterSecond.Key2.Should().NotBe(afterFirst.Key2);
        local.KeyVault.GetVersionIds(secret).Skip(1).Should().Equal(first.NewSecretVersion, second.NewSecretVersion);
        local.KeyVault.PeekCurrentValue(secret).Should().Be(afterSecond.Key1);
        local.KeyVault.Requests.Where(r => r.Method == "PUT" && r.StatusCode == 200).Should()
            .HaveCount(2).And.OnlyContain(r => r.PrincipalObjectId == local.Operator.ObjectId);
        foreach (var summary in new[] { first, second })
        {
            summary.ToString().Should()
                .NotContainAny(original.Key1, original.Key2, afterFirst.Key1, afterFirst.Key2, afterSecond.Key1);
        }
    }

    [Fact]
    public async Task RotateOpenAIKeyAsync_KeepingOldKey_BothValuesWorkUntilRetired()
    {
        await using var local = await LocalAzure.StartAsync();
        var original = local.OpenAI.GetKeys().Key1;

        var summary = await local.RotateOpenAIKeyAsync(retireOldKey: false);
        var published = local.KeyVault.PeekCurrentValue(LocalAzure.OpenAIKeySecretName)!;

        summary.RetiredKeyRegenerated.Should().BeFalse();
        published.Should().Be(local.OpenAI.GetKeys().Key2);
        (await ChatAsync(local, original)).Should().Be("Echo: still here");
        (await ChatAsync(local, published)).Should().Be("Echo: still here");
        local.OpenAI.RegenerateKey(summary.RetiredKey);
        var stale = () => ChatAsync(local, original);
        (await stale.Should().ThrowAsync<ClientResultException>()).Which.Status.Should().Be(401);
    }

    [Fact]
    public async Task RotateOpenAIKeyAsync_VaultHoldsNeitherKey_ThrowsWithNextStep()
    {
        await using var local = await LocalAzure.StartAsync();
        local.KeyVault.SetSecret(LocalAzure.OpenAIKeySecretName, "fake-unrelated-value");
        var keys = local.OpenAI.GetKeys();

        var act = () => local.RotateOpenAIKeyAsync();

        (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should()
            .Contain("holds neither Azure OpenAI account key").And.Contain("before rotating");
        local.OpenAI.GetKeys().Key1.Should().Be(keys.Key1);
        local.OpenAI.GetKeys().Key2.Should().Be(keys.Key2);
    }

    [Fact]
    public async Task CreateHttpMessageHandler_ServerOfAnotherInstance_RejectsItsCertificate()
    {
        await using var other = await LocalAzure.StartAsync();
        SharedLocalAzure.Instance.Proxy.AllowPort(other.KeyVault.Port);
        using var http = SharedLocalAzure.CreateHttpClient();

        var act = () => http.GetAsync(new Uri(other.VaultUri, "secrets?api-version=7.6"));

        (await act.Should().ThrowAsync<HttpRequestException>()).Which.InnerException.Should()
            .BeOfType<System.Security.Authentication.AuthenticationException>();
        other.KeyVault.Requests.Should().BeEmpty();
    }

    // A private instance has its own CA and proxy, so its clients come from its own handler.
    private static async Task<string> ChatAsync(LocalAzure local, string key)
    {
        var options = new AzureOpenAIClientOptions
        {
            Transport = new HttpClientPipelineTransport(new HttpClient(local.CreateHttpMessageHandler())),
            RetryPolicy = new ClientRetryPolicy(0),
        };
        var client = new AzureOpenAIClient(local.OpenAIEndpoint, new ApiKeyCredential(key), options);
        ChatCompletion completion = await client.GetChatClient(AzureOpenAIDoubleOptions.DefaultDeployment)
            .CompleteChatAsync([new UserChatMessage("still here")]);
        return completion.Content.Single().Text;
    }
}
