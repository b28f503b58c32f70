using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>A double's answer to one request: a status and a JSON body, written by the double's one writer.</summary>
internal readonly record struct JsonReply(int StatusCode, JsonNode Body);

/// <summary>Small helpers the doubles share for reading requests and writing JSON answers.</summary>
internal static class DoubleHttp
{
    /// <summary>
    /// Compact JSON that leaves characters such as <c>+</c> and <c>'</c> unescaped, as the services write them; the
    /// answers are JSON for API clients, never HTML, so the stricter default escaping buys nothing here.
    /// </summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static async Task WriteJsonAsync(HttpContext context, JsonReply reply)
    {
        context.Response.StatusCode = reply.StatusCode;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(reply.Body.ToJsonString(Json), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Reads the body as JSON; null when it is empty or not JSON.</summary>
    public static async Task<JsonNode?> TryReadJsonAsync(HttpRequest request)
    {
        try
        {
            return await JsonNode.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted)
                .ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Sets <c>Retry-After</c> in whole seconds (rounded up) and, when asked, <c>retry-after-ms</c>.</summary>
    public static void AddRetryAfter(HttpResponse response, TimeSpan retryAfter, bool withMilliseconds)
    {
        var seconds = (long)Math.Ceiling(retryAfter.TotalSeconds);
        response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        if (withMilliseconds)
        {
            var milliseconds = (long)retryAfter.TotalMilliseconds;
            response.Headers["retry-after-ms"] = milliseconds.ToString(CultureInfo.InvariantCulture);
        }
    }

    /// <summary>The request's bearer token; null without an <c>Authorization: Bearer</c> header.</summary>
    public static string? BearerToken(HttpRequest request)
    {
        var value = request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        return value.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && value.Length > prefix.Length
            ? value[prefix.Length..].Trim()
            : null;
    }

    public static string NewRequestId() => Guid.NewGuid().ToString();
}
