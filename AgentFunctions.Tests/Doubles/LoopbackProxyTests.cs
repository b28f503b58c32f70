using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using AgentFunctions.DevHost.Doubles;

namespace AgentFunctions.Tests.Doubles;

public sealed class LoopbackProxyTests
{
    [Theory]
    [InlineData("CONNECT example.com:443 HTTP/1.1")]
    [InlineData("CONNECT login.microsoftonline.com:443 HTTP/1.1")]
    [InlineData("CONNECT 169.254.169.254:80 HTTP/1.1")]
    [InlineData("CONNECT localhost.example.com:{port} HTTP/1.1")]
    [InlineData("CONNECT 127.0.0.1:{port} HTTP/1.1")]
    [InlineData("CONNECT [::1]:{port} HTTP/1.1")]
    [InlineData("CONNECT .localhost:{port} HTTP/1.1")]
    [InlineData("GET http://agentfunctions.vault.localhost:{port}/ HTTP/1.1")]
    public async Task Connect_TargetOutsideLocalhostNames_Refused403(string requestLine)
    {
        await using var upstream = await EchoServer.StartAsync();
        await using var proxy = LoopbackProxy.Start();
        proxy.AllowPort(upstream.Port);

        var answer = await SendAsync(proxy, requestLine.Replace("{port}", upstream.PortText, StringComparison.Ordinal));

        answer.Should().StartWith("HTTP/1.1 403 Forbidden");
        upstream.Accepted.Should().Be(0);
        proxy.TunnelsOpened.Should().Be(0);
        proxy.RequestsRefused.Should().Be(1);
    }

    [Fact]
    public async Task Connect_PortNotOnAllowList_Refused403()
    {
        await using var upstream = await EchoServer.StartAsync();
        await using var proxy = LoopbackProxy.Start();

        var answer = await SendAsync(proxy, $"CONNECT agentfunctions.vault.localhost:{upstream.PortText} HTTP/1.1");

        answer.Should().StartWith("HTTP/1.1 403 Forbidden").And.Contain("allow-list");
        upstream.Accepted.Should().Be(0);
    }

    [Fact]
    public async Task Connect_LocalhostNameOnAllowedPort_TunnelsBytesToLoopback()
    {
        await using var upstream = await EchoServer.StartAsync();
        await using var proxy = LoopbackProxy.Start();
        proxy.AllowPort(upstream.Port);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, proxy.Port);
        var stream = client.GetStream();

        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"CONNECT Any-Name.openai.localhost:{upstream.PortText} HTTP/1.1\r\nHost: x\r\n\r\n"));
        var established = await ReadUntilAsync(stream, "\r\n\r\n");
        await stream.WriteAsync("ping"u8.ToArray());
        var echoed = await ReadUntilAsync(stream, "ping");

        established.Should().StartWith("HTTP/1.1 200");
        echoed.Should().Be("ping");
        proxy.TunnelsOpened.Should().Be(1);
        upstream.Accepted.Should().Be(1);
    }

    [Fact]
    public async Task Connect_AllowedPortWithNothingListening_Returns502()
    {
        int freePort;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            freePort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var proxy = LoopbackProxy.Start();
        proxy.AllowPort(freePort);

        var port = freePort.ToString(CultureInfo.InvariantCulture);
        var answer = await SendAsync(proxy, $"CONNECT x.localhost:{port} HTTP/1.1");

        answer.Should().StartWith("HTTP/1.1 502");
    }

    [Fact]
    public async Task HttpClient_ThroughProxyToPublicHost_FailsWith403FromProxy()
    {
        await using var proxy = LoopbackProxy.Start();
        using var handler = new SocketsHttpHandler { Proxy = new WebProxy(proxy.ProxyUri), UseProxy = true };
        using var http = new HttpClient(handler);

        var act = () => http.GetAsync(new Uri("https://public-host.example.invalid/"));

        (await act.Should().ThrowAsync<HttpRequestException>()).Which.Message.Should().Contain("403");
        proxy.RequestsRefused.Should().Be(1);
    }

    private static async Task<string> SendAsync(LoopbackProxy proxy, string requestLine)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, proxy.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(requestLine + "\r\nHost: x\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadToEndAsync();
    }

    private static async Task<string> ReadUntilAsync(NetworkStream stream, string terminator)
    {
        var received = new StringBuilder();
        var buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!received.ToString().Contains(terminator, StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                break;
            }

            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return received.ToString();
    }

    // A TCP server on loopback that sends back whatever it receives and counts the connections it accepted.
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private Task _loop = Task.CompletedTask;
        private int _accepted;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public string PortText => Port.ToString(CultureInfo.InvariantCulture);

        public int Accepted => Volatile.Read(ref _accepted);

        public static Task<EchoServer> StartAsync()
        {
            var server = new EchoServer();
            server._listener.Start();
            server._loop = server.RunAsync();
            return Task.FromResult(server);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }

        private async Task RunAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    Interlocked.Increment(ref _accepted);
                    _ = EchoAsync(socket);
                }
            }
            // InvalidOperationException: DisposeAsync stopped the listener between one accept and the next.
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException
                or InvalidOperationException)
            {
                // Stopped.
            }
        }

        private async Task EchoAsync(Socket socket)
        {
            using var stream = new NetworkStream(socket, ownsSocket: true);
            try
            {
                await stream.CopyToAsync(stream, _stop.Token);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // The test closed its end or the server stopped.
            }
        }
    }
}
