namespace AgentFunctions.DevHost.Doubles;

/// <summary>What a double does to one request instead of, or before, serving it.</summary>
/// <param name="StatusCode">The status to fail with, or null to serve the request normally after the delay.</param>
/// <param name="RetryAfter">The wait to advertise with a failure; null sends no retry headers.</param>
/// <param name="Delay">How long to hold the request before answering.</param>
internal sealed record InjectedFault(int? StatusCode, TimeSpan? RetryAfter, TimeSpan Delay);

/// <summary>
/// A queue of failures and delays that a double applies to its next requests, one plan step per request, so a
/// test can make a dependency throttle, fail or stall and then recover.
/// </summary>
internal sealed class FaultInjector
{
    private readonly Lock _gate = new();
    private readonly Queue<(InjectedFault Fault, int Remaining)> _plan = new();
    private (InjectedFault Fault, int Remaining)? _current;

    /// <summary>How many requests the plan still covers.</summary>
    public int Pending
    {
        get
        {
            lock (_gate)
            {
                return (_current?.Remaining ?? 0) + _plan.Sum(step => step.Remaining);
            }
        }
    }

    /// <summary>Makes the next <paramref name="count"/> requests fail with <paramref name="statusCode"/>.</summary>
    /// <param name="retryAfter">
    /// Advertised in <c>Retry-After</c> (whole seconds, rounded up) and, where the service sends it,
    /// <c>retry-after-ms</c>. Azure SDK clients obey it without a cap, so tests keep it near zero.
    /// </param>
    public void FailNext(int count, int statusCode, TimeSpan? retryAfter = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        Enqueue(new InjectedFault(statusCode, retryAfter, TimeSpan.Zero), count);
    }

    /// <summary>Holds each of the next <paramref name="count"/> requests for <paramref name="delay"/>.</summary>
    public void DelayNext(int count, TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        Enqueue(new InjectedFault(null, null, delay), count);
    }

    /// <summary>Drops whatever is still planned.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _plan.Clear();
            _current = null;
        }
    }

    /// <summary>Takes the plan step for the request being served, or null when nothing is planned.</summary>
    public InjectedFault? Take()
    {
        lock (_gate)
        {
            if (_current is null && _plan.Count > 0)
            {
                _current = _plan.Dequeue();
            }

            if (_current is not { } step)
            {
                return null;
            }

            _current = step.Remaining > 1 ? (step.Fault, step.Remaining - 1) : null;
            return step.Fault;
        }
    }

    private void Enqueue(InjectedFault fault, int count)
    {
        lock (_gate)
        {
            _plan.Enqueue((fault, count));
        }
    }
}
