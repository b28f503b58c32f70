using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Http;
using AgentFunctions.DevHost.Functions.Protocol;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>The front end on a real Kestrel port with a fake invoker in place of the worker.</summary>
public sealed class HttpFrontEndTests : IAsyncLifetime
{
    private const long MaxBody = 1024;
    private const string HostEndpointPath = "/_devhost/action";

    // One client for all tests, as HttpClient is meant to be used; each test's front end has its own port.
    private static readonly HttpClient Client = new();

    private readonly FakeInvoker _invoker = new();
    private HttpFrontEnd _frontEnd = null!;

    public async Task InitializeAsync()
    {
        LoadedFunction[] functions =
        [
            TestFunctions.Health(),
            TestFunctions.Create("GetItem",
                """
                {"name":"req","type":"httpTrigger","direction":"In","authLevel":"Function","methods":["get","post"],
                 "Route":"items/{id:int}/{name?}"}
                """,
                TestFunctions.HttpReturn),
            TestFunctions.Create("Anything",
                """{"name":"req","type":"httpTrigger","direction":"In"}""", TestFunctions.HttpReturn),
        ];
        _frontEnd = await HttpFrontEnd.ListenAsync(port: 0, MaxBody, NullLoggerFactory.Instance, CancellationToken.None);
        _frontEnd.Serve(functions, _invoker, endpoints => endpoints.MapPost(HostEndpointPath, _ => Task.CompletedTask));
    }

    public async Task DisposeAsync() => await _frontEnd.DisposeAsync();

    [Fact]
    public async Task Request_RouteValuesQueryHeadersAndBody_ReachTheInvocation()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("api/items/42/widget?q=1"))
        {
            Content = new StringContent("""{"title":"hi"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Custom", "value");

        using var response = await Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var (function, input, metadata) = _invoker.Calls.Single();
        function.Name.Should().Be("GetItem");
        var http = input.Single().Data.Http;
        input.Single().Name.Should().Be("req");
        http.Method.Should().Be("POST");
        http.Url.Should().Be($"{_frontEnd.BaseAddress}api/items/42/widget?q=1");
        http.NullableParams["id"].Value.Should().Be("42");
        http.NullableParams["name"].Value.Should().Be("widget");
        http.NullableQuery["q"].Value.Should().Be("1");
        http.NullableHeaders["x-custom"].Value.Should().Be("value");
        http.Body.Bytes.ToStringUtf8().Should().Be("""{"title":"hi"}""");
        metadata["id"].String.Should().Be("42");
        metadata["title"].String.Should().Be("hi");
    }

    [Fact]
    public async Task Request_OptionalRouteValueAbsent_IsLeftOutOfParams()
    {
        using var response = await Client.GetAsync(Url("api/items/7"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _invoker.Calls.Single().Input.Single().Data.Http.NullableParams.Keys.Should().Equal("id");
    }

    [Fact]
    public async Task Request_FunctionWithoutRoute_IsServedAtItsNameForEveryMethod()
    {
        using var response = await Client.DeleteAsync(Url("api/Anything"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _invoker.Calls.Single().Function.Name.Should().Be("Anything");
    }

    [Theory]
    [InlineData("api/nothing-here")]
    [InlineData("api/items/not-a-number")]
    [InlineData("health")]
    public async Task Request_NoRouteMatches_Returns404Problem(string path)
    {
        using var response = await Client.GetAsync(Url(path));

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        _invoker.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task Request_MethodNotAllowed_Returns405ProblemWithAllowHeader()
    {
        using var response = await Client.PutAsync(Url("api/items/1"), new StringContent("x"));

        response.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
        response.Content.Headers.Allow.Should().BeEquivalentTo("GET", "POST");
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        _invoker.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task Request_HostEndpointWithWrongMethod_Returns405ThatDoesNotCallItAFunction()
    {
        using var response = await Client.GetAsync(Url(HostEndpointPath.TrimStart('/')));

        response.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
        response.Content.Headers.Allow.Should().Equal("POST");
        (await response.Content.ReadAsStringAsync()).Should().NotContainEquivalentOf("function")
            .And.Contain("does not accept GET requests");
    }

    [Fact]
    public async Task Request_HostEndpoint_IsServedBesideTheFunctions()
    {
        using var response = await Client.PostAsync(Url(HostEndpointPath.TrimStart('/')), content: null);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _invoker.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task Request_BeforeServe_Returns503ProblemWithRetryAfter()
    {
        await using var starting = await HttpFrontEnd.ListenAsync(port: 0, MaxBody, NullLoggerFactory.Instance,
            CancellationToken.None);

        using var response = await Client.GetAsync(new Uri(starting.BaseAddress, "api/health"));

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter!.Delta.Should().BePositive();
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task Request_DeclaredBodyOverLimit_Returns413ProblemWithoutInvoking()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("api/items/1"))
        {
            Content = new ByteArrayContent(new byte[MaxBody + 1]),
        };
        // Lets the server answer before the body is sent, so the test does not race a connection reset.
        request.Headers.ExpectContinue = true;

        using var response = await Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        _invoker.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task Request_ChunkedBodyOverLimit_Returns413()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("api/items/1"))
        {
            Content = new StreamContent(new MemoryStream(new byte[MaxBody + 1])),
        };
        request.Headers.TransferEncodingChunked = true;

        using var response = await Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        _invoker.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task Request_BodyAtLimit_IsInvoked()
    {
        using var response = await Client.PostAsync(Url("api/items/1"),
            new ByteArrayContent(new byte[MaxBody]));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _invoker.Calls.Single().Input.Single().Data.Http.Body.Bytes.Length.Should().Be((int)MaxBody);
    }

    [Fact]
    public async Task Request_FunctionReturns404WithoutBody_PassesThroughUnchanged()
    {
        _invoker.Respond = _ => HttpResult(new RpcHttp { StatusCode = "404" });

        using var response = await Client.GetAsync(Url("api/health"));

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await response.Content.ReadAsByteArrayAsync()).Should().BeEmpty("the function's own 404 is not a routing problem");
    }

    [Fact]
    public async Task Request_FunctionFails_Returns500WithoutExceptionText()
    {
        _invoker.Respond = id => new InvocationResponse
        {
            InvocationId = id,
            Result = new StatusResult
            {
                Status = StatusResult.Types.Status.Failure,
                Exception = new RpcException { Type = "System.Exception", Message = "connection string Password=hunter2" },
            },
        };

        using var response = await Client.GetAsync(Url("api/health"));

        response.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        (await response.Content.ReadAsStringAsync()).Should().NotContain("hunter2").And.NotContain("System.Exception");
    }

    [Fact]
    public async Task Request_WorkerGone_Returns503()
    {
        _invoker.Throw = new FunctionsHostException("The worker's gRPC stream has closed.");

        using var response = await Client.GetAsync(Url("api/health"));

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task Request_FunctionResponseWithHeadersAndBody_ReachesClient()
    {
        var http = new RpcHttp
        {
            StatusCode = "200",
            Body = new TypedData { Bytes = ByteString.CopyFromUtf8("""{"ok":true}""") },
        };
        http.Headers["Content-Type"] = "application/json";
        _invoker.Respond = _ => HttpResult(http);

        using var response = await Client.GetAsync(Url("api/health"));

        response.Content.Headers.ContentType.Should().Be(MediaTypeHeaderValue.Parse("application/json"));
        (await response.Content.ReadAsStringAsync()).Should().Be("""{"ok":true}""");
    }

    [Fact]
    public async Task ListenAsync_PortInUse_ThrowsNamingThePort()
    {
        using var occupant = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        var act = () => HttpFrontEnd.ListenAsync(port, MaxBody, NullLoggerFactory.Instance, CancellationToken.None);

        await act.Should().ThrowAsync<FunctionsHostException>().WithMessage($"*127.0.0.1:{port}*");
    }

    private Uri Url(string path) => new(_frontEnd.BaseAddress, path);

    private static InvocationResponse HttpResult(RpcHttp http) => new()
    {
        Result = new StatusResult { Status = StatusResult.Types.Status.Success },
        ReturnValue = new TypedData { Http = http },
    };

    private sealed class FakeInvoker : IFunctionInvoker
    {
        public ConcurrentQueue<(LoadedFunction Function, IReadOnlyList<ParameterBinding> Input,
            IReadOnlyDictionary<string, TypedData> Metadata)> Calls { get; } = new();

        public Func<string, InvocationResponse> Respond { get; set; } = _ => HttpResult(new RpcHttp { StatusCode = "200" });

        public Exception? Throw { get; set; }

        public Task<InvocationResult> InvokeAsync(LoadedFunction function, IReadOnlyList<ParameterBinding> inputData,
            IReadOnlyDictionary<string, TypedData> triggerMetadata, CancellationToken cancellationToken)
        {
            Calls.Enqueue((function, inputData, triggerMetadata));
            if (Throw is not null)
            {
                throw Throw;
            }

            var response = Respond("inv-test");
            response.InvocationId = "inv-test";
            return Task.FromResult(new InvocationResult(function.Name, response));
        }
    }
}
