using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions.Protocol;

/// <summary>
/// Kestrel serving the FunctionRpc service over plain-text HTTP/2 on a free loopback port, configured as the Functions
/// host configures its own: HTTP/2 only (the worker connects with prior knowledge) and no message size limits.
/// </summary>
internal sealed class GrpcServer : IAsyncDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly WebApplication _app;

    private GrpcServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public static async Task<GrpcServer> StartAsync(WorkerChannel channel, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        var builder = EmbeddedWebApplication.CreateBuilder(loggerFactory);
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = int.MaxValue;
            grpc.MaxSendMessageSize = int.MaxValue;
        });
        builder.Services.AddSingleton(channel);

        var app = builder.Build();
        app.MapGrpcService<FunctionRpcService>();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return new GrpcServer(app, EmbeddedWebApplication.GetBoundPort(app));
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
