using AgentFunctions.Configuration;
using AgentFunctions.Credentials;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using AgentFunctions.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace AgentFunctions.Tests.Credentials;

public sealed class RotatingSecretCacheTests : IDisposable
{
    private const string FirstKey = "fake-key-one-0000000000000000000001";
    private const string SecondKey = "fake-key-two-0000000000000000000002";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeSecretSource _source;
    private readonly FakeLogger<RotatingSecretCache> _logger = new();
    private readonly TestMeterFactory _meterFactory = new();
    private readonly KeyCacheOptions _options = new()
    {
        TimeToLive = TimeSpan.FromMinutes(5),
        JitterRatio = 0.1,
        RefreshAhead = TimeSpan.FromSeconds(30),
        MaxStaleness = TimeSpan.FromMinutes(10),
        MinRetryDelay = TimeSpan.FromSeconds(1),
        MaxRetryDelay = TimeSpan.FromSeconds(60),
    };

    private double _jitterSample;

    public RotatingSecretCacheTests() => _source = new FakeSecretSource(_time);

    public void Dispose() => _meterFactory.Dispose();

    private RotatingSecretCache CreateCache() =>
        new(_source, _options, _time, _logger, new KeyCacheMetrics(_meterFactory), () => _jitterSample);

    [Fact]
    public async Task GetAsync_ColdCache_ReadsVaultOnceAndReturnsValue()
    {
        var cache = CreateCache();

        var key = await cache.GetAsync();

        key.Value.Should().Be(FirstKey);
        key.Version.Should().Be("version1");
        _source.Reads.Should().Be(1);
    }

    [Fact]
    public async Task GetAsync_WithinTimeToLive_AnswersFromMemoryWithoutVaultRead()
    {
        var cache = CreateCache();
        var first = await cache.GetAsync();

        _time.Advance(TimeSpan.FromMinutes(4));
        var later = cache.GetAsync();

        later.IsCompletedSuccessfully.Should().BeTrue("a hit completes synchronously");
        (await later).Should().BeSameAs(first);
        _source.Reads.Should().Be(1);
    }

    [Fact]
    public async Task GetAsync_AfterTimeToLive_ReadsVaultAgainAndPicksUpRotation()
    {
        var cache = CreateCache();
        await cache.GetAsync();
        _source.SetSecret(SecondKey, "version2");

        _time.Advance(TimeSpan.FromMinutes(5));
        var key = await cache.GetAsync();

        key.Value.Should().Be(SecondKey);
        key.Version.Should().Be("version2");
        _source.Reads.Should().Be(2);
    }

    [Theory]
    [InlineData(0.0, 300)]
    [InlineData(0.5, 285)]
    [InlineData(0.999999, 270)]
    public async Task GetAsync_JitterSample_ShortensTimeToLiveWithinConfiguredRatio(double sample, int expectedLifetimeSeconds)
    {
        _jitterSample = sample;
        _options.RefreshAhead = TimeSpan.Zero;
        var cache = CreateCache();
        await cache.GetAsync();

        _time.Advance(TimeSpan.FromSeconds(expectedLifetimeSeconds - 1));
        await cache.GetAsync();
        int readsBeforeExpiry = _source.Reads;
        _time.Advance(TimeSpan.FromSeconds(2));
        await cache.GetAsync();

        readsBeforeExpiry.Should().Be(1);
        _source.Reads.Should().Be(2);
    }

    [Fact]
    public async Task GetAsync_DefaultRandomJitter_StaysBetweenNinetyAndHundredPercentOfTimeToLive()
    {
        _options.RefreshAhead = TimeSpan.Zero;
        for (int i = 0; i < 50; i++)
        {
            var source = new FakeSecretSource(_time);
            var cache = new RotatingSecretCache(source, _options, _time, _logger, new KeyCacheMetrics(_meterFactory));
            await cache.GetAsync();
            var start = _time.GetUtcNow();

            _time.Advance(TimeSpan.FromSeconds(270) - TimeSpan.FromMilliseconds(1));
            await cache.GetAsync();
            source.Reads.Should().Be(1, "no entry may expire before 90% of its time to live");
            _time.SetUtcNow(start + TimeSpan.FromSeconds(300));
            await cache.GetAsync();
            source.Reads.Should().Be(2, "every entry expires by its full time to live");
        }
    }

    [Fact]
    public async Task GetAsync_ThousandConcurrentCallersOnColdCache_MakeOneVaultRequest()
    {
        var cache = CreateCache();
        _source.Hold();

        var callers = Enumerable.Range(0, 1000).Select(_ => Task.Run(() => cache.GetAsync().AsTask())).ToArray();
        await WaitUntilAsync(() => _source.Reads == 1);
        await Task.Delay(50);
        _source.Release();
        var keys = await Task.WhenAll(callers);

        _source.Reads.Should().Be(1);
        keys.Should().AllSatisfy(key => key.Value.Should().Be(FirstKey));
        keys.Select(key => key).Distinct().Should().HaveCount(1);
    }

    [Fact]
    public async Task GetAsync_InRefreshAheadWindow_ReturnsCurrentKeyAtOnceAndReadsOnceInBackground()
    {
        var cache = CreateCache();
        var first = await cache.GetAsync();
        _source.SetSecret(SecondKey, "version2");
        _source.Hold();

        _time.Advance(TimeSpan.FromSeconds(300 - 20));
        var during = Enumerable.Range(0, 100).Select(_ => cache.GetAsync()).ToArray();

        during.Should().AllSatisfy(call => call.IsCompletedSuccessfully.Should().BeTrue("nobody waits for the vault while a valid key exists"));
        foreach (var call in during)
        {
            (await call).Should().BeSameAs(first);
        }

        _source.Reads.Should().Be(2);
        _source.Release();
        await WaitUntilAsync(() => cache.KnownValues[0] == SecondKey);
        (await cache.GetAsync()).Version.Should().Be("version2");
        _source.Reads.Should().Be(2);
    }

    [Fact]
    public async Task GetAsync_VaultFailsAfterExpiry_ServesLastGoodKeyWithWarning()
    {
        var cache = CreateCache();
        using var stale = new MetricCollector<long>(_meterFactory, KeyCacheMetrics.MeterName, "agentfunctions.key_cache.stale_serves");
        await cache.GetAsync();
        _source.FailWith(SecretSourceFailure.Unavailable);

        _time.Advance(TimeSpan.FromMinutes(6));
        var key = await cache.GetAsync();

        key.Value.Should().Be(FirstKey);
        stale.GetMeasurementSnapshot().EvaluateAsCounter().Should().Be(1);
        _logger.Collector.GetSnapshot().Should().Contain(record => record.Id.Name == "ServingStaleKey" && record.Level == LogLevel.Warning);
    }

    [Fact]
    public async Task GetAsync_VaultFailsPastMaxStaleness_ThrowsKeyUnavailableNamingTheSetting()
    {
        var cache = CreateCache();
        await cache.GetAsync();
        _source.FailWith(SecretSourceFailure.AccessDenied, status: 403);

        _time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        var act = async () => await cache.GetAsync();

        var failure = (await act.Should().ThrowAsync<KeyUnavailableException>()).Which;
        failure.Message.Should().Contain("KeyCache:MaxStaleness").And.Contain("AccessDenied").And.NotContain(FirstKey);
        failure.RetryAfter.Should().BePositive();
    }

    [Fact]
    public async Task GetAsync_VaultFailsOnColdCache_ThrowsKeyUnavailableSayingNoKeyWasEverRead()
    {
        var cache = CreateCache();
        _source.FailWith(SecretSourceFailure.IdentityFailed);

        var act = async () => await cache.GetAsync();

        (await act.Should().ThrowAsync<KeyUnavailableException>()).Which.Message.Should().Contain("No key has been read");
    }

    [Fact]
    public async Task GetAsync_RepeatedFailures_BackOffExponentiallyBetweenVaultReads()
    {
        _options.MaxStaleness = TimeSpan.FromHours(1);
        var cache = CreateCache();
        await cache.GetAsync();
        _source.FailWith(SecretSourceFailure.Unavailable);
        _time.Advance(TimeSpan.FromMinutes(5));

        var readTimes = new List<double>();
        var start = _time.GetUtcNow();
        for (int tick = 0; tick <= 160; tick++)
        {
            int before = _source.Reads;
            await cache.GetAsync();
            if (_source.Reads > before)
            {
                readTimes.Add((_time.GetUtcNow() - start).TotalSeconds);
            }

            _time.Advance(TimeSpan.FromMilliseconds(250));
        }

        // Failures at 0 s, then after 1, 2, 4, 8, 16 and 32 s of back-off.
        readTimes.Should().Equal(0, 1, 3, 7, 15, 31);
    }

    [Fact]
    public async Task GetAsync_VaultSendsRetryAfter_WaitsThatLongBeforeNextRead()
    {
        var cache = CreateCache();
        await cache.GetAsync();
        _source.FailWith(SecretSourceFailure.Throttled, TimeSpan.FromSeconds(30), 429);
        _time.Advance(TimeSpan.FromMinutes(5));
        await cache.GetAsync();

        _time.Advance(TimeSpan.FromSeconds(29));
        await cache.GetAsync();
        int readsBeforeRetryAfter = _source.Reads;
        _time.Advance(TimeSpan.FromSeconds(1));
        _source.Recover();
        var key = await cache.GetAsync();

        readsBeforeRetryAfter.Should().Be(2);
        _source.Reads.Should().Be(3);
        key.Value.Should().Be(FirstKey);
    }

    [Fact]
    public async Task GetReplacementForRejectedAsync_NewerVersionInVault_ReturnsItWithOneReadForManyCallers()
    {
        var cache = CreateCache();
        await cache.GetAsync();
        _source.SetSecret(SecondKey, "version2");
        _source.Hold();

        var callers = Enumerable.Range(0, 200)
            .Select(_ => Task.Run(() => cache.GetReplacementForRejectedAsync("version1")))
            .ToArray();
        await WaitUntilAsync(() => _source.Reads == 2);
        await Task.Delay(50);
        _source.Release();
        var replacements = await Task.WhenAll(callers);

        _source.Reads.Should().Be(2);
        replacements.Should().AllSatisfy(key => key.Version.Should().Be("version2"));
        cache.KnownValues.Should().Equal(SecondKey, FirstKey);
    }

    [Fact]
    public async Task GetReplacementForRejectedAsync_VaultStillHoldsRejectedVersion_FailsWithoutLooping()
    {
        var cache = CreateCache();
        await cache.GetAsync();

        var first = async () => await cache.GetReplacementForRejectedAsync("version1");
        var again = async () => await cache.GetReplacementForRejectedAsync("version1");

        (await first.Should().ThrowAsync<KeyRejectedException>()).Which.Message.Should().Contain("version1").And.NotContain(FirstKey);
        await again.Should().ThrowAsync<KeyRejectedException>();
        _source.Reads.Should().Be(2, "the second 401 within the back-off must not read the vault again");
    }

    [Fact]
    public async Task GetReplacementForRejectedAsync_CacheAlreadyMovedOn_ReturnsCurrentWithoutRead()
    {
        var cache = CreateCache();
        await cache.GetAsync();
        _source.SetSecret(SecondKey, "version2");
        _time.Advance(TimeSpan.FromMinutes(5));
        await cache.GetAsync();

        var replacement = await cache.GetReplacementForRejectedAsync("version1");

        replacement.Version.Should().Be("version2");
        _source.Reads.Should().Be(2);
    }

    [Fact]
    public async Task GetAsync_CallerCancels_SharedReadStillCompletesForOthers()
    {
        var cache = CreateCache();
        _source.Hold();
        using var cancellation = new CancellationTokenSource();

        var cancelled = cache.GetAsync(cancellation.Token).AsTask();
        var patient = cache.GetAsync().AsTask();
        await WaitUntilAsync(() => _source.Reads == 1);
        await cancellation.CancelAsync();
        var cancelledCall = async () => await cancelled;
        await cancelledCall.Should().ThrowAsync<OperationCanceledException>();
        _source.Release();

        (await patient).Value.Should().Be(FirstKey);
        _source.Reads.Should().Be(1);
    }

    [Fact]
    public async Task Metrics_CountHitsMissesAndReads()
    {
        var cache = CreateCache();
        using var hits = new MetricCollector<long>(_meterFactory, KeyCacheMetrics.MeterName, "agentfunctions.key_cache.hits");
        using var misses = new MetricCollector<long>(_meterFactory, KeyCacheMetrics.MeterName, "agentfunctions.key_cache.misses");
        using var reads = new MetricCollector<long>(_meterFactory, KeyCacheMetrics.MeterName, "agentfunctions.key_cache.refreshes");
        using var latency = new MetricCollector<double>(_meterFactory, KeyCacheMetrics.MeterName, "agentfunctions.key_vault.read.duration");

        await cache.GetAsync();
        for (int i = 0; i < 5; i++)
        {
            await cache.GetAsync();
        }

        misses.GetMeasurementSnapshot().EvaluateAsCounter().Should().Be(1);
        hits.GetMeasurementSnapshot().EvaluateAsCounter().Should().Be(5);
        reads.GetMeasurementSnapshot().EvaluateAsCounter().Should().Be(1);
        latency.GetMeasurementSnapshot().Should().ContainSingle();
    }

    [Fact]
    public async Task Logs_CarryNameVersionAndAgeButNeverTheValue()
    {
        var cache = CreateCache();
        await cache.GetAsync();
        _source.SetSecret(SecondKey, "version2");
        _time.Advance(TimeSpan.FromMinutes(5));
        await cache.GetAsync();
        _source.FailWith(SecretSourceFailure.Unavailable);
        _time.Advance(TimeSpan.FromMinutes(5));
        await cache.GetAsync();
        _time.Advance(TimeSpan.FromMinutes(11));
        try
        {
            await cache.GetAsync();
        }
        catch (KeyUnavailableException)
        {
        }

        var records = _logger.Collector.GetSnapshot();
        records.Select(r => r.Id.Name).Should().Contain(["KeyRead", "KeyVersionChanged", "KeyReadFailed", "ServingStaleKey", "KeyUnavailable"]);
        records.Should().Contain(r => r.Message.Contains("version2", StringComparison.Ordinal));
        records.Should().AllSatisfy(r =>
        {
            r.Message.Should().NotContain(FirstKey).And.NotContain(SecondKey);
            r.StructuredState!.Select(pair => pair.Value ?? string.Empty).Should().NotContain(v => v.Contains("fake-key", StringComparison.Ordinal));
        });
    }

    [Fact]
    public async Task KnownValues_RotationsWithRepeatedValue_KeepTwoDistinctRetiredValues()
    {
        const string ThirdKey = "fake-key-three-00000000000000000003";
        var cache = CreateCache();
        await cache.GetAsync();

        foreach (var (value, version) in new[] { (SecondKey, "version2"), (SecondKey, "version3"), (ThirdKey, "version4") })
        {
            _source.SetSecret(value, version);
            _time.Advance(TimeSpan.FromMinutes(5));
            await cache.GetAsync();
        }

        cache.KnownValues.Should().Equal(ThirdKey, SecondKey, FirstKey);
    }

    [Fact]
    public async Task KnownValues_ManyRotationsWithinRetention_KeepsEveryReplacedValue()
    {
        var cache = CreateCache();
        await cache.GetAsync();
        var values = new List<string> { FirstKey };

        // Rotations every 10 minutes for an hour: a model call sent with the first key could still be answering.
        for (int i = 2; i <= 7; i++)
        {
            string value = $"fake-key-{i}-000000000000000000000000{i}";
            values.Add(value);
            _source.SetSecret(value, $"version{i}");
            _time.Advance(TimeSpan.FromMinutes(10));
            await cache.GetAsync();
        }

        cache.KnownValues.Should().Equal(Enumerable.Reverse(values));
    }

    [Fact]
    public async Task KnownValues_ReplacedLongerAgoThanRetention_KeepsOnlyTheTwoNewestOfThose()
    {
        const string ThirdKey = "fake-key-three-00000000000000000003";
        const string FourthKey = "fake-key-four-000000000000000000004";
        var cache = CreateCache();
        await cache.GetAsync();

        foreach (var (value, version) in new[] { (SecondKey, "version2"), (ThirdKey, "version3"), (FourthKey, "version4") })
        {
            _source.SetSecret(value, version);
            _time.Advance(RotatingSecretCache.RetiredValueRetention + TimeSpan.FromMinutes(1));
            await cache.GetAsync();
        }

        cache.KnownValues.Should().Equal(FourthKey, ThirdKey, SecondKey);
    }

    [Fact]
    public async Task KnownValues_FloodOfRotations_KeepsAtMostTheCap()
    {
        var cache = CreateCache();
        await cache.GetAsync();

        for (int i = 2; i <= RotatingSecretCache.MaxRetiredValues + 10; i++)
        {
            _source.SetSecret($"fake-key-{i}-0000000000000000000000000", $"version{i}");
            _time.Advance(TimeSpan.FromMinutes(5));
            await cache.GetAsync();
        }

        cache.KnownValues.Should().HaveCount(RotatingSecretCache.MaxRetiredValues + 1)
            .And.StartWith($"fake-key-{RotatingSecretCache.MaxRetiredValues + 10}-0000000000000000000000000");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not become true within 10 seconds.");
            }

            await Task.Delay(5);
        }
    }
}
