using System.Diagnostics.Metrics;

namespace AgentFunctions.Credentials;

/// <summary>
/// The key cache's instruments. A hit adds to a counter with no tags, which neither locks nor allocates, so metrics
/// cost the hit path next to nothing whether or not anyone listens.
/// </summary>
public sealed class KeyCacheMetrics
{
    public const string MeterName = "AgentFunctions.KeyCache";

    private readonly Counter<long> _hits;
    private readonly Counter<long> _misses;
    private readonly Counter<long> _refreshes;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _staleServes;
    private readonly Histogram<double> _vaultLatency;

    public KeyCacheMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _hits = meter.CreateCounter<long>("agentfunctions.key_cache.hits", "{lookup}", "Key lookups answered from memory.");
        _misses = meter.CreateCounter<long>("agentfunctions.key_cache.misses", "{lookup}",
            "Key lookups that found no key within its time to live and had to wait for the vault.");
        _refreshes = meter.CreateCounter<long>("agentfunctions.key_cache.refreshes", "{read}", "Reads of the secret from the vault.");
        _failures = meter.CreateCounter<long>("agentfunctions.key_cache.failures", "{read}", "Vault reads that failed.");
        _staleServes = meter.CreateCounter<long>("agentfunctions.key_cache.stale_serves", "{lookup}",
            "Lookups answered with a key past its time to live because the vault could not be read.");
        _vaultLatency = meter.CreateHistogram<double>("agentfunctions.key_vault.read.duration", "s", "How long one vault read took.");
    }

    internal void Hit() => _hits.Add(1);

    internal void Miss() => _misses.Add(1);

    internal void Refresh(TimeSpan latency)
    {
        _refreshes.Add(1);
        _vaultLatency.Record(latency.TotalSeconds);
    }

    internal void Failure(TimeSpan latency, SecretSourceFailure failure)
    {
        _refreshes.Add(1);
        _failures.Add(1, new KeyValuePair<string, object?>("failure", failure.ToString()));
        _vaultLatency.Record(latency.TotalSeconds);
    }

    internal void StaleServe() => _staleServes.Add(1);
}
