namespace AgentFunctions.DevHost.Functions.Http;

/// <summary>The route an HTTP-triggered function is served on, built the way the Functions host builds it.</summary>
internal static class HttpRouteTemplate
{
    /// <summary>
    /// "prefix/route", or "prefix/function name" when the trigger sets no route; an empty prefix leaves the route alone.
    /// </summary>
    public static string Build(string functionName, string? route, string routePrefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(functionName);
        ArgumentNullException.ThrowIfNull(routePrefix);

        var path = string.IsNullOrWhiteSpace(route) ? functionName : route.Trim().Trim('/');
        var prefix = routePrefix.Trim().Trim('/');
        return (prefix.Length, path.Length) switch
        {
            (0, _) => path,
            (_, 0) => prefix,
            _ => $"{prefix}/{path}",
        };
    }
}
