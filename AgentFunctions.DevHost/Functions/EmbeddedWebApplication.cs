using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions;

/// <summary>
/// Builds the small ASP.NET Core apps the host runs inside whatever process starts it (the DevHost program, a test).
/// They read no configuration from the environment or files, leave Ctrl+C and SIGTERM to the enclosing process, and pass
/// only warnings and errors of their own framework logging (Kestrel, routing, gRPC) to the caller's logger factory: the
/// host logs every request and invocation itself, and per-request framework lines would drown the worker's output. A
/// failed start is not logged either: StartAsync throws it to the caller, which says what to do (a port in use, say),
/// and the framework's copy would put a stack trace in front of that message.
/// </summary>
internal static class EmbeddedWebApplication
{
    // The generic host's category and its event for a start that failed (the exception reaches StartAsync's caller).
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";
    private const string HostedServiceStartupFaulted = "HostedServiceStartupFaulted";

    public static WebApplicationBuilder CreateBuilder(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(EmbeddedWebApplication).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.UseKestrelCore();
        builder.Services.AddLogging();
        builder.Services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(new WarningsOnlyLoggerFactory(loggerFactory)));
        // The default console lifetime would take over Ctrl+C and print start-up banners for every embedded app.
        builder.Services.Replace(ServiceDescriptor.Singleton<IHostLifetime, EmbeddedHostLifetime>());
        return builder;
    }

    /// <summary>The port Kestrel actually bound (the app was told port 0 or a fixed one).</summary>
    public static int GetBoundPort(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);

        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>();
        var address = addresses.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("Kestrel started without reporting the address it listens on.");
        return new Uri(address).Port;
    }

    private sealed class WarningsOnlyLoggerFactory(ILoggerFactory inner) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new WarningsOnlyLogger(inner.CreateLogger(categoryName),
            ignoredEventName: categoryName == HostCategory ? HostedServiceStartupFaulted : null);

        public void AddProvider(ILoggerProvider provider) =>
            throw new NotSupportedException("Add logging providers to the logger factory given to the Functions host.");

        // The caller owns the inner factory.
        public void Dispose()
        {
        }
    }

    private sealed class WarningsOnlyLogger(ILogger inner, string? ignoredEventName) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel) && eventId.Name != ignoredEventName)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }

    private sealed class EmbeddedHostLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
