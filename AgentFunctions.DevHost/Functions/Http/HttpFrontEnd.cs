using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace AgentFunctions.DevHost.Functions.Http;

/// <summary>
/// Kestrel (HTTP/1.1) on 127.0.0.1 serving every HTTP-triggered function at its route. It listens first, so a port that
/// is taken fails the start before anything else runs, and answers 503 until <see cref="Serve"/> gives it the functions.
/// Unknown paths get 404 and known paths with a method their endpoint does not accept get 405, both as problem documents.
/// </summary>
internal sealed class HttpFrontEnd : IAsyncDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    // What a client that asks while the worker loads should wait before it asks again.
    private const int StartingRetryAfterSeconds = 5;

    private readonly WebApplication _app;
    private readonly ReplaceableEndpointDataSource _endpoints;
    private readonly long _maxRequestBodySize;
    private readonly ILoggerFactory _loggerFactory;
    private volatile bool _serving;

    private HttpFrontEnd(WebApplication app, ReplaceableEndpointDataSource endpoints, long maxRequestBodySize,
        ILoggerFactory loggerFactory)
    {
        _app = app;
        _endpoints = endpoints;
        _maxRequestBodySize = maxRequestBodySize;
        _loggerFactory = loggerFactory;
    }

    /// <summary>http://127.0.0.1:&lt;port&gt;/</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>
    /// Listens on 127.0.0.1:<paramref name="port"/> (0 picks a free port) and answers every request with 503 until
    /// <see cref="Serve"/> is called. Fails with <see cref="FunctionsHostException"/> naming the port when it is taken.
    /// </summary>
    public static async Task<HttpFrontEnd> ListenAsync(int port, long maxRequestBodySize, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);

        var builder = EmbeddedWebApplication.CreateBuilder(loggerFactory);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http1);
            kestrel.Limits.MaxRequestBodySize = maxRequestBodySize;
            kestrel.AddServerHeader = false;
        });
        builder.Services.AddRouting();

        var app = builder.Build();
        var endpoints = new ReplaceableEndpointDataSource();
        var frontEnd = new HttpFrontEnd(app, endpoints, maxRequestBodySize, loggerFactory);
        app.UseStatusCodePages(context => ProblemResponse.WriteForRoutingStatusAsync(context.HttpContext));
        app.Use(next => context => frontEnd._serving ? next(context) : WriteStartingAsync(context));
        app.UseRouting();
        ((IEndpointRouteBuilder)app).DataSources.Add(endpoints);

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            frontEnd.BaseAddress = new Uri($"http://127.0.0.1:{EmbeddedWebApplication.GetBoundPort(app)}/");
            return frontEnd;
        }
        catch (Exception exception)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            endpoints.Dispose();
            if (exception is IOException && port != 0)
            {
                throw new FunctionsHostException(
                    $"Could not listen on 127.0.0.1:{port} ({exception.Message}). Choose another HTTP port, or 0 for a free one.",
                    exception);
            }

            throw;
        }
    }

    /// <summary>
    /// Serves <paramref name="functions"/> at their routes through <paramref name="invoker"/>, beside the host's own
    /// endpoints that <paramref name="mapHostEndpoints"/> maps; from now on requests are no longer answered with 503.
    /// </summary>
    public void Serve(IReadOnlyList<LoadedFunction> functions, IFunctionInvoker invoker,
        Action<IEndpointRouteBuilder>? mapHostEndpoints = null)
    {
        ArgumentNullException.ThrowIfNull(invoker);

        var routes = HttpRouteTable.Create(functions);
        var handler = new HttpInvocationHandler(invoker, _maxRequestBodySize,
            _loggerFactory.CreateLogger<HttpInvocationHandler>());
        var builder = new EndpointCollector(_app);
        mapHostEndpoints?.Invoke(builder);
        foreach (var route in routes)
        {
            var function = route.Function;
            var endpoint = builder.Map(route.Pattern, context => handler.HandleAsync(context, function))
                .WithDisplayName($"Functions.{function.Name}");
            if (route.Methods.Count > 0)
            {
                endpoint.WithMetadata(new HttpMethodMetadata(route.Methods));
            }
        }

        _endpoints.Replace([.. builder.DataSources.SelectMany(source => source.Endpoints)]);
        _serving = true;
    }

    public async ValueTask DisposeAsync()
    {
        using (var stopping = new CancellationTokenSource(StopTimeout))
        {
            await _app.StopAsync(stopping.Token).ConfigureAwait(false);
        }

        await _app.DisposeAsync().ConfigureAwait(false);
        _endpoints.Dispose();
    }

    private static Task WriteStartingAsync(HttpContext context)
    {
        context.Response.Headers.RetryAfter = StartingRetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return ProblemResponse.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Starting",
            "The local host is still starting the function app; try again in a few seconds.");
    }

    /// <summary>
    /// Endpoints that can be set after Kestrel started: routing rebuilds its matcher when the change token fires.
    /// </summary>
    private sealed class ReplaceableEndpointDataSource : EndpointDataSource, IDisposable
    {
        private IReadOnlyList<Endpoint> _endpoints = [];
        private CancellationTokenSource _changed = new();

        public override IReadOnlyList<Endpoint> Endpoints => Volatile.Read(ref _endpoints);

        public override IChangeToken GetChangeToken() => new CancellationChangeToken(Volatile.Read(ref _changed).Token);

        public void Replace(IReadOnlyList<Endpoint> endpoints)
        {
            Volatile.Write(ref _endpoints, endpoints);
            // Not disposed: routing may still register on the old token, and a cancelled one only runs the callback.
            Interlocked.Exchange(ref _changed, new CancellationTokenSource()).Cancel();
        }

        public void Dispose() => _changed.Dispose();
    }

    /// <summary>Collects what the Map extension methods build, to hand it to routing in one piece.</summary>
    private sealed class EndpointCollector(IApplicationBuilder app) : IEndpointRouteBuilder
    {
        public IServiceProvider ServiceProvider => app.ApplicationServices;

        public ICollection<EndpointDataSource> DataSources { get; } = [];

        public IApplicationBuilder CreateApplicationBuilder() => app.New();
    }
}
