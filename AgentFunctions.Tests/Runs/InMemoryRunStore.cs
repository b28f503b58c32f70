using System.Collections.Concurrent;
using AgentFunctions.Runs;
using Azure;

namespace AgentFunctions.Tests.Runs;

/// <summary>
/// Run state with the same optimistic-concurrency contract as the blob store, for step rules that need exact control;
/// the blob store itself runs against Azurite in its own tests.
/// </summary>
internal sealed class InMemoryRunStore : IRunStore
{
    private readonly ConcurrentDictionary<string, (AgentRun Run, ETag ETag)> _runs = new(StringComparer.Ordinal);
    private int _writes;
    private int _reads;

    public int Writes => Volatile.Read(ref _writes);

    public int Reads => Volatile.Read(ref _reads);

    /// <summary>Runs just before a replace is applied, to let a test slip a competing write in between read and replace.</summary>
    public Action<string>? BeforeReplace { get; set; }

    public Task<bool> TryCreateAsync(AgentRun run, CancellationToken cancellationToken)
    {
        bool created = _runs.TryAdd(run.RunId, (run, NewETag()));
        if (created)
        {
            Interlocked.Increment(ref _writes);
        }

        return Task.FromResult(created);
    }

    public Task<StoredRun?> GetAsync(string runId, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        return Task.FromResult(_runs.TryGetValue(runId, out var entry) ? new StoredRun(entry.Run, entry.ETag) : null);
    }

    public Task<bool> TryReplaceAsync(AgentRun run, ETag etag, CancellationToken cancellationToken)
    {
        BeforeReplace?.Invoke(run.RunId);
        if (!_runs.TryGetValue(run.RunId, out var current) || current.ETag != etag)
        {
            return Task.FromResult(false);
        }

        bool replaced = _runs.TryUpdate(run.RunId, (run, NewETag()), current);
        if (replaced)
        {
            Interlocked.Increment(ref _writes);
        }

        return Task.FromResult(replaced);
    }

    public AgentRun Get(string runId) => _runs[runId].Run;

    private static ETag NewETag() => new(Guid.NewGuid().ToString("N"));
}
