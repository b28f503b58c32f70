using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;

namespace AgentFunctions.DevHost.Functions.Http;

/// <summary>Writes RFC 9457 problem documents for the errors the front end produces itself.</summary>
internal static class ProblemResponse
{
    public const string ContentType = "application/problem+json";

    public static async Task WriteAsync(HttpContext context, int status, string title, string detail,
        string? invocationId = null)
    {
        ArgumentNullException.ThrowIfNull(context);

        var response = context.Response;
        if (response.HasStarted)
        {
            // Too late for a status line; cutting the connection is the only honest signal left.
            context.Abort();
            return;
        }

        var document = JsonSerializer.SerializeToUtf8Bytes(new ProblemDocument(status, title, detail, invocationId),
            ProblemDocumentContext.Default.ProblemDocument);
        // Headers already set stay, such as the Allow header routing adds to a 405.
        response.StatusCode = status;
        response.ContentType = ContentType;
        response.ContentLength = document.Length;
        await response.Body.WriteAsync(document, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Body for a status the routing layer set without one (404 no route, 405 method not allowed).</summary>
    public static Task WriteForRoutingStatusAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);

        return context.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound =>
                WriteAsync(context, StatusCodes.Status404NotFound, "Not Found", "No function is served at this path."),
            // Said of the path, not of a function: the local host's own endpoints (say /_devhost/rotate-key) get it too.
            StatusCodes.Status405MethodNotAllowed => WriteAsync(context, StatusCodes.Status405MethodNotAllowed,
                "Method Not Allowed",
                $"This path does not accept {context.Request.Method} requests; the Allow header lists the methods it does."),
            _ => Task.CompletedTask,
        };
    }
}

internal sealed record ProblemDocument(int Status, string Title, string Detail, string? InvocationId);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ProblemDocument))]
internal sealed partial class ProblemDocumentContext : JsonSerializerContext;
