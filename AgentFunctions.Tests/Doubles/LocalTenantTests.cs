using AgentFunctions.DevHost.Doubles;
using Microsoft.Extensions.Time.Testing;

namespace AgentFunctions.Tests.Doubles;

public sealed class LocalTenantTests
{
    private const string Vault = "https://vault.localhost";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 15, 0, 0, TimeSpan.Zero));
    private readonly LocalPrincipal _principal = LocalPrincipal.Create("tenant test principal");

    [Fact]
    public void Validate_FreshToken_ValidWithClaims()
    {
        var tenant = new LocalTenant(_time);
        var (token, expiresOn) = tenant.IssueToken(_principal, Vault, TimeSpan.FromHours(1));

        var result = tenant.Validate(token, Vault + "/");

        result.Status.Should().Be(AccessTokenStatus.Valid);
        var now = _time.GetUtcNow();
        result.Claims.Should().Be(new AccessTokenClaims(
            Vault, tenant.Issuer, tenant.TenantId, _principal.ObjectId, _principal.ClientId, now, expiresOn));
        expiresOn.Should().Be(_time.GetUtcNow().AddHours(1));
    }

    [Fact]
    public void Validate_PastExpiryPlusFiveMinutesSkew_Expired()
    {
        var tenant = new LocalTenant(_time);
        var (token, _) = tenant.IssueToken(_principal, Vault, TimeSpan.FromHours(1));

        _time.Advance(TimeSpan.FromMinutes(64));
        var withinSkew = tenant.Validate(token, Vault).Status;
        _time.Advance(TimeSpan.FromMinutes(2));
        var beyondSkew = tenant.Validate(token, Vault).Status;

        withinSkew.Should().Be(AccessTokenStatus.Valid);
        beyondSkew.Should().Be(AccessTokenStatus.Expired);
    }

    [Fact]
    public void Validate_TokenOfAnotherTenantInstance_BadSignature()
    {
        var tenant = new LocalTenant(_time, "11111111-1111-1111-1111-111111111111");
        var lookalike = new LocalTenant(_time, "11111111-1111-1111-1111-111111111111");
        var (token, _) = lookalike.IssueToken(_principal, Vault, TimeSpan.FromHours(1));

        tenant.Validate(token, Vault).Status.Should().Be(AccessTokenStatus.BadSignature);
    }

    [Fact]
    public void Validate_PayloadEdited_BadSignature()
    {
        var tenant = new LocalTenant(_time);
        var (token, _) = tenant.IssueToken(_principal, Vault, TimeSpan.FromHours(1));
        var (other, _) = tenant.IssueToken(LocalPrincipal.Create("someone else"), Vault, TimeSpan.FromHours(1));
        var parts = token.Split('.');

        var forged = string.Join('.', parts[0], other.Split('.')[1], parts[2]);

        tenant.Validate(forged, Vault).Status.Should().Be(AccessTokenStatus.BadSignature);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a.b")]
    [InlineData("not.base64!.sig")]
    public void Validate_NotAJwt_Malformed(string token)
    {
        new LocalTenant(_time).Validate(token, Vault).Status.Should().Be(AccessTokenStatus.Malformed);
    }

    [Fact]
    public void Validate_IssuedForAnotherTenantId_WrongIssuer()
    {
        var tenant = new LocalTenant(_time);
        var foreignTenant = Guid.NewGuid().ToString();
        var (token, _) = tenant.IssueToken(_principal, Vault, TimeSpan.FromHours(1), issuingTenantId: foreignTenant);

        tenant.Validate(token, Vault).Status.Should().Be(AccessTokenStatus.WrongIssuer);
    }

    [Fact]
    public void Validate_OtherAudience_WrongAudience()
    {
        var tenant = new LocalTenant(_time);
        var (token, _) = tenant.IssueToken(_principal, "https://cognitiveservices.azure.com", TimeSpan.FromHours(1));

        tenant.Validate(token, Vault).Status.Should().Be(AccessTokenStatus.WrongAudience);
    }
}
