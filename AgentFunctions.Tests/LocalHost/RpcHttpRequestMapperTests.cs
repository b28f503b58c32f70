using System.Text;
using System.Text.Json;
using AgentFunctions.DevHost.Functions.Http;
using AgentFunctions.DevHost.Functions.Protocol;
using Microsoft.AspNetCore.Http;

namespace AgentFunctions.Tests.LocalHost;

public sealed class RpcHttpRequestMapperTests
{
    [Fact]
    public void Map_RequestWithRouteQueryHeadersAndBody_FillsRpcHttpAsTheHostDoes()
    {
        var body = Encoding.UTF8.GetBytes("""{"title":"hello"}""");
        var request = CreateRequest("POST", "/api/items/42/widget", "?q=1&tag=a&tag=b", body);
        request.Headers["X-Custom"] = new Microsoft.Extensions.Primitives.StringValues(["one", "two"]);
        request.RouteValues["id"] = "42";
        request.RouteValues["name"] = "widget";

        var input = RpcHttpRequestMapper.Map(request, body, "req");
        var http = input.Trigger.Data.Http;

        input.Trigger.Name.Should().Be("req");
        http.Method.Should().Be("POST");
        http.Url.Should().Be("http://127.0.0.1:7071/api/items/42/widget?q=1&tag=a&tag=b");
        http.NullableHeaders["x-custom"].Value.Should().Be("one,two");
        http.NullableHeaders["content-type"].Value.Should().Be("application/json");
        http.NullableHeaders.Keys.Should()
            .OnlyContain(name => string.Equals(name, name.ToLowerInvariant(), StringComparison.Ordinal));
        http.Headers.Should().BeEmpty("the worker reads headers only from the nullable map");
        http.NullableQuery["q"].Value.Should().Be("1");
        http.NullableQuery["tag"].Value.Should().Be("a,b");
        http.NullableParams["id"].Value.Should().Be("42");
        http.NullableParams["name"].Value.Should().Be("widget");
        http.Body.DataCase.Should().Be(TypedData.DataOneofCase.Bytes);
        http.Body.Bytes.ToByteArray().Should().Equal(body);
        http.RawBody.Should().BeNull("the worker accepts the body only as bytes in the body field");
    }

    [Fact]
    public void Map_NoBody_LeavesBodyUnset()
    {
        var request = CreateRequest("GET", "/api/health", string.Empty, []);

        var http = RpcHttpRequestMapper.Map(request, [], "request").Trigger.Data.Http;

        http.Body.Should().BeNull();
    }

    [Fact]
    public void Map_Always_AddsRouteValuesQueryAndJsonQueryAndHeadersToTriggerMetadata()
    {
        var request = CreateRequest("GET", "/api/items/42", "?q=1&code=secret-key", []);
        request.Headers["X-Custom"] = "v";
        request.RouteValues["id"] = 42;

        var metadata = RpcHttpRequestMapper.Map(request, [], "req").TriggerMetadata;

        metadata["id"].String.Should().Be("42");
        metadata["q"].String.Should().Be("1");
        metadata.Should().NotContainKey("code", "the function key never becomes binding data");
        JsonDocument.Parse(metadata["Query"].Json).RootElement.GetProperty("q").GetString().Should().Be("1");
        JsonDocument.Parse(metadata["Headers"].Json).RootElement.GetProperty("X-Custom").GetString().Should().Be("v");
    }

    [Fact]
    public void Map_JsonBody_AddsTopLevelPropertiesWithRouteValuesWinning()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":"from-body","count":3,"ok":true,"child":{"a":1},"list":[1],"none":null}""");
        var request = CreateRequest("POST", "/api/items/7", string.Empty, body);
        request.RouteValues["id"] = "7";

        var metadata = RpcHttpRequestMapper.Map(request, body, "req").TriggerMetadata;

        metadata["id"].String.Should().Be("7");
        metadata["count"].String.Should().Be("3");
        metadata["ok"].String.Should().Be("true");
        metadata["child"].Json.Should().Be("""{"a":1}""");
        metadata.Should().NotContainKeys("list", "none");
    }

    [Fact]
    public void Map_BodyNotJson_AddsNoBodyProperties()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":"x"}""");
        var request = CreateRequest("POST", "/api/echo", string.Empty, body);
        request.ContentType = "text/plain";

        var metadata = RpcHttpRequestMapper.Map(request, body, "req").TriggerMetadata;

        metadata.Keys.Should().BeEquivalentTo("Query", "Headers");
    }

    private static HttpRequest CreateRequest(string method, string path, string query, byte[] body)
    {
        var context = new DefaultHttpContext();
        var request = context.Request;
        request.Method = method;
        request.Scheme = "http";
        request.Host = new HostString("127.0.0.1", 7071);
        request.Path = path;
        request.QueryString = new QueryString(query);
        if (body.Length > 0)
        {
            request.ContentType = "application/json";
            request.ContentLength = body.Length;
            request.Body = new MemoryStream(body);
        }

        return request;
    }
}
