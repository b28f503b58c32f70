using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace AgentFunctions.Runs;

/// <summary>
/// One JSON blob per run. Blobs rather than tables because a run's conversation grows with every step and soon passes a
/// table entity's 64 KiB-per-property and 1 MiB-per-entity limits, while a blob holds one document of any size; a
/// conditional write on the blob's ETag gives the optimistic concurrency each step needs.
/// </summary>
public sealed class BlobRunStore(BlobContainerClient container) : IRunStore
{
    private Task? _containerReady;

    public async Task<bool> TryCreateAsync(AgentRun run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Blob(run.RunId).UploadAsync(Serialize(run), new BlobUploadOptions
            {
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException exception) when (exception.Status is 409 or 412)
        {
            return false;
        }
    }

    public async Task<StoredRun?> GetAsync(string runId, CancellationToken cancellationToken)
    {
        try
        {
            var download = await Blob(runId).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            var run = JsonSerializer.Deserialize(download.Value.Content.ToMemory().Span, RunJsonContext.Default.AgentRun)
                ?? throw new InvalidDataException($"The stored state of run '{runId}' is empty.");
            return new StoredRun(run, download.Value.Details.ETag);
        }
        catch (RequestFailedException exception) when (exception.Status == 404)
        {
            return null;
        }
    }

    public async Task<bool> TryReplaceAsync(AgentRun run, ETag etag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        try
        {
            await Blob(run.RunId).UploadAsync(Serialize(run), new BlobUploadOptions
            {
                Conditions = new BlobRequestConditions { IfMatch = etag },
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException exception) when (exception.Status == 412)
        {
            return false;
        }
    }

    private BlobClient Blob(string runId) => container.GetBlobClient($"{runId}.json");

    private static BinaryData Serialize(AgentRun run) =>
        BinaryData.FromBytes(JsonSerializer.SerializeToUtf8Bytes(run, RunJsonContext.Default.AgentRun));

    // Created on first use rather than at start-up, so a storage outage delays runs instead of stopping the app; a failed
    // attempt is not remembered, the next call tries again.
    private Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        var ready = Volatile.Read(ref _containerReady);
        if (ready is { IsCompletedSuccessfully: true })
        {
            return Task.CompletedTask;
        }

        if (ready is null || ready.IsFaulted || ready.IsCanceled)
        {
            ready = container.CreateIfNotExistsAsync(cancellationToken: CancellationToken.None);
            Volatile.Write(ref _containerReady, ready);
        }

        return ready.WaitAsync(cancellationToken);
    }
}
