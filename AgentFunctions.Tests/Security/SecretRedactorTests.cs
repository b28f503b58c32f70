using AgentFunctions.Configuration;
using AgentFunctions.Credentials;
using AgentFunctions.Security;
using AgentFunctions.Tests.Credentials;
using AgentFunctions.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace AgentFunctions.Tests.Security;

public sealed class SecretRedactorTests
{
    [Fact]
    public async Task Redact_TextWithCurrentAndPreviousKeys_RemovesBoth()
    {
        using var meters = new TestMeterFactory();
        var time = new FakeTimeProvider();
        var source = new FakeSecretSource(time);
        var cache = new RotatingSecretCache(source, new KeyCacheOptions(), time, NullLogger<RotatingSecretCache>.Instance,
            new KeyCacheMetrics(meters));
        await cache.GetAsync();
        source.SetSecret("fake-key-two-0000000000000000000002", "version2");
        time.Advance(TimeSpan.FromMinutes(5));
        await cache.GetAsync();
        var redactor = new SecretRedactor(cache);

        string redacted = redactor.Redact(
            "old fake-key-one-0000000000000000000001, new FAKE-KEY-TWO-0000000000000000000002, and fake-key-two-0000000000000000000002.");

        redacted.Should().Be("old [redacted], new [redacted], and [redacted].");
    }

    [Fact]
    public void Redact_KeylessMode_LeavesTextAlone()
    {
        new SecretRedactor(null).Redact("nothing to hide").Should().Be("nothing to hide");
    }
}
