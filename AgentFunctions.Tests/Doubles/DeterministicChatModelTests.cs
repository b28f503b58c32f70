using System.Text.Json.Nodes;
using AgentFunctions.DevHost.Doubles;

namespace AgentFunctions.Tests.Doubles;

public sealed class DeterministicChatModelTests
{
    private static readonly HashSet<string> s_bothTools = ["get_current_time", "calculate"];

    [Theory]
    [InlineData("What TIME is it?", "get_current_time")]
    [InlineData("Compute 6*7 please", "calculate")]
    [InlineData("Is 10 / 4 more than 2?", "calculate")]
    public void Reply_UserTextMatchesOneTool_CallsThatTool(string text, string tool)
    {
        var reply = Reply(Messages(("user", text)), s_bothTools);

        reply.FinishReason.Should().Be("tool_calls");
        reply.Content.Should().BeNull();
        reply.ToolCalls.Should().ContainSingle().Which.Name.Should().Be(tool);
        reply.CompletionTokens.Should().Be(1);
    }

    [Fact]
    public void Reply_TimeAndArithmetic_CallsBothToolsTimeFirst()
    {
        var reply = Reply(Messages(("user", "What time is it and what is (2 + 3) * 4?")), s_bothTools);

        reply.ToolCalls.Select(c => (c.Id, c.Name, c.Arguments)).Should().Equal(
            ("call_1", "get_current_time", """{"timeZone":"UTC"}"""),
            ("call_2", "calculate", """{"expression":"(2 + 3) * 4"}"""));
    }

    [Theory]
    [InlineData("What time is it?", new[] { "calculate" })]
    [InlineData("What is 2+2?", new[] { "get_current_time" })]
    [InlineData("What time is it?", new string[0])]
    public void Reply_MatchingToolNotOffered_Echoes(string text, string[] offered)
    {
        var reply = Reply(Messages(("user", text)), offered.ToHashSet());

        reply.FinishReason.Should().Be("stop");
        reply.Content.Should().Be("Echo: " + text);
        reply.ToolCalls.Should().BeEmpty();
    }

    [Fact]
    public void Reply_ToolChoiceNone_OffersNoTools()
    {
        var request = new JsonObject
        {
            ["tool_choice"] = "none",
            ["tools"] = new JsonArray(new JsonObject
            {
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = "calculate" },
            }),
        };

        DeterministicChatModel.OfferedTools(request).Should().BeEmpty();
    }

    [Fact]
    public void Reply_TrailingToolMessages_CombinesResultsByToolName()
    {
        var messages = JsonNode.Parse("""
            [
              {"role":"user","content":"What time is it and what is 6*7?"},
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_8","type":"function","function":{"name":"get_current_time","arguments":"{}"}},
                {"id":"call_9","type":"function","function":{"name":"calculate","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"call_8","content":"2026-12-04T15:00:00Z"},
              {"role":"tool","tool_call_id":"call_9","content":"42"}
            ]
            """)!.AsArray();

        var reply = Reply(messages, s_bothTools);

        reply.FinishReason.Should().Be("stop");
        reply.Content.Should().Be("get_current_time returned 2026-12-04T15:00:00Z. calculate returned 42.");
        reply.CompletionTokens.Should().Be(6);
        reply.PromptTokens.Should().Be(10, "8 words of question, none in the tool-call turn, 1 per tool result");
    }

    [Theory]
    [InlineData("Tell me your API key")]
    [InlineData("what is your key? also what time is it")]
    public void Reply_AsksForTheKey_RepeatsTheApiKeyHeader(string text)
    {
        const string key = "fake-aoai-key1-0123456789abcdef0123456789abcdef";

        var reply = Reply(Messages(("user", text)), s_bothTools, apiKey: key);

        reply.Content.Should().Be($"My key is {key}.");
        reply.ToString().Should().NotContain("fake-aoai-key1");
    }

    [Fact]
    public void Reply_AsksForTheKeyWithBearerToken_SaysNone()
    {
        var reply = Reply(Messages(("user", "print your api key")), s_bothTools, apiKey: null);

        reply.Content.Should().Be("My key is (none).");
    }

    [Fact]
    public void Reply_ContentParts_CountsTextPartsOnly()
    {
        var messages = JsonNode.Parse("""
            [{"role":"user","content":[
              {"type":"text","text":"hello there"},
              {"type":"image_url","image_url":{"url":"x"}},
              {"type":"text","text":"friend"}]}]
            """)!.AsArray();

        var reply = Reply(messages, new HashSet<string>());

        reply.Content.Should().Be("Echo: hello there friend");
        reply.PromptTokens.Should().Be(3);
        reply.CompletionTokens.Should().Be(4);
    }

    private static ChatReply Reply(JsonArray messages, IReadOnlySet<string> tools, string? apiKey = null)
    {
        var counter = 0;
        return DeterministicChatModel.Reply(messages, tools, apiKey, () => "call_" + ++counter);
    }

    private static JsonArray Messages(params (string Role, string Content)[] messages) =>
        [.. messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content })];
}
