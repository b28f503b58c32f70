using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions.Http;

/// <summary>
/// Kestrel (HTTP/1.1) on 127.0.0.1 serving every HTTP-triggered function at its route. Unknown paths get 404 and known
/// paths with a method the function does not accept get 405, both as problem documents.
/// </summary>
internal sealed class HttpFrontEnd : IAsyncDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly WebApplication _app;

    private HttpFrontEnd(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    /// <summary>http://127.0.0.1:&lt;port&gt;/</summary>
    public Uri BaseAddress { get; }

    public static async Task<HttpFrontEnd> StartAsync(IReadOnlyList<LoadedFunction> functions, IFunctionInvoker invoker,
        int port, long maxRequestBodySize, ILoggerFactory loggerFactory, CancellationToken cancellationToken,
        Action<IEndpointRouteBuilder>? mapHostEndpoints = null)
    {
        ArgumentNullException.ThrowIfNull(invoker);
        ArgumentNullException.ThrowIfNull(loggerFactory);

        var routes = HttpRouteTable.Create(functions);
        var builder = EmbeddedWebApplication.CreateBuilder(loggerFactory);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http1);
            kestrel.Limits.MaxRequestBodySize = maxRequestBodySize;
            kestrel.AddServerHeader = false;
        });
        builder.Services.AddRouting();

        var app = builder.Build();
        var handler = new HttpInvocationHandler(invoker, maxRequestBodySize,
            loggerFactory.CreateLogger<HttpInvocationHandler>());
        app.UseStatusCodePages(context => ProblemResponse.WriteForRoutingStatusAsync(context.HttpContext));
        app.UseRouting();
        mapHostEndpoints?.Invoke(app);
        foreach (var route in routes)
        {
            var function = route.Function;
            var endpoint = app.Map(route.Pattern, context => handler.HandleAsync(context, function))
                .WithDisplayName($"Functions.{function.Name}");
            if (route.Methods.Count > 0)
            {
                endpoint.WithMetadata(new HttpMethodMetadata(route.Methods));
            }
        }

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var baseAddress = new Uri($"http://127.0.0.1:{EmbeddedWebApplication.GetBoundPort(app)}/");
            return new HttpFrontEnd(app, baseAddress);
        }
        catch (IOException exception) when (port != 0)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new FunctionsHostException(
                $"Could not listen on 127.0.0.1:{port} ({exception.Message}). Choose another HTTP port, or 0 for a free one.",
                exception);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        using (var stopping = new CancellationTokenSource(StopTimeout))
        {
            await _app.StopAsync(stopping.Token).ConfigureAwait(false);
        }

        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
