namespace AgentFunctions.Configuration;

/// <summary>How long the key is trusted in memory and how the cache behaves when the vault fails. Section <c>KeyCache</c>.</summary>
public sealed class KeyCacheOptions
{
    public const string SectionName = "KeyCache";

    public static readonly TimeSpan MinimumTimeToLive = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan MaximumTimeToLive = TimeSpan.FromHours(1);
    public const double MaximumJitterRatio = 0.5;
    public static readonly TimeSpan MaximumStaleness = TimeSpan.FromHours(24);

    /// <summary>
    /// How long a key read from the vault is used before it is read again; this bounds how long a rotation takes to reach
    /// every instance. Default: 5 minutes; allowed 10 seconds to 1 hour.
    /// </summary>
    public TimeSpan TimeToLive { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Each entry's time to live is shortened by a random share of up to this ratio, so that many instances started
    /// together do not all read the vault in the same second. Default: 0.1; allowed 0 to 0.5.
    /// </summary>
    public double JitterRatio { get; set; } = 0.1;

    /// <summary>
    /// How long before expiry a background read starts, so callers never wait for the vault while a valid key exists.
    /// Default: 30 seconds; must be less than half the time to live.
    /// </summary>
    public TimeSpan RefreshAhead { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long past expiry the last good key is still served while the vault cannot be read. Default: 30 minutes;
    /// allowed 0 (never serve an expired key) to 24 hours.
    /// </summary>
    public TimeSpan MaxStaleness { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>First wait after a failed vault read; it doubles with each further failure. Default: 1 second.</summary>
    public TimeSpan MinRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between failed vault reads, unless the vault asks for longer with Retry-After. Default: 1 minute.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(1);
}
