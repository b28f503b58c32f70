using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>
/// An HTTP CONNECT proxy on 127.0.0.1 that lets an unmodified client reach the HTTPS doubles under vault-like
/// names such as <c>agentfunctions.vault.localhost</c>, which do not resolve on this machine.
/// </summary>
/// <remarks>
/// <para>
/// A client finds it through the standard <c>HTTPS_PROXY</c> variable. The proxy accepts only
/// <c>CONNECT &lt;name&gt;.localhost:&lt;port&gt;</c> where the port is on its allow-list, and then always
/// connects to 127.0.0.1 on that port: it never resolves a name, so it cannot become a path off the machine.
/// Everything else (another host, an address, a port not on the list, any method but CONNECT) is answered
/// 403 and the connection is closed.
/// </para>
/// <para>
/// The names matter because Key Vault's client checks that the request host ends with "." plus the host of
/// the resource named in the vault's challenge; a vault double at <c>agentfunctions.vault.localhost</c>
/// challenging with <c>https://vault.localhost</c> passes that check exactly as a real vault does.
/// </para>
/// </remarks>
internal sealed partial class LoopbackProxy : IAsyncDisposable
{
    private const string RequiredSuffix = ".localhost";
    private const int MaxRequestHeadBytes = 8 * 1024;
    private static readonly TimeSpan s_requestHeadTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_upstreamConnectTimeout = TimeSpan.FromSeconds(5);
    private static readonly byte[] s_headTerminator = "\r\n\r\n"u8.ToArray();

    private readonly TcpListener _listener;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<int, byte> _allowedPorts = new();
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;
    private int _tunnelsOpened;
    private int _requestsRefused;

    private LoopbackProxy(ILogger logger)
    {
        _logger = logger;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        ProxyUri = new Uri($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}");
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The port the proxy listens on, on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The value for <c>HTTPS_PROXY</c>: <c>http://127.0.0.1:&lt;port&gt;</c>.</summary>
    public Uri ProxyUri { get; }

    /// <summary>The loopback ports a tunnel may lead to.</summary>
    public IReadOnlyCollection<int> AllowedPorts => [.. _allowedPorts.Keys];

    /// <summary>How many tunnels the proxy has opened since it started.</summary>
    public int TunnelsOpened => Volatile.Read(ref _tunnelsOpened);

    /// <summary>How many requests the proxy has refused since it started.</summary>
    public int RequestsRefused => Volatile.Read(ref _requestsRefused);

    /// <summary>Starts a proxy on a free port of 127.0.0.1 with an empty allow-list.</summary>
    public static LoopbackProxy Start(ILogger? logger = null) => new(logger ?? NullLogger.Instance);

    /// <summary>Lets tunnels lead to <paramref name="port"/> on 127.0.0.1.</summary>
    public void AllowPort(int port)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(port, IPEndPoint.MinPort + 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        _allowedPorts[port] = 0;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _acceptLoop.ConfigureAwait(false);
        await Task.WhenAll(_connections.Keys).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var connection = HandleConnectionAsync(client);
            _connections[connection] = 0;
            _ = connection.ContinueWith(
                static (done, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(done, out _),
                _connections,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    private async Task HandleConnectionAsync(Socket client)
    {
        using var clientStream = new NetworkStream(client, ownsSocket: true);
        try
        {
            var head = await ReadRequestHeadAsync(clientStream).ConfigureAwait(false);
            if (head is null)
            {
                await RefuseAsync(clientStream, HttpStatusCode.BadRequest, "malformed request", "(unreadable)")
                    .ConfigureAwait(false);
                return;
            }

            var (requestLine, leftover) = head.Value;
            var verdict = Judge(requestLine, out var port);
            if (verdict is not null)
            {
                await RefuseAsync(clientStream, HttpStatusCode.Forbidden, verdict, requestLine).ConfigureAwait(false);
                return;
            }

            using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token))
            {
                connectTimeout.CancelAfter(s_upstreamConnectTimeout);
                try
                {
                    await upstream.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), connectTimeout.Token)
                        .ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is SocketException or OperationCanceledException)
                {
                    await RefuseAsync(clientStream, HttpStatusCode.BadGateway, "nothing listens there", requestLine)
                        .ConfigureAwait(false);
                    return;
                }
            }

            using var upstreamStream = new NetworkStream(upstream, ownsSocket: false);
            await clientStream.WriteAsync("HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray(), _stopping.Token)
                .ConfigureAwait(false);
            if (leftover.Length > 0)
            {
                await upstreamStream.WriteAsync(leftover, _stopping.Token).ConfigureAwait(false);
            }

            Interlocked.Increment(ref _tunnelsOpened);
            LogTunnelOpened(_logger, port);
            await Task.WhenAll(
                PumpAsync(clientStream, upstream, _stopping.Token),
                PumpAsync(upstreamStream, client, _stopping.Token)).ConfigureAwait(false);
        }
        catch (Exception ex) when (
            ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A peer that goes away mid-tunnel, or the proxy stopping, ends the connection; neither is news.
        }
    }

    // Returns null when the request may pass, otherwise the reason for refusing it.
    private string? Judge(string requestLine, out int port)
    {
        port = 0;
        var parts = requestLine.Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return "malformed request line";
        }

        if (!string.Equals(parts[0], "CONNECT", StringComparison.Ordinal))
        {
            return "only CONNECT is served";
        }

        var target = parts[1];
        var colon = target.LastIndexOf(':');
        if (colon <= 0 ||
            !int.TryParse(target.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) ||
            port is < 1 or > IPEndPoint.MaxPort)
        {
            return "the target needs a host and a port";
        }

        var host = target[..colon];
        if (!IsLocalhostSubdomain(host))
        {
            return "only names under .localhost are served";
        }

        return _allowedPorts.ContainsKey(port) ? null : "that port is not on the allow-list";
    }

    private static bool IsLocalhostSubdomain(string host)
    {
        if (host.Length <= RequiredSuffix.Length || !host.EndsWith(RequiredSuffix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var labels = host[..^RequiredSuffix.Length].Split('.');
        return labels.All(static label =>
            label.Length is > 0 and <= 63 &&
            label[0] != '-' &&
            label[^1] != '-' &&
            label.All(static c => char.IsAsciiLetterOrDigit(c) || c == '-'));
    }

    private async Task<(string RequestLine, byte[] Leftover)?> ReadRequestHeadAsync(NetworkStream stream)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(s_requestHeadTimeout);
        var buffer = new byte[MaxRequestHeadBytes];
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(filled), timeout.Token).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            filled += read;
            var end = buffer.AsSpan(0, filled).IndexOf(s_headTerminator);
            if (end >= 0)
            {
                var head = Encoding.ASCII.GetString(buffer, 0, end);
                var firstLineEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
                var requestLine = firstLineEnd < 0 ? head : head[..firstLineEnd];
                var leftover = buffer.AsSpan(end + s_headTerminator.Length, filled - end - s_headTerminator.Length);
                return (requestLine, leftover.ToArray());
            }
        }

        return null;
    }

    private async Task RefuseAsync(NetworkStream stream, HttpStatusCode status, string reason, string requestLine)
    {
        Interlocked.Increment(ref _requestsRefused);
        LogRequestRefused(_logger, (int)status, reason, Truncate(requestLine));
        var body = $"LoopbackProxy refused the request: {reason}.\n";
        var response =
            $"HTTP/1.1 {(int)status} {status}\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\n" +
            $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n" +
            "Connection: close\r\n\r\n" +
            body;
        await stream.WriteAsync(Encoding.UTF8.GetBytes(response), _stopping.Token).ConfigureAwait(false);
    }

    private static async Task PumpAsync(Stream source, Socket destination, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await destination.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, cancellationToken)
                    .ConfigureAwait(false);
            }

            // Passes the end of one direction on, so each side sees the other finish rather than hang.
            destination.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            // One side reset or closed; the other direction notices on its own.
        }
    }

    // The request line comes from whoever connected; keep what reaches the log short.
    private static string Truncate(string value) => value.Length <= 120 ? value : value[..120] + "…";

    [LoggerMessage(EventId = 9001, EventName = "ProxyTunnelOpened", Level = LogLevel.Debug,
        Message = "Loopback proxy opened a tunnel to 127.0.0.1:{Port}")]
    private static partial void LogTunnelOpened(ILogger logger, int port);

    [LoggerMessage(EventId = 9002, EventName = "ProxyRequestRefused", Level = LogLevel.Warning,
        Message = "Loopback proxy answered {StatusCode} ({Reason}) to '{RequestLine}'")]
    private static partial void LogRequestRefused(ILogger logger, int statusCode, string reason, string requestLine);
}
