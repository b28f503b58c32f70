using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Text.Json;
using AgentFunctions.DevHost.Doubles;
using Azure.Core;
using Azure.Identity;

namespace AgentFunctions.Tests.Doubles;

[Collection(LocalAzureCollectionDefinition.Name)]
public sealed class ManagedIdentityDoubleTests
{
    private static LocalAzure Local => SharedLocalAzure.Instance;

    [Fact]
    public void SharedInstance_Started_PointsTheProcessAtTheIdentityDouble()
    {
        var local = SharedLocalAzure.Instance;

        Environment.GetEnvironmentVariable("IDENTITY_ENDPOINT").Should().Be(local.ManagedIdentityEndpoint.ToString());
        Environment.GetEnvironmentVariable("IDENTITY_HEADER").Should().Be(local.IdentityHeader);
        local.ManagedIdentityEndpoint.Host.Should().Be("127.0.0.1");
        local.ManagedIdentityEndpoint.AbsolutePath.Should().Be("/msi/token");
    }

    [Fact]
    public async Task GetToken_UserAssignedIdentity_SendsOneRequestAndIssuesTokenWithItsClaims()
    {
        var identity = LocalPrincipal.Create("user-assigned for a test");
        var credential = SharedLocalAzure.CreateUserAssignedCredential(identity);

        var token = await credential.GetTokenAsync(SharedLocalAzure.Scope(KeyVaultDouble.ChallengeResource), default);
        var again = await credential.GetTokenAsync(SharedLocalAzure.Scope(KeyVaultDouble.ChallengeResource), default);

        RequestsFor(identity).Should().ContainSingle("the second call is served from MSAL's cache")
            .Which.Resource.Should().Be(KeyVaultDouble.ChallengeResource);
        again.Token.Should().Be(token.Token);
        token.ExpiresOn.Should().BeCloseTo(DateTimeOffset.UtcNow.AddHours(1), TimeSpan.FromMinutes(1));
        var claims = Local.Tenant.Validate(token.Token, KeyVaultDouble.ChallengeResource);
        claims.IsValid.Should().BeTrue();
        claims.Claims!.ObjectId.Should().Be(identity.ObjectId);
        claims.Claims.AppId.Should().Be(identity.ClientId);
        claims.Claims.TenantId.Should().Be(Local.Tenant.TenantId);
        claims.Claims.Issuer.Should().Be($"https://sts.windows.net/{Local.Tenant.TenantId}/");
    }

    [Fact]
    public async Task GetToken_ServerFailsOnceWith500_MsalRetriesAndSucceeds()
    {
        var identity = LocalPrincipal.Create("user-assigned for a test");
        var credential = SharedLocalAzure.CreateUserAssignedCredential(identity);
        var faults = Local.ManagedIdentity.FaultsFor(identity);
        faults.FailNext(1, 500, TimeSpan.Zero);

        var token = await credential.GetTokenAsync(SharedLocalAzure.Scope(AzureOpenAIDouble.TokenAudience), default);

        Local.Tenant.Validate(token.Token, AzureOpenAIDouble.TokenAudience).Claims!.ObjectId.Should().Be(identity.ObjectId);
        faults.Pending.Should().Be(0);
        RequestsFor(identity).Select(r => r.StatusCode).Should().Equal(500, 200);
    }

    [Fact]
    public async Task GetToken_UnknownUserAssignedIdentity_ThrowsAuthenticationFailed()
    {
        var credential = SharedLocalAzure.CreateManagedIdentityCredential(
            ManagedIdentityId.FromUserAssignedClientId(Guid.NewGuid().ToString()));
        var scope = SharedLocalAzure.Scope(KeyVaultDouble.ChallengeResource);

        var act = () => credential.GetTokenAsync(scope, default).AsTask();

        (await act.Should().ThrowAsync<AuthenticationFailedException>()).Which.Message.Should()
            .Contain("Unable to load the proper Managed Identity.");
    }

    [Fact]
    public async Task RawRequest_SystemAssigned_ReturnsAppServiceTokenShape()
    {
        using var http = new HttpClient();
        var resource = Uri.EscapeDataString(AzureOpenAIDouble.TokenAudience);
        using var request = TokenRequest($"api-version=2019-08-01&resource={resource}");

        using var response = await http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = body.RootElement;
        root.EnumerateObject().Select(p => p.Name).Should()
            .Equal("access_token", "expires_on", "resource", "token_type", "client_id");
        root.GetProperty("expires_on").ValueKind.Should().Be(JsonValueKind.String);
        long.Parse(root.GetProperty("expires_on").GetString()!, CultureInfo.InvariantCulture)
            .Should().BeCloseTo(DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(), 60);
        root.GetProperty("resource").GetString().Should().Be(AzureOpenAIDouble.TokenAudience);
        root.GetProperty("token_type").GetString().Should().Be("Bearer");
        root.GetProperty("client_id").GetString().Should().Be(Local.AppIdentity.ClientId);
        var parts = root.GetProperty("access_token").GetString()!.Split('.');
        parts.Should().HaveCount(3);
        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        payload.RootElement.GetProperty("aud").GetString().Should().Be(AzureOpenAIDouble.TokenAudience);
        payload.RootElement.GetProperty("oid").GetString().Should().Be(Local.AppIdentity.ObjectId);
        payload.RootElement.GetProperty("appid").GetString().Should().Be(Local.AppIdentity.ClientId);
        payload.RootElement.GetProperty("tid").GetString().Should().Be(Local.Tenant.TenantId);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-the-header")]
    public async Task RawRequest_MissingOrWrongIdentityHeader_Returns401(string? header)
    {
        using var http = new HttpClient();
        using var request = TokenRequest("api-version=2019-08-01&resource=https://vault.localhost", header);

        using var response = await http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        AssertAppServiceError(await response.Content.ReadAsStringAsync(), 401);
    }

    [Theory]
    [InlineData("api-version=2017-09-01&resource=https://vault.localhost")]
    [InlineData("api-version=2019-08-01&resource=https://management.azure.com")]
    [InlineData("api-version=2019-08-01")]
    public async Task RawRequest_BadApiVersionOrUnknownResource_Returns400(string query)
    {
        using var http = new HttpClient();
        using var request = TokenRequest(query);

        using var response = await http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        AssertAppServiceError(await response.Content.ReadAsStringAsync(), 400);
    }

    [Fact]
    public async Task RawRequest_ThrottledWithRetryAfter_Returns429WithHeader()
    {
        var identity = LocalPrincipal.Create("user-assigned for a test");
        Local.ManagedIdentity.AddUserAssignedIdentity(identity);
        using var http = new HttpClient();
        using var request = TokenRequest($"api-version=2019-08-01&resource=https://vault.localhost&client_id={identity.ClientId}");
        Local.ManagedIdentity.FaultsFor(identity).FailNext(1, 429, TimeSpan.FromSeconds(2));

        using var response = await http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(2));
        AssertAppServiceError(await response.Content.ReadAsStringAsync(), 429);
        RequestsFor(identity).Select(r => r.StatusCode).Should().Equal(429);
    }

    [Fact]
    public async Task RawRequest_FaultForOneIdentity_LeavesOtherIdentitiesServed()
    {
        var throttled = LocalPrincipal.Create("user-assigned that is throttled");
        var bystander = LocalPrincipal.Create("user-assigned that is not");
        Local.ManagedIdentity.AddUserAssignedIdentity(throttled);
        Local.ManagedIdentity.AddUserAssignedIdentity(bystander);
        Local.ManagedIdentity.FaultsFor(throttled).FailNext(1, 429, TimeSpan.FromSeconds(2));
        using var http = new HttpClient();

        using var bystanderRequest = TokenRequest($"api-version=2019-08-01&resource=https://vault.localhost&client_id={bystander.ClientId}");
        using var bystanderResponse = await http.SendAsync(bystanderRequest);
        using var throttledRequest = TokenRequest($"api-version=2019-08-01&resource=https://vault.localhost&client_id={throttled.ClientId}");
        using var throttledResponse = await http.SendAsync(throttledRequest);

        bystanderResponse.StatusCode.Should().Be(HttpStatusCode.OK);
        throttledResponse.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        Local.ManagedIdentity.FaultsFor(throttled).Pending.Should().Be(0);
    }

    private static List<ManagedIdentityRequest> RequestsFor(LocalPrincipal identity) =>
        [.. Local.ManagedIdentity.Requests.Where(r => r.PrincipalObjectId == identity.ObjectId)];

    private static HttpRequestMessage TokenRequest(string query, string? header = "")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Local.ManagedIdentityEndpoint + "?" + query));
        var value = header == string.Empty ? Local.IdentityHeader : header;
        if (value is not null)
        {
            request.Headers.Add("X-IDENTITY-HEADER", value);
        }

        return request;
    }

    private static void AssertAppServiceError(string json, int statusCode)
    {
        using var body = JsonDocument.Parse(json);
        body.RootElement.GetProperty("statusCode").GetInt32().Should().Be(statusCode);
        body.RootElement.GetProperty("message").GetString().Should().NotBeNullOrWhiteSpace();
        Guid.TryParse(body.RootElement.GetProperty("correlationId").GetString(), out _).Should().BeTrue();
    }
}
