using System.Buffers;

namespace AgentFunctions.Functions.Http;

internal static class RequestBody
{
    /// <summary>Reads at most <paramref name="limit"/> bytes; returns null when the body is longer than that.</summary>
    public static async Task<byte[]?> ReadAtMostAsync(Stream body, int limit, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(limit + 1);
        try
        {
            int total = 0;
            while (total <= limit)
            {
                int read = await body.ReadAsync(buffer.AsMemory(total, limit + 1 - total), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return buffer.AsSpan(0, total).ToArray();
                }

                total += read;
            }

            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }
}
