namespace AgentFunctions.DevHost.Functions.Queues;

/// <summary>
/// The wait between polls of an empty queue: it starts at 100 ms and doubles with each empty poll up to the maximum,
/// each wait randomized by ±20 % so that several listeners drift apart; a poll that finds messages resets it.
/// </summary>
internal sealed class PollingBackoff
{
    private const double Jitter = 0.2;

    private readonly TimeSpan _minimum;
    private readonly TimeSpan _maximum;
    private readonly Func<double> _nextUnitRandom;
    private int _emptyPolls;

    /// <param name="nextUnitRandom">A source of numbers in [0, 1); default <see cref="Random.Shared"/>.</param>
    public PollingBackoff(TimeSpan minimum, TimeSpan maximum, Func<double>? nextUnitRandom = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(minimum, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maximum, minimum);
        _minimum = minimum;
        _maximum = maximum;
        _nextUnitRandom = nextUnitRandom ?? Random.Shared.NextDouble;
    }

    /// <summary>True while the last poll found nothing.</summary>
    public bool IsBackingOff => _emptyPolls > 0;

    /// <summary>The wait after one more empty poll.</summary>
    public TimeSpan NextDelay()
    {
        // Past 2^20 the doubling has long since hit any sensible maximum; the cap keeps the arithmetic finite.
        _emptyPolls = Math.Min(_emptyPolls + 1, 20);
        var growing = _minimum.TotalMilliseconds * Math.Pow(2, _emptyPolls - 1);
        var randomized = growing * (1 - Jitter + (2 * Jitter * _nextUnitRandom()));
        var milliseconds = Math.Clamp(randomized, _minimum.TotalMilliseconds, _maximum.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(milliseconds);
    }

    /// <summary>Called when a poll found messages; returns true if the listener had been backing off.</summary>
    public bool Reset()
    {
        var wasBackingOff = _emptyPolls > 0;
        _emptyPolls = 0;
        return wasBackingOff;
    }
}
