using Microsoft.AspNetCore.Routing.Patterns;

namespace AgentFunctions.DevHost.Functions.Http;

/// <summary>One HTTP-triggered function as an ASP.NET Core route: its parsed template and allowed methods.</summary>
internal sealed record HttpRouteEntry(LoadedFunction Function, RoutePattern Pattern, IReadOnlyList<string> Methods);

/// <summary>
/// Builds the front end's routes. Function route templates use the same syntax as ASP.NET Core's ({name}, {id:int},
/// {name?}, {*rest}), so ASP.NET Core routing does the matching, including 404 and 405.
/// </summary>
internal static class HttpRouteTable
{
    public static IReadOnlyList<HttpRouteEntry> Create(IEnumerable<LoadedFunction> functions)
    {
        ArgumentNullException.ThrowIfNull(functions);

        var routes = new List<HttpRouteEntry>();
        foreach (var function in functions)
        {
            if (function.HttpRoute is not { } template)
            {
                continue;
            }

            RoutePattern pattern;
            try
            {
                pattern = RoutePatternFactory.Parse(template);
            }
            catch (RoutePatternException exception)
            {
                throw new FunctionsHostException(
                    $"Function '{function.Name}' has a route template the host cannot parse ('{template}'): " +
                    exception.Message,
                    exception);
            }

            routes.Add(new HttpRouteEntry(function, pattern, function.HttpMethods));
        }

        return routes;
    }
}
