using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace AgentFunctions.DevHost.Functions.Http;

/// <summary>The request body as read by <see cref="RequestBodyReader"/>.</summary>
internal readonly record struct RequestBody(bool IsTooLarge, byte[] Content)
{
    public static RequestBody TooLarge { get; } = new(true, []);
}

/// <summary>Reads a whole request body while enforcing a size limit, whether or not the client declared a length.</summary>
internal static class RequestBodyReader
{
    private const int ChunkSize = 16 * 1024;

    public static async Task<RequestBody> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);

        // A declared length over the limit is refused before a byte of it is read.
        if (request.ContentLength > maxBytes)
        {
            return RequestBody.TooLarge;
        }

        using var content = new MemoryStream(request.ContentLength is { } declared ? (int)declared : 0);
        var chunk = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await request.Body.ReadAsync(chunk.AsMemory(0, ChunkSize), cancellationToken).ConfigureAwait(false);
                }
                catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
                {
                    // Kestrel enforces the same limit on its side.
                    return RequestBody.TooLarge;
                }

                if (read == 0)
                {
                    break;
                }

                if (content.Length + read > maxBytes)
                {
                    return RequestBody.TooLarge;
                }

                content.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return new RequestBody(false, content.ToArray());
    }
}
