using AgentFunctions.Configuration;
using AgentFunctions.Credentials;
using AgentFunctions.Security;
using AgentFunctions.Tests.Credentials;
using AgentFunctions.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace AgentFunctions.Tests.Security;

/// <summary>
/// A key cache that has been through one rotation: it serves <see cref="CurrentKey"/> and still knows
/// <see cref="RetiredKey"/>, so a filter built on it must remove both.
/// </summary>
internal sealed class RotatedKeyCache : IDisposable
{
    /// <summary>The fake vault's first value, replaced by the rotation.</summary>
    public const string RetiredKey = "fake-key-one-0000000000000000000001";

    public const string CurrentKey = "fake-key-two-0000000000000000000002";

    private readonly TestMeterFactory _meters;

    private RotatedKeyCache(TestMeterFactory meters, RotatingSecretCache cache)
    {
        _meters = meters;
        Cache = cache;
    }

    public RotatingSecretCache Cache { get; }

    public SecretRedactor CreateRedactor() => new(Cache);

    public static async Task<RotatedKeyCache> CreateAsync()
    {
        var meters = new TestMeterFactory();
        var time = new FakeTimeProvider();
        var source = new FakeSecretSource(time);
        var cache = new RotatingSecretCache(source, new KeyCacheOptions(), time, NullLogger<RotatingSecretCache>.Instance,
            new KeyCacheMetrics(meters));
        (await cache.GetAsync()).Value.Should().Be(RetiredKey);
        source.SetSecret(CurrentKey, "version2");
        // Past the default time to live, so the next read goes to the vault and meets the new version.
        time.Advance(new KeyCacheOptions().TimeToLive);
        (await cache.GetAsync()).Value.Should().Be(CurrentKey);
        return new RotatedKeyCache(meters, cache);
    }

    public void Dispose() => _meters.Dispose();
}
