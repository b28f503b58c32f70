using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using AgentFunctions.DevHost.Doubles;
using Azure;
using Azure.Core;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;

namespace AgentFunctions.Tests.Doubles;

[Collection(LocalAzureCollectionDefinition.Name)]
public sealed class KeyVaultDoubleTests
{
    private static LocalAzure Local => SharedLocalAzure.Instance;

    [Fact]
    public async Task GetSecret_FreshVaultWithManagedIdentity_ChallengesThenReturnsSeededValue()
    {
        // A vault on a port no client has seen yet: the SDK caches challenges per host and port for the process.
        await using var vault = await StartPrivateVaultAsync();
        var version = vault.SetSecret("agent-key", "fake-secret-value-1");
        vault.GrantRole(Local.AppIdentity.ObjectId, AzureRoles.KeyVaultSecretsUser, "agent-key");
        var credential = SharedLocalAzure.CreateManagedIdentityCredential();
        var client = SharedLocalAzure.CreateSecretClient(credential, vault.VaultUri);

        KeyVaultSecret secret = await client.GetSecretAsync("agent-key");

        secret.Value.Should().Be("fake-secret-value-1");
        secret.Properties.Version.Should().Be(version);
        secret.Id.Should().Be(new Uri(vault.VaultUri, $"secrets/agent-key/{version}"));
        vault.Requests.Select(r => (r.StatusCode, r.PrincipalObjectId)).Should().Equal(
            (401, null),
            (200, Local.AppIdentity.ObjectId));
        vault.SecretReadCount("agent-key").Should().Be(1);
        vault.Requests.Should().OnlyContain(r => r.ApiVersion == "2026-04-01", "SecretClient 4.12 defaults to it");
        // MSAL may have served the token from its process-wide cache; some test in this process fetched it here.
        Local.ManagedIdentity.Requests.Should().Contain(r =>
            r.Resource == KeyVaultDouble.ChallengeResource &&
            r.PrincipalObjectId == Local.AppIdentity.ObjectId &&
            r.StatusCode == 200);
    }

    [Fact]
    public async Task GetSecret_FreshVaultAndFreshIdentity_ProbesGetsOneTokenThenReads()
    {
        // MSAL keeps managed-identity tokens in a process-wide cache, so only an identity no test has used yet is
        // certain to make the token request visible.
        await using var vault = await StartPrivateVaultAsync();
        vault.SetSecret("agent-key", "fake-secret-value-4");
        var identity = LocalPrincipal.Create("user-assigned for the challenge test");
        vault.GrantRole(identity.ObjectId, AzureRoles.KeyVaultSecretsUser, "agent-key");
        var credential = SharedLocalAzure.CreateUserAssignedCredential(identity);
        var client = SharedLocalAzure.CreateSecretClient(credential, vault.VaultUri);
        var tunnelsBefore = Local.Proxy.TunnelsOpened;

        KeyVaultSecret first = await client.GetSecretAsync("agent-key");
        KeyVaultSecret second = await client.GetSecretAsync("agent-key");

        first.Value.Should().Be("fake-secret-value-4");
        second.Value.Should().Be("fake-secret-value-4");
        vault.Requests.Select(r => (r.StatusCode, r.PrincipalObjectId)).Should().Equal(
            (401, null),
            (200, identity.ObjectId),
            (200, identity.ObjectId));
        Local.ManagedIdentity.Requests.Where(r => r.PrincipalObjectId == identity.ObjectId).Should().ContainSingle()
            .Which.Resource.Should().Be(KeyVaultDouble.ChallengeResource);
        Local.Proxy.TunnelsOpened.Should().BeGreaterThan(tunnelsBefore, "the vault's name leads only to the proxy");
    }

    [Fact]
    public async Task GetSecret_SharedVaultAsAppIdentity_ReturnsCurrentOpenAIKeyVersion()
    {
        var client = SharedLocalAzure.CreateSecretClient(SharedLocalAzure.CreateManagedIdentityCredential());

        KeyVaultSecret secret = await client.GetSecretAsync(LocalAzure.OpenAIKeySecretName);

        secret.Value.Should().Be(Local.KeyVault.PeekCurrentValue(LocalAzure.OpenAIKeySecretName));
        secret.Value.Should().BeOneOf(Local.OpenAI.GetKeys().Key1, Local.OpenAI.GetKeys().Key2);
        secret.Properties.Version.Should().Be(Local.KeyVault.GetVersionIds(LocalAzure.OpenAIKeySecretName)[^1]);
        secret.Properties.Version.Should().MatchRegex("^[0-9a-f]{32}$");
    }

    [Fact]
    public async Task GetSecret_TokenForAnotherResource_Throws401InvalidAudience()
    {
        var credential = new FixedScopeCredential(
            SharedLocalAzure.CreateManagedIdentityCredential(), SharedLocalAzure.Scope(AzureOpenAIDouble.TokenAudience));
        var client = SharedLocalAzure.CreateSecretClient(credential);

        var act = () => client.GetSecretAsync(LocalAzure.OpenAIKeySecretName);

        var failure = (await act.Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Status.Should().Be(401);
        failure.ErrorCode.Should().Be("Unauthorized");
        failure.Message.Should().Contain("AKV10022: Invalid audience. Expected https://vault.localhost");
    }

    [Fact]
    public async Task GetSecret_TokenFromAnotherTenant_Throws401InvalidIssuer()
    {
        var otherTenant = Guid.NewGuid().ToString();
        var credential = new ForeignTenantCredential(Local.Tenant, Local.AppIdentity, otherTenant);
        var client = SharedLocalAzure.CreateSecretClient(credential);

        var act = () => client.GetSecretAsync(LocalAzure.OpenAIKeySecretName);

        var failure = (await act.Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Status.Should().Be(401);
        failure.Message.Should().Contain("AKV10032: Invalid issuer").And.Contain(otherTenant);
    }

    [Fact]
    public async Task GetSecret_PrincipalWithoutRole_Throws403NamingTheAction()
    {
        var stranger = LocalPrincipal.Create("user-assigned without roles");
        var client = SharedLocalAzure.CreateSecretClient(SharedLocalAzure.CreateUserAssignedCredential(stranger));

        var act = () => client.GetSecretAsync(LocalAzure.OpenAIKeySecretName);

        var failure = (await act.Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Status.Should().Be(403);
        failure.ErrorCode.Should().Be("Forbidden");
        failure.Message.Should()
            .Contain("Caller is not authorized to perform action on resource.")
            .And.Contain($"Caller: appid={stranger.ClientId};oid={stranger.ObjectId};iss={Local.Tenant.Issuer}")
            .And.Contain("Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'")
            .And.Contain($"/vaults/agentfunctions/secrets/{LocalAzure.OpenAIKeySecretName}'")
            .And.Contain("Assignment: (not found)")
            .And.Contain("ForbiddenByRbac");
    }

    [Fact]
    public async Task GetPropertiesOfSecrets_AppIdentityWithSecretScopedRole_Throws403()
    {
        var client = SharedLocalAzure.CreateSecretClient(SharedLocalAzure.CreateManagedIdentityCredential());

        var act = async () =>
        {
            await foreach (var unused in client.GetPropertiesOfSecretsAsync())
            {
            }
        };

        var failure = (await act.Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Status.Should().Be(403);
        failure.Message.Should().Contain("Action: 'Microsoft.KeyVault/vaults/secrets/readMetadata/action'");
    }

    [Fact]
    public async Task SetSecret_AsAppIdentity_Throws403ForSetAction()
    {
        var client = SharedLocalAzure.CreateSecretClient(SharedLocalAzure.CreateManagedIdentityCredential());

        var act = () => client.SetSecretAsync(LocalAzure.OpenAIKeySecretName, "fake-overwrite-attempt");

        var failure = (await act.Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Status.Should().Be(403);
        failure.Message.Should().Contain("Microsoft.KeyVault/vaults/secrets/setSecret/action");
        Local.KeyVault.PeekCurrentValue(LocalAzure.OpenAIKeySecretName).Should().NotBe("fake-overwrite-attempt");
    }

    [Fact]
    public async Task SetSecret_AsOperatorTwice_CreatesVersionsEachReadable()
    {
        var name = "operator-test-" + Guid.NewGuid().ToString("N")[..8];
        var client = SharedLocalAzure.CreateSecretClient(Local.OperatorCredential);

        KeyVaultSecret first = await client.SetSecretAsync(name, "fake-value-one");
        KeyVaultSecret second = await client.SetSecretAsync(
            new KeyVaultSecret(name, "fake-value-two") { Properties = { ContentType = "text/plain" } });
        KeyVaultSecret latest = await client.GetSecretAsync(name);
        KeyVaultSecret older = await client.GetSecretAsync(name, first.Properties.Version);
        var versions = new List<SecretProperties>();
        await foreach (var properties in client.GetPropertiesOfSecretVersionsAsync(name))
        {
            versions.Add(properties);
        }

        first.Properties.Version.Should().NotBe(second.Properties.Version);
        latest.Value.Should().Be("fake-value-two");
        latest.Properties.ContentType.Should().Be("text/plain");
        latest.Properties.Version.Should().Be(second.Properties.Version);
        older.Value.Should().Be("fake-value-one");
        versions.Select(v => v.Version).Should().BeEquivalentTo([first.Properties.Version, second.Properties.Version]);
        Local.KeyVault.GetVersionIds(name).Should().Equal(first.Properties.Version, second.Properties.Version);
    }

    [Fact]
    public async Task GetSecret_MissingSecretOrVersion_Throws404SecretNotFound()
    {
        var client = SharedLocalAzure.CreateSecretClient(Local.OperatorCredential);

        var missingSecret = () => client.GetSecretAsync("no-such-secret");
        var missingVersion = () => client.GetSecretAsync(LocalAzure.OpenAIKeySecretName, new string('0', 32));

        var failure = (await missingSecret.Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Status.Should().Be(404);
        failure.ErrorCode.Should().Be("SecretNotFound");
        failure.Message.Should().Contain("A secret with (name/id) no-such-secret was not found in this key vault.");
        (await missingVersion.Should().ThrowAsync<RequestFailedException>()).Which.Message.Should()
            .Contain($"(name/id) {LocalAzure.OpenAIKeySecretName}/{new string('0', 32)} was not found");
    }

    [Fact]
    public async Task GetSecret_OlderServiceVersion_IsAccepted()
    {
        var client = SharedLocalAzure.CreateSecretClient(
            Local.OperatorCredential, serviceVersion: SecretClientOptions.ServiceVersion.V7_0);

        KeyVaultSecret secret = await client.GetSecretAsync(LocalAzure.OpenAIKeySecretName);

        secret.Value.Should().NotBeNullOrEmpty();
    }

    [Fact]
    public async Task GetSecret_VaultThrottlesOnce_SdkRetriesAndSucceeds()
    {
        await using var vault = await StartPrivateVaultAsync();
        vault.SetSecret("agent-key", "fake-secret-value-2");
        vault.GrantRole(Local.Operator.ObjectId, AzureRoles.KeyVaultSecretsUser);
        vault.Faults.FailNext(1, 429, TimeSpan.Zero);
        var client = SharedLocalAzure.CreateSecretClient(Local.OperatorCredential, vault.VaultUri);

        KeyVaultSecret secret = await client.GetSecretAsync("agent-key");

        secret.Value.Should().Be("fake-secret-value-2");
        vault.Requests.Select(r => r.StatusCode).Should().Equal(401, 429, 200);
        vault.Faults.Pending.Should().Be(0);
    }

    [Fact]
    public async Task GetSecret_VaultUnavailableBeyondRetries_Throws503()
    {
        await using var vault = await StartPrivateVaultAsync();
        vault.SetSecret("agent-key", "fake-secret-value-3");
        vault.GrantRole(Local.Operator.ObjectId, AzureRoles.KeyVaultSecretsUser);
        vault.Faults.FailNext(5, 503, TimeSpan.Zero);
        var client = SharedLocalAzure.CreateSecretClient(Local.OperatorCredential, vault.VaultUri);

        var act = () => client.GetSecretAsync("agent-key");

        (await act.Should().ThrowAsync<RequestFailedException>()).Which.Status.Should().Be(503);
        vault.Requests.Count(r => r.StatusCode == 503).Should().Be(3, "the client allows two retries after the first try");
    }

    [Fact]
    public async Task RawRequest_WithoutToken_Returns401WithChallengeAndServiceHeaders()
    {
        using var http = SharedLocalAzure.CreateHttpClient();

        using var response = await http.GetAsync(SecretUri($"{LocalAzure.OpenAIKeySecretName}/?api-version=7.6"));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        response.Headers.WwwAuthenticate.ToString().Should().Be(
            $"Bearer authorization=\"https://login.microsoftonline.com/{Local.Tenant.TenantId}\", " +
            "resource=\"https://vault.localhost\"");
        response.Headers.CacheControl!.NoCache.Should().BeTrue();
        response.Headers.GetValues("x-ms-keyvault-service-version").Should().ContainSingle();
        response.Headers.GetValues("x-ms-request-id").Single().Should().MatchRegex("^[0-9a-f-]{36}$");
        (await response.Content.ReadAsStringAsync()).Should().Be(
            """{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}""");
    }

    [Theory]
    [InlineData("?api-version=2026-04-01")]
    [InlineData("/?api-version=2025-07-01")]
    [InlineData("/?api-version=7.5")]
    public async Task RawRequest_PathWithOrWithoutTrailingSlash_Returns200Bundle(string pathEnd)
    {
        using var http = await CreateOperatorHttpClientAsync();

        using var response = await http.GetAsync(SecretUri(LocalAzure.OpenAIKeySecretName + pathEnd));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.ToString().Should().Be("application/json; charset=utf-8");
        response.Headers.GetValues("x-ms-keyvault-rbac-assignment-id").Single().Should().MatchRegex("^[0-9a-f]{32}$");
        using var bundle = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        bundle.RootElement.GetProperty("attributes").GetProperty("enabled").GetBoolean().Should().BeTrue();
        bundle.RootElement.GetProperty("attributes").GetProperty("created").ValueKind.Should().Be(JsonValueKind.Number);
    }

    [Theory]
    [InlineData("2016-10-01")]
    [InlineData("")]
    [InlineData("8.0")]
    public async Task RawRequest_UnsupportedApiVersion_Returns400BadParameter(string apiVersion)
    {
        using var http = await CreateOperatorHttpClientAsync();

        using var response = await http.GetAsync(SecretUri($"{LocalAzure.OpenAIKeySecretName}?api-version={apiVersion}"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("error").GetProperty("code").GetString().Should().Be("BadParameter");
    }

    [Theory]
    [InlineData("""{"value":"fake","attributes":{"enabled":"yes"}}""")]
    [InlineData("""{"value":"fake","contentType":42}""")]
    [InlineData("""{"value":42}""")]
    [InlineData("""{"value":""")]
    public async Task RawPut_BodyOfWrongShape_Returns400BadParameter(string json)
    {
        using var http = await CreateOperatorHttpClientAsync();
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");

        using var response = await http.PutAsync(SecretUri("shape-test?api-version=7.6"), content);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        Local.KeyVault.GetVersionIds("shape-test").Should().BeEmpty();
    }

    [Fact]
    public async Task StartAsync_VaultNameNotAHostLabel_ThrowsNamingTheSetting()
    {
        var options = new KeyVaultDoubleOptions { VaultName = "bad.name" };

        var act = () => KeyVaultDouble.StartAsync(Local.Tenant, Local.CertificateAuthority.ServerCertificate, options);

        (await act.Should().ThrowAsync<ArgumentException>()).Which.Message.Should()
            .Contain("KeyVaultDoubleOptions.VaultName");
    }

    private static async Task<KeyVaultDouble> StartPrivateVaultAsync()
    {
        var vault = await KeyVaultDouble.StartAsync(Local.Tenant, Local.CertificateAuthority.ServerCertificate);
        Local.Proxy.AllowPort(vault.Port);
        return vault;
    }

    private static Uri SecretUri(string relative) => new(Local.VaultUri, "secrets/" + relative);

    private static async Task<HttpClient> CreateOperatorHttpClientAsync()
    {
        var token = await Local.OperatorCredential.GetTokenAsync(
            SharedLocalAzure.Scope(KeyVaultDouble.ChallengeResource), CancellationToken.None);
        var http = SharedLocalAzure.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.Token);
        return http;
    }

    // Asks its inner credential for one fixed scope whatever the client wants: a token for the wrong resource.
    private sealed class FixedScopeCredential(TokenCredential inner, TokenRequestContext scope) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            inner.GetToken(scope, cancellationToken);

        public override ValueTask<AccessToken> GetTokenAsync(
            TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            inner.GetTokenAsync(scope, cancellationToken);
    }

    // A correctly signed token whose issuer is another tenant, as a token from a foreign directory looks to a vault.
    private sealed class ForeignTenantCredential(LocalTenant tenant, LocalPrincipal principal, string tenantId)
        : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            var (token, expiresOn) = tenant.IssueToken(
                principal, KeyVaultDouble.ChallengeResource, TimeSpan.FromHours(1), tenantId);
            return new AccessToken(token, expiresOn);
        }

        public override ValueTask<AccessToken> GetTokenAsync(
            TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
