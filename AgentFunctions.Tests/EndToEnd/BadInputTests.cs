using System.Net;
using System.Text.Json;

namespace AgentFunctions.Tests.EndToEnd;

/// <summary>Every bad request gets its status and a problem document saying what is wrong, through the real worker.</summary>
public sealed class BadInputTests(LocalHostFixture fixture) : IClassFixture<LocalHostFixture>
{
    [Theory]
    [InlineData("{not json", HttpStatusCode.BadRequest, "invalid-json")]
    [InlineData("[\"input\"]", HttpStatusCode.BadRequest, "invalid-json")]
    [InlineData("", HttpStatusCode.BadRequest, "invalid-json")]
    [InlineData("{}", HttpStatusCode.BadRequest, "missing-input")]
    [InlineData("{\"input\": null}", HttpStatusCode.BadRequest, "missing-input")]
    [InlineData("{\"input\": 42}", HttpStatusCode.BadRequest, "invalid-input")]
    [InlineData("{\"input\": \"\"}", HttpStatusCode.BadRequest, "empty-input")]
    [InlineData("{\"input\": \"   \\n\"}", HttpStatusCode.BadRequest, "empty-input")]
    [InlineData("{\"input\": \"\\ud800\"}", HttpStatusCode.BadRequest, "invalid-input")]
    [InlineData("{\"input\": \"first\", \"input\": \"second\"}", HttpStatusCode.BadRequest, "invalid-json")]
    [InlineData("{\"input\": \"hi\", \"instructions\": \"obey me\"}", HttpStatusCode.BadRequest, "unknown-property")]
    [InlineData("{\"input\": \"hi\", \"context\": \"x\"}", HttpStatusCode.BadRequest, "unknown-property")]
    [InlineData("{\"input\": \"hi\", \"cancellationToken\": \"x\"}", HttpStatusCode.BadRequest, "unknown-property")]
    public async Task Invoke_BadBody_AnswersProblemWithStatusAndCode(string body, HttpStatusCode status, string code)
    {
        var (response, problem) = await fixture.PostAsync("api/agents/assistant/invoke", body);

        ProblemAssertions.AssertProblem(response, problem, status, code);
    }

    [Fact]
    public async Task Invoke_BodyWithBytesThatAreNotUtf8_Answers400InvalidInput()
    {
        using var content = new ByteArrayContent([.. "{\"input\": \""u8, 0xFF, 0xFE, .. "\"}"u8]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await fixture.Client.PostAsync(new Uri("api/agents/assistant/invoke", UriKind.Relative), content);
        string problem = await response.Content.ReadAsStringAsync();

        ProblemAssertions.AssertProblem(response, problem, HttpStatusCode.BadRequest, "invalid-input");
    }

    [Fact]
    public async Task Invoke_BodyFieldNamedLikeRouteValue_DoesNotSwitchTheAgent()
    {
        var (response, problem) = await fixture.PostAsync("api/agents/nobody/invoke", "{\"input\": \"hi\", \"agent\": \"assistant\"}");

        ProblemAssertions.AssertProblem(response, problem, HttpStatusCode.NotFound, "unknown-agent");
    }

    [Fact]
    public async Task Invoke_InputOverCharacterLimit_Answers400NamingTheSetting()
    {
        string input = new('a', 8001);

        var (response, problem) = await fixture.PostAsync("api/agents/assistant/invoke", JsonSerializer.Serialize(new { input }));

        ProblemAssertions.AssertProblem(response, problem, HttpStatusCode.BadRequest, "input-too-long");
        problem.Should().Contain("Agents:MaxInputCharacters").And.Contain("8001");
    }

    [Fact]
    public async Task Invoke_BodyOverByteLimit_Answers413()
    {
        string input = new('a', 70_000);

        var (response, problem) = await fixture.PostAsync("api/agents/assistant/invoke", JsonSerializer.Serialize(new { input }));

        ProblemAssertions.AssertProblem(response, problem, HttpStatusCode.RequestEntityTooLarge, "body-too-large");
    }

    [Fact]
    public async Task Invoke_NullInput_SaysTheInputIsNullRatherThanAbsent()
    {
        var (response, problem) = await fixture.PostAsync("api/agents/assistant/invoke", """{"input": null}""");

        ProblemAssertions.AssertProblem(response, problem, HttpStatusCode.BadRequest, "missing-input");
        JsonDocument.Parse(problem).RootElement.GetProperty("detail").GetString()
            .Should().Be("'input' is null. Send the text as a string: {\"input\": \"...\"}.");
    }

    [Theory]
    [InlineData("api/agents/nobody/invoke")]
    [InlineData("api/agents/nobody/runs")]
    public async Task UnknownAgent_Answers404ListingKnownAgents(string path)
    {
        var (response, problem) = await fixture.PostAsync(path, """{"input": "hi"}""");

        ProblemAssertions.AssertProblem(response, problem, HttpStatusCode.NotFound, "unknown-agent");
        JsonDocument.Parse(problem).RootElement.GetProperty("detail").GetString()
            .Should().Be("No agent named 'nobody' exists. Agents: assistant, timekeeper.");
    }

    [Fact]
    public async Task Invoke_WrongMethod_Answers405()
    {
        var (response, _) = await fixture.GetAsync("api/agents/assistant/invoke");

        response.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task Invoke_BadRequestThenGoodRequest_GoodOneStillAnswered()
    {
        await fixture.PostAsync("api/agents/assistant/invoke", "{broken");

        var (response, body) = await fixture.PostAsync("api/agents/assistant/invoke", """{"input": "still here?"}""");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        body.Should().Contain("Echo: still here?");
    }
}
