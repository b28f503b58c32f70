using AgentFunctions.Agents;
using AgentFunctions.Agents.Tools;
using AgentFunctions.Model;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using OpenAI.Chat;

namespace AgentFunctions.Tests.Agents;

public sealed class AgentRunnerTests
{
    private static readonly AgentDefinition Assistant = new("assistant", "", "Be brief.", "chat",
        [CurrentTimeTool.ToolName, CalculatorTool.ToolName], MaxSteps: 3);

    private readonly ToolRegistry _tools = new([
        new CurrentTimeTool(new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 9, 0, 0, TimeSpan.Zero))), new CalculatorTool()]);

    private readonly FakeLogger<AgentRunner> _logger = new();

    [Fact]
    public async Task RunAsync_ModelAnswersDirectly_ReturnsAnswerAfterOneStep()
    {
        var model = new ScriptedChatModel(Answer("Hello there.", prompt: 12, completion: 3));

        var result = await new AgentRunner(model, _tools, _logger).RunAsync(Assistant, "hi", CancellationToken.None);

        result.Should().Be(new AgentRunResult("assistant", "Hello there.", 1, 12, 3));
        model.Calls.Should().ContainSingle().Which.Deployment.Should().Be("chat");
    }

    [Fact]
    public async Task RunAsync_ModelCallsTools_SendsResultsBackAndReturnsFinalAnswer()
    {
        var model = new ScriptedChatModel(
            ToolCalls(("call_1", "calculate", """{"expression":"6*7"}"""), ("call_2", "get_current_time", "{}")),
            Answer("It is 09:00 and the answer is 42."));

        var result = await new AgentRunner(model, _tools, _logger).RunAsync(Assistant, "what is 6*7 and the time?", CancellationToken.None);

        result.Output.Should().Be("It is 09:00 and the answer is 42.");
        result.Steps.Should().Be(2);
        var secondCall = model.Calls[1].Messages;
        secondCall.OfType<ToolChatMessage>().Select(m => (m.ToolCallId, m.Content[0].Text))
            .Should().Equal(("call_1", "42"), ("call_2", "2026-12-04T09:00:00Z"));
        secondCall.OfType<AssistantChatMessage>().Should().ContainSingle().Which.ToolCalls.Should().HaveCount(2);
        model.Calls[0].Options.Tools.Select(t => t.FunctionName).Should().BeEquivalentTo(["get_current_time", "calculate"]);
        _logger.Collector.GetSnapshot().Where(r => r.Id.Name == "ToolCalled").Should().HaveCount(2);
    }

    [Fact]
    public async Task RunAsync_ModelNeverStopsCallingTools_ThrowsAtStepLimit()
    {
        var loop = Enumerable.Range(0, 5).Select(i => ToolCalls(($"call_{i}", "calculate", """{"expression":"1+1"}"""))).ToArray();
        var model = new ScriptedChatModel(loop);

        var act = () => new AgentRunner(model, _tools, _logger).RunAsync(Assistant, "loop", CancellationToken.None);

        (await act.Should().ThrowAsync<AgentStepLimitException>()).Which.MaxSteps.Should().Be(3);
        model.Calls.Should().HaveCount(3);
    }

    [Fact]
    public async Task RunAsync_ModelCallsToolOutsideAgentsList_GetsErrorInsteadOfExecution()
    {
        var timekeeper = Assistant with { Tools = [CurrentTimeTool.ToolName] };
        var model = new ScriptedChatModel(ToolCalls(("call_1", "calculate", """{"expression":"1+1"}""")), Answer("ok"));

        await new AgentRunner(model, _tools, _logger).RunAsync(timekeeper, "1+1", CancellationToken.None);

        model.Calls[1].Messages.OfType<ToolChatMessage>().Single().Content[0].Text
            .Should().Be("error: no tool named 'calculate' is available to this agent.");
        var logged = _logger.Collector.GetSnapshot().Where(r => r.Id.Name is "ToolCalled" or "ToolNotAllowed" or "ToolNotInRegistry")
            .Should().ContainSingle().Subject;
        logged.Id.Name.Should().Be("ToolNotAllowed", "the tool was not run, so the log must not say it was called");
        logged.Message.Should().Be(
            "Agent assistant step 1: the model asked for tool calculate, which the agent's catalog entry does not list; it was not run.");
    }

    [Fact]
    public async Task RunAsync_ModelCallsToolNamedWithAKey_LogsTheRequestWithoutEchoingNameOrArguments()
    {
        const string fakeKey = "fake-key-in-a-tool-name-000000000001";
        var model = new ScriptedChatModel(ToolCalls(("call_1", fakeKey, $$"""{"expression":"{{fakeKey}}"}""")), Answer("ok"));

        await new AgentRunner(model, _tools, _logger).RunAsync(Assistant, "call it", CancellationToken.None);

        var records = _logger.Collector.GetSnapshot();
        records.Should().ContainSingle(r => r.Id.Name == "ToolNotInRegistry").Which.Message
            .Should().Be("Agent assistant step 1: the model asked for a tool that is not in the registry; it was told no such tool is available.");
        records.Should().NotContain(r => r.Id.Name == "ToolCalled");
        records.SelectMany(r => (r.StructuredState?.Select(p => p.Value ?? string.Empty) ?? []).Append(r.Message))
            .Should().AllSatisfy(text => text.Should().NotContain(fakeKey));
    }

    [Fact]
    public async Task RunAsync_Logs_NeverCarryInputOrOutput()
    {
        var model = new ScriptedChatModel(ToolCalls(("call_1", "calculate", """{"expression":"2*2"}""")), Answer("secret-answer-text"));

        await new AgentRunner(model, _tools, _logger).RunAsync(Assistant, "private-user-text", CancellationToken.None);

        _logger.Collector.GetSnapshot().Should().AllSatisfy(record =>
            record.Message.Should().NotContain("private-user-text").And.NotContain("secret-answer-text").And.NotContain("2*2"));
    }

    private static ChatCompletion Answer(string text, int prompt = 1, int completion = 1) =>
        OpenAIChatModelFactory.ChatCompletion(id: "chatcmpl-test", finishReason: ChatFinishReason.Stop,
            content: new ChatMessageContent(text), role: ChatMessageRole.Assistant,
            usage: OpenAIChatModelFactory.ChatTokenUsage(
                outputTokenCount: completion, inputTokenCount: prompt, totalTokenCount: prompt + completion));

    private static ChatCompletion ToolCalls(params (string Id, string Name, string Arguments)[] calls) =>
        OpenAIChatModelFactory.ChatCompletion(id: "chatcmpl-test", finishReason: ChatFinishReason.ToolCalls,
            toolCalls: calls.Select(c => ChatToolCall.CreateFunctionToolCall(c.Id, c.Name, BinaryData.FromString(c.Arguments))),
            role: ChatMessageRole.Assistant,
            usage: OpenAIChatModelFactory.ChatTokenUsage(outputTokenCount: 1, inputTokenCount: 1, totalTokenCount: 2));

    private sealed class ScriptedChatModel(params ChatCompletion[] script) : IChatModel
    {
        private int _next;

        public List<(string Deployment, List<ChatMessage> Messages, ChatCompletionOptions Options)> Calls { get; } = [];

        public Task<ChatCompletion> CompleteAsync(string deployment, IReadOnlyList<ChatMessage> messages, ChatCompletionOptions options,
            CancellationToken cancellationToken)
        {
            Calls.Add((deployment, messages.ToList(), options));
            return Task.FromResult(script[_next++]);
        }
    }
}
