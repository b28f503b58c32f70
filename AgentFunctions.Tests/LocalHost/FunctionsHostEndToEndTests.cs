using System.Net;
using System.Text.Json;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Protocol;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>The real AgentFunctions worker behind one shared local host.</summary>
public sealed class FunctionsHostEndToEndTests(FunctionsHostFixture fixture) : IClassFixture<FunctionsHostFixture>
{
    [Fact]
    public void StartAsync_RealWorker_ListsHealthWithItsHttpRoute()
    {
        var health = fixture.Host.Functions.Should().ContainSingle(function => function.Name == "Health").Subject;

        health.TriggerType.Should().Be("httpTrigger");
        health.HttpRoute.Should().Be("api/health");
        health.HttpMethods.Should().Equal("GET");
        health.FunctionId.Should().NotBeNullOrEmpty();
        health.RawBindings.Should().Equal([TestFunctions.HealthTrigger, TestFunctions.HttpReturn],
            "the unit tests' binding samples must stay what the real worker sends");
    }

    [Fact]
    public void StartAsync_RealWorker_ServesOnLoopback()
    {
        fixture.Host.HttpBaseAddress.Host.Should().Be("127.0.0.1");
        fixture.Host.HttpBaseAddress.Port.Should().BePositive();
        fixture.Host.WorkerExited.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task GetHealth_RealWorker_ReturnsWhatTheFunctionReturns()
    {
        using var response = await fixture.Client.GetAsync(new Uri("api/health", UriKind.Relative));

        // The function's status, headers and JSON body come back as the worker wrote them.
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        response.Headers.CacheControl!.NoStore.Should().BeTrue();
        (await response.Content.ReadAsStringAsync()).Should().StartWith("{\"status\":\"Healthy\",\"authentication\":\"KeyVaultKey\"");
    }

    [Fact]
    public async Task GetHealth_ManyAtOnce_AllSucceed()
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, 20)
            .Select(_ => fixture.Client.GetAsync(new Uri("api/health", UriKind.Relative))));

        responses.Should().OnlyContain(response => response.StatusCode == HttpStatusCode.OK);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task GetUnknownRoute_RealWorker_Returns404Problem()
    {
        using var response = await fixture.Client.GetAsync(new Uri("api/no-such-function", UriKind.Relative));

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task PostHealth_RealWorker_Returns405()
    {
        using var response = await fixture.Client.PostAsync(new Uri("api/health", UriKind.Relative), new StringContent("{}"));

        response.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
        response.Content.Headers.Allow.Should().Equal("GET");
    }

    [Fact]
    public async Task GetHealthWithBodyOverLimit_RealWorker_Returns413Problem()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/health")
        {
            Content = new ByteArrayContent(new byte[FunctionsHostFixture.MaxRequestBodySize + 1]),
        };
        request.Headers.ExpectContinue = true;

        using var response = await fixture.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        problem.GetProperty("status").GetInt32().Should().Be(413);
    }

    [Fact]
    public async Task InvokeAsync_HealthWithHandBuiltHttpInput_ReturnsHttp200()
    {
        var input = new ParameterBinding
        {
            Name = "request",
            Data = new TypedData { Http = new RpcHttp { Method = "GET", Url = "http://127.0.0.1/api/health" } },
        };

        var result = await fixture.Host.InvokeAsync("health", [input]);

        result.Succeeded.Should().BeTrue();
        result.FunctionName.Should().Be("Health");
        result.ReturnValue!.Http.StatusCode.Should().Be("200");
    }

    [Fact]
    public async Task InvokeAsync_UnknownFunction_ThrowsNamingLoadedFunctions()
    {
        var act = () => fixture.Host.InvokeAsync("Nope", []);

        await act.Should().ThrowAsync<ArgumentException>().WithMessage("*'Nope'*Health*");
    }

    [Fact]
    public async Task Handshake_RealWorker_ForwardsWorkerLogsWithTheirCategory()
    {
        var record = await fixture.WaitForLogAsync(record =>
            record.Id.Name == "WorkerLog" && record.Category == "Microsoft.Hosting.Lifetime");

        record.Level.Should().Be(LogLevel.Information);
    }

    [Fact]
    public async Task GetHealth_RealWorker_LogsTheInvocationByEventId()
    {
        using var response = await fixture.Client.GetAsync(new Uri("api/health", UriKind.Relative));

        fixture.Logs.Collector.GetSnapshot().Should().Contain(record =>
            record.Id.Name == "FunctionSucceeded" && record.Message.Contains("'Functions.Health'", StringComparison.Ordinal));
    }
}
