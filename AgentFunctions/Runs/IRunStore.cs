using Azure;

namespace AgentFunctions.Runs;

/// <summary>A run and the version tag it was read at; a replace succeeds only while the stored run is still at that tag.</summary>
public sealed record StoredRun(AgentRun Run, ETag ETag);

/// <summary>Run state with optimistic concurrency: a create fails if the run exists, a replace fails if it changed.</summary>
public interface IRunStore
{
    /// <summary>Creates the run; false when a run with that id exists already.</summary>
    Task<bool> TryCreateAsync(AgentRun run, CancellationToken cancellationToken);

    Task<StoredRun?> GetAsync(string runId, CancellationToken cancellationToken);

    /// <summary>Replaces the run; false when it changed since <paramref name="etag"/> was read.</summary>
    Task<bool> TryReplaceAsync(AgentRun run, ETag etag, CancellationToken cancellationToken);
}
