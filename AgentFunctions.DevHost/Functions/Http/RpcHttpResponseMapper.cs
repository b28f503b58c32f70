using System.Globalization;
using System.Text;
using AgentFunctions.DevHost.Functions.Protocol;
using Microsoft.AspNetCore.Http;

namespace AgentFunctions.DevHost.Functions.Http;

/// <summary>Writes the worker's answer to an HTTP invocation back to the client.</summary>
internal static class RpcHttpResponseMapper
{
    /// <summary>Hop-by-hop or length headers the front end sets itself; copying the worker's would contradict it.</summary>
    private static readonly HashSet<string> SkippedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade",
    };

    public static async Task WriteAsync(HttpContext context, LoadedFunction function, InvocationResult result)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(result);

        if (!result.Succeeded)
        {
            // The worker's exception text stays in the host log (FunctionInvoker logs it): it may carry internals.
            await ProblemResponse.WriteAsync(context, StatusCodes.Status500InternalServerError, "Function failed",
                $"The function '{function.Name}' did not complete. " +
                "The local host's log has the details under this invocation id.",
                result.InvocationId).ConfigureAwait(false);
            return;
        }

        if (FindHttpResponse(function, result) is not { } http)
        {
            // The function produced no HTTP output; the Functions host answers such invocations with 204.
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        await WriteHttpAsync(context, http).ConfigureAwait(false);
    }

    /// <summary>The HTTP value of the function's HTTP output binding, falling back to any HTTP value returned.</summary>
    internal static RpcHttp? FindHttpResponse(LoadedFunction function, InvocationResult result)
    {
        if (function.HttpOutput is { } output)
        {
            var declared = output.Name == "$return"
                ? result.ReturnValue?.Http
                : result.OutputData.GetValueOrDefault(output.Name)?.Http;
            if (declared is not null)
            {
                return declared;
            }
        }

        return result.ReturnValue?.Http
            ?? result.OutputData.Values.Select(data => data.Http).FirstOrDefault(http => http is not null);
    }

    /// <summary>The status code the worker sent as text; anything unusable means 200, as in the Functions host.</summary>
    internal static int ParseStatusCode(string? statusCode) =>
        int.TryParse(statusCode, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code is >= 100 and <= 599
            ? code
            : StatusCodes.Status200OK;

    private static async Task WriteHttpAsync(HttpContext context, RpcHttp http)
    {
        var response = context.Response;
        response.StatusCode = ParseStatusCode(http.StatusCode);

        foreach (var (name, value) in http.Headers)
        {
            if (!SkippedHeaders.Contains(name))
            {
                response.Headers[name] = value;
            }
        }

        foreach (var (name, value) in http.NullableHeaders)
        {
            if (!SkippedHeaders.Contains(name) && value.KindCase == NullableString.KindOneofCase.Value)
            {
                response.Headers[name] = value.Value;
            }
        }

        foreach (var cookie in http.Cookies)
        {
            response.Cookies.Append(cookie.Name, cookie.Value, ToCookieOptions(cookie));
        }

        var body = GetBodyBytes(http.Body);
        if (body.IsEmpty || !CanHaveBody(context.Request.Method, response.StatusCode))
        {
            return;
        }

        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    private static bool CanHaveBody(string method, int statusCode) =>
        !HttpMethods.IsHead(method)
        && statusCode is not (StatusCodes.Status204NoContent or StatusCodes.Status304NotModified)
        && statusCode >= StatusCodes.Status200OK;

    private static ReadOnlyMemory<byte> GetBodyBytes(TypedData? body) => body?.DataCase switch
    {
        TypedData.DataOneofCase.Bytes => body.Bytes.Memory,
        TypedData.DataOneofCase.Stream => body.Stream.Memory,
        TypedData.DataOneofCase.String => Encoding.UTF8.GetBytes(body.String),
        TypedData.DataOneofCase.Json => Encoding.UTF8.GetBytes(body.Json),
        _ => ReadOnlyMemory<byte>.Empty,
    };

    private static CookieOptions ToCookieOptions(RpcHttpCookie cookie)
    {
        var options = new CookieOptions
        {
            Domain = HasValue(cookie.Domain) ? cookie.Domain.Value : null,
            Path = HasValue(cookie.Path) ? cookie.Path.Value : null,
            Secure = cookie.Secure?.KindCase == NullableBool.KindOneofCase.Value && cookie.Secure.Value,
            HttpOnly = cookie.HttpOnly?.KindCase == NullableBool.KindOneofCase.Value && cookie.HttpOnly.Value,
            SameSite = cookie.SameSite switch
            {
                RpcHttpCookie.Types.SameSite.Lax => SameSiteMode.Lax,
                RpcHttpCookie.Types.SameSite.Strict => SameSiteMode.Strict,
                RpcHttpCookie.Types.SameSite.ExplicitNone => SameSiteMode.None,
                _ => SameSiteMode.Unspecified, // the protocol's None means "not set"
            },
        };
        if (cookie.Expires?.KindCase == NullableTimestamp.KindOneofCase.Value)
        {
            options.Expires = cookie.Expires.Value.ToDateTimeOffset();
        }

        if (cookie.MaxAge?.KindCase == NullableDouble.KindOneofCase.Value)
        {
            options.MaxAge = TimeSpan.FromSeconds(cookie.MaxAge.Value);
        }

        return options;
    }

    private static bool HasValue(NullableString? value) => value?.KindCase == NullableString.KindOneofCase.Value;
}
