using AgentFunctions.Configuration;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.Credentials;

/// <summary>
/// Holds one secret in memory for a short, jittered time to live so that every invocation can ask for it and a rotation
/// in the vault reaches every instance without a restart.
/// </summary>
/// <remarks>
/// <para>
/// A hit reads one volatile field and one timestamp: no lock, no allocation. Everything else (misses, the refresh ahead
/// of expiry, failures, the 401 path) runs on the slow path under a lock that guards only bookkeeping; the vault read
/// itself is a single shared task, so any number of concurrent callers cause one vault request.
/// </para>
/// <para>
/// When the vault fails the last good value keeps being served for <see cref="KeyCacheOptions.MaxStaleness"/> past its
/// expiry while reads back off exponentially (or as the vault's Retry-After asks); past that bound callers get a
/// <see cref="KeyUnavailableException"/> telling the operator what to check.
/// </para>
/// </remarks>
public sealed class RotatingSecretCache
{
    private readonly ISecretSource _source;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly KeyCacheMetrics _metrics;
    private readonly Func<double> _nextJitterSample;
    private readonly TimeSpan _timeToLive;
    private readonly double _jitterRatio;
    private readonly long _refreshAheadTicks;
    private readonly long _maxStalenessTicks;
    private readonly TimeSpan _minRetryDelay;
    private readonly TimeSpan _maxRetryDelay;

    private readonly Lock _gate = new();
    private volatile Entry? _entry;

    // Guarded by _gate.
    private Task<Entry>? _readInFlight;
    private int _consecutiveFailures;
    private long _nextAttemptAt;
    private SecretSourceException? _lastFailure;
    private string? _versionKnownRejected;

    // 1 after a failed read until the next stale serve has logged its warning: one warning per failed read, not per caller.
    private int _staleWarningPending;

    /// <param name="nextJitterSample">Returns a number in [0, 1) for the jitter; defaults to <see cref="Random.Shared"/>.</param>
    public RotatingSecretCache(ISecretSource source, KeyCacheOptions options, TimeProvider time, ILogger<RotatingSecretCache> logger,
        KeyCacheMetrics metrics, Func<double>? nextJitterSample = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(metrics);

        _source = source;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _nextJitterSample = nextJitterSample ?? Random.Shared.NextDouble;
        _timeToLive = options.TimeToLive;
        _jitterRatio = options.JitterRatio;
        _refreshAheadTicks = ToTicks(options.RefreshAhead);
        _maxStalenessTicks = ToTicks(options.MaxStaleness);
        _minRetryDelay = options.MinRetryDelay;
        _maxRetryDelay = options.MaxRetryDelay;
    }

    /// <summary>The secret this cache holds, for logs and operator messages.</summary>
    public string Description => _source.Description;

    /// <summary>How many replaced values the output filter always keeps besides the current one, however old.</summary>
    public const int RememberedRetiredValues = 2;

    /// <summary>
    /// How long a replaced value is kept for the output filter beyond the <see cref="RememberedRetiredValues"/> newest:
    /// longer than any one model call can take (at most 10 minutes a try, four tries, twice for a 401 retry), so that an
    /// answer to a call sent with a key that has since been rotated out several times is still filtered for that key.
    /// </summary>
    public static readonly TimeSpan RetiredValueRetention = TimeSpan.FromHours(2);

    /// <summary>The most replaced values kept at all, so that a flood of rotations cannot grow the filter without end.</summary>
    public const int MaxRetiredValues = 16;

    /// <summary>
    /// The values that must never leave the app: the current one first, then the distinct values it replaced, newest
    /// first: always the <see cref="RememberedRetiredValues"/> newest, and any other replaced within
    /// <see cref="RetiredValueRetention"/>, up to <see cref="MaxRetiredValues"/>. A run that spans two rotations may still
    /// hold the oldest in its conversation, and a slow model call may answer after several.
    /// </summary>
    public IReadOnlyList<string> KnownValues => _entry is { } entry ? entry.KnownValues : [];

    /// <summary>The current secret, from memory when it is within its time to live.</summary>
    public ValueTask<SecretSnapshot> GetAsync(CancellationToken cancellationToken = default)
    {
        var entry = _entry;
        if (entry is not null)
        {
            long now = _time.GetTimestamp();
            if (now < entry.RefreshAt)
            {
                _metrics.Hit();
                return new ValueTask<SecretSnapshot>(entry.Snapshot);
            }

            if (now < entry.ExpiresAt)
            {
                _metrics.Hit();
                StartReadAheadOfExpiry(entry, now);
                return new ValueTask<SecretSnapshot>(entry.Snapshot);
            }
        }

        return new ValueTask<SecretSnapshot>(GetAfterMissAsync(cancellationToken));
    }

    /// <summary>
    /// Called when Azure OpenAI answered 401 for <paramref name="rejectedVersion"/>. Returns a newer version, reading the
    /// vault at most once however many callers saw the 401, or throws <see cref="KeyRejectedException"/> when the vault
    /// still holds the rejected version, so that callers fail instead of looping.
    /// </summary>
    public async Task<SecretSnapshot> GetReplacementForRejectedAsync(string rejectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(rejectedVersion);
        Task<Entry> read;
        lock (_gate)
        {
            long now = _time.GetTimestamp();
            var entry = _entry;
            if (entry is not null && entry.Snapshot.Version != rejectedVersion)
            {
                return entry.Snapshot;
            }

            if (_readInFlight is { } inFlight)
            {
                read = inFlight;
            }
            else if (now < _nextAttemptAt)
            {
                throw _versionKnownRejected == rejectedVersion
                    ? CreateRejected(rejectedVersion)
                    : CreateUnavailable(_lastFailure, TicksToTimeSpan(_nextAttemptAt - now));
            }
            else
            {
                KeyCacheLog.KeyRejectedRefreshing(_logger, Description, rejectedVersion);
                read = StartReadLocked();
            }
        }

        Entry fresh;
        try
        {
            fresh = await read.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SecretSourceException failure)
        {
            throw CreateUnavailable(failure, RemainingBackoff());
        }

        if (fresh.Snapshot.Version != rejectedVersion)
        {
            return fresh.Snapshot;
        }

        lock (_gate)
        {
            // The vault answered, yet with the rejected version: back off as after a failure, so that the callers still
            // holding that version fail fast instead of sending the vault one read per 401.
            _versionKnownRejected = rejectedVersion;
            _nextAttemptAt = _time.GetTimestamp() + ToTicks(NextRetryDelayLocked(retryAfter: null));
        }

        KeyCacheLog.KeyRejectedNoNewerVersion(_logger, Description, rejectedVersion);
        throw CreateRejected(rejectedVersion);
    }

    private async Task<SecretSnapshot> GetAfterMissAsync(CancellationToken cancellationToken)
    {
        _metrics.Miss();
        Task<Entry> read;
        lock (_gate)
        {
            long now = _time.GetTimestamp();
            var entry = _entry;
            if (entry is not null && now < entry.ExpiresAt)
            {
                return entry.Snapshot;
            }

            if (_readInFlight is { } inFlight)
            {
                read = inFlight;
            }
            else if (now < _nextAttemptAt)
            {
                return ServeStaleOrThrow(entry, now, _lastFailure);
            }
            else
            {
                read = StartReadLocked();
            }
        }

        try
        {
            return (await read.WaitAsync(cancellationToken).ConfigureAwait(false)).Snapshot;
        }
        catch (SecretSourceException failure)
        {
            return ServeStaleOrThrow(_entry, _time.GetTimestamp(), failure);
        }
    }

    private void StartReadAheadOfExpiry(Entry entry, long now)
    {
        // Only the first caller in the refresh-ahead window takes the lock; the rest keep the lock-free path.
        if (now < Volatile.Read(ref _nextAttemptAt) || Interlocked.Exchange(ref entry.ReadAheadStarted, 1) == 1)
        {
            return;
        }

        lock (_gate)
        {
            if (_readInFlight is not null || _entry != entry)
            {
                return;
            }

            // Failures are logged and counted inside the read; the entry stays valid until it expires.
            _ = StartReadLocked().ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private Task<Entry> StartReadLocked()
    {
        var read = ReadFromVaultAsync();
        if (!read.IsCompleted)
        {
            _readInFlight = read;
        }

        return read;
    }

    private async Task<Entry> ReadFromVaultAsync()
    {
        long started = _time.GetTimestamp();
        try
        {
            // Not the caller's token: this read is shared by every waiting caller, and one caller giving up must not
            // cancel it for the others. Each caller stops waiting on its own token instead.
            var snapshot = await _source.ReadAsync(CancellationToken.None).ConfigureAwait(false);
            var elapsed = _time.GetElapsedTime(started);
            _metrics.Refresh(elapsed);
            return Publish(snapshot, elapsed);
        }
        catch (Exception exception)
        {
            var failure = exception as SecretSourceException
                ?? new SecretSourceException(SecretSourceFailure.Unavailable,
                    $"Reading the secret failed with {exception.GetType().Name}.", innerException: exception);
            _metrics.Failure(_time.GetElapsedTime(started), failure.Failure);
            RecordFailure(failure);
            throw failure;
        }
    }

    private Entry Publish(SecretSnapshot snapshot, TimeSpan elapsed)
    {
        var previous = _entry;
        long now = _time.GetTimestamp();
        var timeToLive = _timeToLive * (1 - (_jitterRatio * _nextJitterSample()));
        long expiresAt = now + ToTicks(timeToLive);
        bool versionChanged = previous is not null && previous.Snapshot.Version != snapshot.Version;
        var entry = new Entry(
            snapshot,
            refreshAt: expiresAt - _refreshAheadTicks,
            expiresAt: expiresAt,
            known: RememberAlongside(snapshot.Value, previous, now));

        lock (_gate)
        {
            _entry = entry;
            _readInFlight = null;
            _consecutiveFailures = 0;
            _nextAttemptAt = 0;
            _lastFailure = null;
            _versionKnownRejected = null;
        }

        KeyCacheLog.KeyRead(_logger, Description, snapshot.Version, (long)elapsed.TotalMilliseconds, (long)timeToLive.TotalSeconds);
        if (versionChanged)
        {
            KeyCacheLog.KeyVersionChanged(_logger, Description, previous!.Snapshot.Version, snapshot.Version);
        }

        return entry;
    }

    private void RecordFailure(SecretSourceException failure)
    {
        TimeSpan delay;
        lock (_gate)
        {
            _readInFlight = null;
            _consecutiveFailures++;
            delay = NextRetryDelayLocked(failure.RetryAfter);
            _nextAttemptAt = _time.GetTimestamp() + ToTicks(delay);
            _lastFailure = failure;
            _staleWarningPending = 1;
            if (_entry is { } entry)
            {
                Volatile.Write(ref entry.ReadAheadStarted, 0);
            }
        }

        KeyCacheLog.KeyReadFailed(_logger, Description, failure.Failure, failure.Status, failure.Message, (long)delay.TotalMilliseconds);
    }

    private TimeSpan NextRetryDelayLocked(TimeSpan? retryAfter)
    {
        int doublings = Math.Clamp(_consecutiveFailures - 1, 0, 30);
        var exponential = TimeSpan.FromTicks(Math.Min(_maxRetryDelay.Ticks, _minRetryDelay.Ticks << Math.Min(doublings, 20)));
        // The service knows its own load better than our schedule does, so a longer Retry-After wins over the cap.
        return retryAfter is { } asked && asked > exponential ? asked : exponential;
    }

    private SecretSnapshot ServeStaleOrThrow(Entry? entry, long now, SecretSourceException? failure)
    {
        if (entry is not null && now < entry.ExpiresAt + _maxStalenessTicks)
        {
            _metrics.StaleServe();
            if (Interlocked.Exchange(ref _staleWarningPending, 0) == 1)
            {
                KeyCacheLog.ServingStaleKey(_logger, Description, entry.Snapshot.Version,
                    (long)(_time.GetUtcNow() - entry.Snapshot.ReadAt).TotalSeconds,
                    (long)TicksToTimeSpan(entry.ExpiresAt + _maxStalenessTicks - now).TotalSeconds);
            }

            return entry.Snapshot;
        }

        var unavailable = CreateUnavailable(failure, RemainingBackoff());
        KeyCacheLog.KeyUnavailable(_logger, Description, unavailable.Message);
        throw unavailable;
    }

    private TimeSpan? RemainingBackoff()
    {
        long remaining = Volatile.Read(ref _nextAttemptAt) - _time.GetTimestamp();
        return remaining > 0 ? TicksToTimeSpan(remaining) : null;
    }

    private KeyUnavailableException CreateUnavailable(SecretSourceException? failure, TimeSpan? retryAfter)
    {
        var entry = _entry;
        string staleness = entry is null
            ? "No key has been read since the app started."
            : $"The last key read (version {entry.Snapshot.Version}) is past its time to live plus the allowed staleness "
                + $"(KeyCache:MaxStaleness = {TicksToTimeSpan(_maxStalenessTicks)}).";
        string cause = failure is null ? "The vault read has not succeeded yet." : $"Last failure: {failure.Message}";
        return new KeyUnavailableException($"The Azure OpenAI key in {Description} cannot be read. {staleness} {cause}",
            retryAfter, failure);
    }

    private KeyRejectedException CreateRejected(string rejectedVersion) =>
        new($"Azure OpenAI rejects the key in {Description} (version {rejectedVersion}) and the vault holds no newer version. "
            + "Put one of the account's current keys into the secret as a new version; instances pick it up without a restart.");

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private TimeSpan TicksToTimeSpan(long ticks) => TimeSpan.FromSeconds((double)ticks / _time.TimestampFrequency);

    private (string Value, long RetiredAt)[] RememberAlongside(string current, Entry? previous, long now)
    {
        var known = new List<(string Value, long RetiredAt)> { (current, 0) };
        if (previous is null)
        {
            return [.. known];
        }

        long retention = ToTicks(RetiredValueRetention);
        for (int i = 0; i < previous.Known.Length && known.Count <= MaxRetiredValues; i++)
        {
            var (value, retiredAt) = previous.Known[i];
            if (value == current)
            {
                continue;
            }

            // The value that was current until now retires now; the others keep the time they were replaced.
            retiredAt = i == 0 ? now : retiredAt;
            if (known.Count <= RememberedRetiredValues || now - retiredAt <= retention)
            {
                known.Add((value, retiredAt));
            }
        }

        return [.. known];
    }

    private sealed class Entry(SecretSnapshot snapshot, long refreshAt, long expiresAt, (string Value, long RetiredAt)[] known)
    {
        public SecretSnapshot Snapshot { get; } = snapshot;

        public long RefreshAt { get; } = refreshAt;

        public long ExpiresAt { get; } = expiresAt;

        // The current value first, then the values it replaced, newest first, each once, with when each was replaced.
        public (string Value, long RetiredAt)[] Known { get; } = known;

        public string[] KnownValues { get; } = [.. known.Select(pair => pair.Value)];

        // 1 once a read ahead of expiry has been started for this entry; reset to 0 when that read fails.
        public int ReadAheadStarted;
    }
}
