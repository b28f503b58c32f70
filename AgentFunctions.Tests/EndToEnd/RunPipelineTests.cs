using System.Net;
using System.Text.Json;
using AgentFunctions.DevHost.Doubles;

namespace AgentFunctions.Tests.EndToEnd;

/// <summary>
/// Runs that outlive a request, end to end: HTTP starts a run, queue-triggered invocations of the real worker carry it
/// step by step through Azurite, each step calling the model with the key from the vault.
/// </summary>
public sealed class RunPipelineTests(LocalHostFixture fixture) : IClassFixture<LocalHostFixture>
{
    [Fact]
    public async Task StartRun_ToolQuestion_CompletesOverTwoQueueStepsEachCallingTheModelWithTheVaultKey()
    {
        int keyedCallsBefore = fixture.Host.Azure.OpenAI.RequestCount(KeyName.Key1);

        var (accepted, body) = await fixture.PostAsync("api/agents/assistant/runs", """{"input": "What is (17 + 25) * 2?"}""");

        accepted.StatusCode.Should().Be(HttpStatusCode.Accepted);
        string runId = JsonDocument.Parse(body).RootElement.GetProperty("runId").GetString()!;
        accepted.Headers.Location!.ToString().Should().Be($"/api/runs/{runId}");
        body.Should().Contain("\"status\":\"queued\"");

        var run = await RunAssertions.WaitForStatusAsync(fixture, runId, "completed");
        run.GetProperty("output").GetString().Should().Be("calculate returned 84.");
        run.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("step").GetInt32()).Should().Equal(1, 2);
        run.GetProperty("steps")[0].GetProperty("toolsCalled").EnumerateArray().Select(t => t.GetString()).Should().Equal("calculate");
        fixture.Host.Azure.OpenAI.RequestCount(KeyName.Key1).Should().Be(keyedCallsBefore + 2, "each step called the model with the key");
    }

    [Fact]
    public async Task StartRun_InputHoldingTheKey_KeepsNoKeyInRunState()
    {
        string key = fixture.Host.Azure.KeyVault.PeekCurrentValue(LocalAzure.OpenAIKeySecretName)!;

        var (_, body) = await fixture.PostAsync("api/agents/assistant/runs", $$"""{"input": "Remember {{key}} for me."}""");
        string runId = JsonDocument.Parse(body).RootElement.GetProperty("runId").GetString()!;
        await RunAssertions.WaitForStatusAsync(fixture, runId, "completed");

        var stored = (await fixture.RunStateContainer().GetBlobClient($"{runId}.json").DownloadContentAsync()).Value.Content.ToString();
        stored.Should().Contain("Remember [redacted] for me.").And.NotContain(key);
    }

    [Fact]
    public async Task StepMessage_DeliveredAgainAfterRunCompleted_ChangesNothing()
    {
        var (_, body) = await fixture.PostAsync("api/agents/assistant/runs", """{"input": "hello there"}""");
        string runId = JsonDocument.Parse(body).RootElement.GetProperty("runId").GetString()!;
        var completed = await RunAssertions.WaitForStatusAsync(fixture, runId, "completed");
        int modelCalls = fixture.Host.Azure.OpenAI.Requests.Count;

        await fixture.Queue("agent-run-steps").SendMessageAsync($$"""{"runId":"{{runId}}","step":1}""");
        await RunAssertions.WaitUntilAsync(() => fixture.Logs.Collector.GetSnapshot()
            .Any(r => r.Message.Contains($"Run {runId} step 1 was delivered again", StringComparison.Ordinal)));

        var (_, after) = await fixture.GetAsync($"api/runs/{runId}");
        JsonDocument.Parse(after).RootElement.GetProperty("updatedAt").GetDateTimeOffset()
            .Should().Be(completed.GetProperty("updatedAt").GetDateTimeOffset());
        fixture.Host.Azure.OpenAI.Requests.Count.Should().Be(modelCalls);
    }

    [Theory]
    [InlineData("this is not a step", "not JSON")]
    [InlineData("""{"runId":"../x","step":1}""", "not a valid run id")]
    public async Task StepMessage_Malformed_IsKeptOnRejectedQueueWithItsReason(string message, string reason)
    {
        var rejected = fixture.Queue("agent-run-steps-rejected");
        await rejected.CreateIfNotExistsAsync();
        JsonElement? kept = null;

        await fixture.Queue("agent-run-steps").SendMessageAsync(message);
        await RunAssertions.WaitUntilAsync(async () =>
        {
            // The rejected message is JSON, so the original text is found by reading it, not by searching the escaped body.
            kept = (await rejected.PeekMessagesAsync(32)).Value
                .Select(m => JsonDocument.Parse(m.Body.ToString()).RootElement.Clone())
                .Where(json => json.GetProperty("message").GetString() == message)
                .Cast<JsonElement?>()
                .FirstOrDefault();
            return kept is not null;
        }, "the message to reach the rejected queue");

        kept!.Value.GetProperty("reason").GetString().Should().Contain(reason);
    }

    [Fact]
    public async Task GetRun_UnknownOrOddId_Answers404Problem()
    {
        var (unknown, problem) = await fixture.GetAsync("api/runs/0123456789abcdef0123456789abcdef");
        var (odd, _) = await fixture.GetAsync("api/runs/..%2F..%2Fsecrets");

        unknown.StatusCode.Should().Be(HttpStatusCode.NotFound);
        problem.Should().Contain("\"code\":\"unknown-run\"");
        odd.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("{}", HttpStatusCode.BadRequest, "missing-input")]
    [InlineData("{nope", HttpStatusCode.BadRequest, "invalid-json")]
    public async Task StartRun_BadBody_AnswersProblemAndStartsNothing(string body, HttpStatusCode status, string code)
    {
        var (response, problem) = await fixture.PostAsync("api/agents/assistant/runs", body);

        response.StatusCode.Should().Be(status);
        problem.Should().Contain($"\"code\":\"{code}\"");
    }
}

internal static class RunAssertions
{
    public static async Task<JsonElement> WaitForStatusAsync(LocalHostFixture fixture, string runId, string status)
    {
        JsonElement last = default;
        await WaitUntilAsync(async () =>
        {
            var (response, body) = await fixture.GetAsync($"api/runs/{runId}");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }

            last = JsonDocument.Parse(body).RootElement.Clone();
            return last.GetProperty("status").GetString() == status;
        }, $"run {runId} to be {status}");
        return last;
    }

    public static Task WaitUntilAsync(Func<bool> condition, string what = "the condition") =>
        WaitUntilAsync(() => Task.FromResult(condition()), what);

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what = "the condition")
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Waited 2 minutes for {what}.");
            }

            await Task.Delay(100);
        }
    }
}
