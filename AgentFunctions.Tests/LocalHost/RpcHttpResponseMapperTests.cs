using System.Text;
using System.Text.Json;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Http;
using AgentFunctions.DevHost.Functions.Protocol;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace AgentFunctions.Tests.LocalHost;

public sealed class RpcHttpResponseMapperTests
{
    private const string SecretLookingText = "Password=hunter2;AccountKey=c2VjcmV0LXZhbHVl";

    [Fact]
    public async Task WriteAsync_ReturnValueHttp_CopiesStatusHeadersBodyAndCookies()
    {
        var http = new RpcHttp { StatusCode = "201", Body = new TypedData { Bytes = ByteString.CopyFromUtf8("created") } };
        http.Headers["Content-Type"] = "text/plain";
        http.Headers["X-Trace"] = "a,b";
        http.Headers["Content-Length"] = "999";
        http.Cookies.Add(new RpcHttpCookie
        {
            Name = "session",
            Value = "abc",
            Path = new NullableString { Value = "/" },
            HttpOnly = new NullableBool { Value = true },
            SameSite = RpcHttpCookie.Types.SameSite.Strict,
        });
        var context = CreateContext();

        await RpcHttpResponseMapper.WriteAsync(context, TestFunctions.Health(), Succeeded(returnValue: http));

        context.Response.StatusCode.Should().Be(201);
        context.Response.Headers.ContentType.ToString().Should().Be("text/plain");
        context.Response.Headers["X-Trace"].ToString().Should().Be("a,b");
        context.Response.ContentLength.Should().Be(7, "the front end sets the length itself, whatever the worker sent");
        context.Response.Headers.SetCookie.ToString().Should().Contain("session=abc").And.Contain("path=/")
            .And.Contain("httponly").And.Contain("samesite=strict");
        ReadBody(context).Should().Be("created");
    }

    [Fact]
    public async Task WriteAsync_HttpInNamedOutput_UsesThatOutput()
    {
        var function = TestFunctions.Create("Submit",
            """{"name":"req","type":"httpTrigger","direction":"In","methods":["post"]}""",
            """{"name":"HttpResponse","type":"http","direction":"Out"}""",
            """{"name":"Message","type":"queue","direction":"Out","queueName":"jobs"}""");
        var result = Succeeded(
            outputs: [("Message", new TypedData { String = "job" }), ("HttpResponse", Http("202", "accepted"))]);
        var context = CreateContext();

        await RpcHttpResponseMapper.WriteAsync(context, function, result);

        context.Response.StatusCode.Should().Be(202);
        ReadBody(context).Should().Be("accepted");
    }

    [Theory]
    [InlineData("", 200)]
    [InlineData("OK", 200)]
    [InlineData("42", 200)]
    [InlineData("404", 404)]
    public void ParseStatusCode_WorkerText_MapsLikeTheHost(string statusCode, int expected) =>
        RpcHttpResponseMapper.ParseStatusCode(statusCode).Should().Be(expected);

    [Fact]
    public async Task WriteAsync_NoHttpOutput_Returns204()
    {
        var context = CreateContext();

        await RpcHttpResponseMapper.WriteAsync(context, TestFunctions.Health(), Succeeded());

        context.Response.StatusCode.Should().Be(204);
        ReadBody(context).Should().BeEmpty();
    }

    [Fact]
    public async Task WriteAsync_FailedInvocation_Returns500ProblemWithoutWorkerExceptionText()
    {
        var response = new InvocationResponse
        {
            InvocationId = "inv-1",
            Result = new StatusResult
            {
                Status = StatusResult.Types.Status.Failure,
                Exception = new RpcException
                {
                    Type = "System.InvalidOperationException",
                    Message = SecretLookingText,
                    StackTrace = $"at Secret.Method() {SecretLookingText}",
                },
            },
        };
        var context = CreateContext();

        await RpcHttpResponseMapper.WriteAsync(context, TestFunctions.Health(), new InvocationResult("Health", response));

        context.Response.StatusCode.Should().Be(500);
        context.Response.ContentType.Should().Be("application/problem+json");
        var body = ReadBody(context);
        body.Should().NotContain("hunter2").And.NotContain("AccountKey").And.NotContain("InvalidOperationException")
            .And.NotContain("Secret.Method");
        var problem = JsonDocument.Parse(body).RootElement;
        problem.GetProperty("status").GetInt32().Should().Be(500);
        problem.GetProperty("invocationId").GetString().Should().Be("inv-1");
    }

    private static InvocationResult Succeeded(RpcHttp? returnValue = null, (string Name, TypedData Data)[]? outputs = null)
    {
        var response = new InvocationResponse
        {
            InvocationId = "inv-1",
            Result = new StatusResult { Status = StatusResult.Types.Status.Success },
        };
        if (returnValue is not null)
        {
            response.ReturnValue = new TypedData { Http = returnValue };
        }

        foreach (var (name, data) in outputs ?? [])
        {
            response.OutputData.Add(new ParameterBinding { Name = name, Data = data });
        }

        return new InvocationResult("Test", response);
    }

    private static TypedData Http(string status, string body) =>
        new() { Http = new RpcHttp { StatusCode = status, Body = new TypedData { Bytes = ByteString.CopyFromUtf8(body) } } };

    private static DefaultHttpContext CreateContext()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Response.Body = new MemoryStream();
        return context;
    }

    private static string ReadBody(HttpContext context) =>
        Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
}
