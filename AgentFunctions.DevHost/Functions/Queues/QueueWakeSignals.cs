using System.Collections.Concurrent;

namespace AgentFunctions.DevHost.Functions.Queues;

/// <summary>
/// Lets a queue output binding wake the listeners of the queue it just wrote to, so a message produced inside the host
/// is picked up at once rather than after the listener's back-off, as the Functions host does for its own writes.
/// </summary>
internal sealed class QueueWakeSignals
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<object, Action>> _listeners =
        new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Calls <paramref name="wake"/> whenever the host writes to <paramref name="queueUri"/>, until disposed.</summary>
    public IDisposable Register(Uri queueUri, Action wake)
    {
        ArgumentNullException.ThrowIfNull(queueUri);
        ArgumentNullException.ThrowIfNull(wake);
        var key = Key(queueUri);
        var registration = new Registration(this, key);
        _listeners.GetOrAdd(key, _ => new ConcurrentDictionary<object, Action>())[registration] = wake;
        return registration;
    }

    /// <summary>Wakes every listener of <paramref name="queueUri"/>.</summary>
    public void Notify(Uri queueUri)
    {
        ArgumentNullException.ThrowIfNull(queueUri);
        if (_listeners.TryGetValue(Key(queueUri), out var wakers))
        {
            foreach (var wake in wakers.Values)
            {
                wake();
            }
        }
    }

    private static string Key(Uri queueUri) => queueUri.GetLeftPart(UriPartial.Path).TrimEnd('/');

    private sealed class Registration(QueueWakeSignals owner, string key) : IDisposable
    {
        public void Dispose()
        {
            if (owner._listeners.TryGetValue(key, out var wakers))
            {
                wakers.TryRemove(this, out _);
            }
        }
    }
}
