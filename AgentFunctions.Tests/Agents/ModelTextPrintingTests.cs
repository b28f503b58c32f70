using AgentFunctions.Agents;

namespace AgentFunctions.Tests.Agents;

/// <summary>
/// The records that carry model text before the key filter print without it, so that a log line or an exception message
/// that ever interpolates one cannot carry a key the model was made to repeat.
/// </summary>
public sealed class ModelTextPrintingTests
{
    private const string Key = "fake-key-printed-0000000000000000001";

    [Fact]
    public void ToString_RecordsHoldingModelText_LeaveTheTextOutAndKeepTheShape()
    {
        var call = new ToolCallRecord($"call_{Key}", Key, $$"""{"expression":"{{Key}}"}""");
        var message = new ConversationMessage(ConversationMessage.AssistantRole, $"My key is {Key}.", [call]);
        var outcome = new AgentStepOutcome($"Answer: {Key}", [message], 10, 3);
        var result = new AgentRunResult("assistant", $"Answer: {Key}", 2, 10, 3);

        call.ToString().Should().Be("ToolCallRecord { Arguments = (53 characters) }");
        message.ToString().Should().Be("ConversationMessage { Role = assistant, Content = (47 characters), ToolCalls = 1 }");
        outcome.ToString().Should().Be("AgentStepOutcome { Answered = True, NewMessages = 1, PromptTokens = 10, CompletionTokens = 3 }");
        result.ToString().Should().Be(
            "AgentRunResult { Agent = assistant, Output = (44 characters), Steps = 2, PromptTokens = 10, CompletionTokens = 3 }");
        new object[] { call, message, outcome, result }.Should().AllSatisfy(record => record.ToString().Should().NotContain(Key));
    }
}
