using AgentFunctions.Configuration;
using AgentFunctions.Credentials;
using AgentFunctions.DevHost.Doubles;
using AgentFunctions.Tests.Doubles;
using AgentFunctions.Tests.Support;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Security.KeyVault.Secrets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace AgentFunctions.Tests.Credentials;

/// <summary>The app's vault reader with the real SecretClient and managed-identity credential against the doubles.</summary>
[Collection(LocalAzureCollectionDefinition.Name)]
public sealed class KeyVaultSecretSourceTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task ReadAsync_AppIdentityWithSecretsUserOnTheSecret_ReadsLatestVersionByName()
    {
        await using var account = await PrivateAccount.StartAsync();

        var snapshot = await CreateSource(account).ReadAsync(CancellationToken.None);

        snapshot.Value.Should().Be(account.OpenAI.GetKeys().Key1);
        snapshot.Version.Should().Be(account.Vault.GetVersionIds(PrivateAccount.SecretName).Single());
        snapshot.ReadAt.Should().Be(_time.GetUtcNow());
        account.Vault.Requests.Where(r => r.StatusCode == 200).Should().OnlyContain(r =>
            r.Method == "GET" && r.SecretName == PrivateAccount.SecretName, "the app reads one secret by name and never lists the vault");
    }

    [Fact]
    public async Task ReadAsync_IdentityWithoutRole_ThrowsAccessDeniedTellingWhichRoleToGrant()
    {
        await using var account = await PrivateAccount.StartAsync(grantAppIdentity: false);

        var act = () => CreateSource(account).ReadAsync(CancellationToken.None);

        var failure = (await act.Should().ThrowAsync<SecretSourceException>()).Which;
        failure.Failure.Should().Be(SecretSourceFailure.AccessDenied);
        failure.Status.Should().Be(403);
        failure.Message.Should().Contain("'Key Vault Secrets User' role on the secret").And.Contain("Forbidden");
        failure.Message.Should().NotContain(account.OpenAI.GetKeys().Key1);
    }

    [Fact]
    public async Task ReadAsync_SecretMissing_ThrowsNotFoundNamingTheSettings()
    {
        await using var account = await PrivateAccount.StartAsync();
        account.Vault.GrantRole(SharedLocalAzure.Instance.AppIdentity.ObjectId, AzureRoles.KeyVaultSecretsUser, "other-secret");

        var act = () => CreateSource(account, "other-secret").ReadAsync(CancellationToken.None);

        var failure = (await act.Should().ThrowAsync<SecretSourceException>()).Which;
        failure.Failure.Should().Be(SecretSourceFailure.NotFound);
        failure.Message.Should().Contain("KeyVault:SecretName");
    }

    [Fact]
    public async Task ReadAsync_VaultThrottles_ThrowsThrottledCarryingRetryAfter()
    {
        await using var account = await PrivateAccount.StartAsync();
        account.Vault.Faults.FailNext(2, 429, TimeSpan.FromSeconds(1));

        var act = () => CreateSource(account).ReadAsync(CancellationToken.None);

        var failure = (await act.Should().ThrowAsync<SecretSourceException>()).Which;
        failure.Failure.Should().Be(SecretSourceFailure.Throttled);
        failure.RetryAfter.Should().Be(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Cache_OverRealVault_PicksUpNewVersionAfterTimeToLive()
    {
        await using var account = await PrivateAccount.StartAsync();
        using var meters = new TestMeterFactory();
        var cache = new RotatingSecretCache(CreateSource(account), new KeyCacheOptions(), _time,
            NullLogger<RotatingSecretCache>.Instance, new KeyCacheMetrics(meters));
        var before = await cache.GetAsync();

        account.Rotate();
        var stillCached = await cache.GetAsync();
        _time.Advance(TimeSpan.FromMinutes(5));
        var after = await cache.GetAsync();

        stillCached.Should().BeSameAs(before);
        after.Value.Should().Be(account.Vault.PeekCurrentValue(PrivateAccount.SecretName));
        after.Version.Should().NotBe(before.Version);
        account.Vault.SecretReadCount(PrivateAccount.SecretName).Should().Be(2);
    }

    private KeyVaultSecretSource CreateSource(PrivateAccount account, string secretName = PrivateAccount.SecretName)
    {
        // The app's own client options, with only the transport swapped for the proxy and the local CA: in the worker
        // process HTTPS_PROXY and SSL_CERT_FILE do the same without any option.
        var options = KeyVaultSecretSource.CreateClientOptions();
        options.Transport = new HttpClientTransport(SharedLocalAzure.Instance.CreateHttpMessageHandler());
        TokenCredential credential = SharedLocalAzure.CreateManagedIdentityCredential();
        return new KeyVaultSecretSource(new SecretClient(account.Vault.VaultUri, credential, options), secretName, _time);
    }
}
