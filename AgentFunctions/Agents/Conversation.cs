using System.Text;
using OpenAI.Chat;

namespace AgentFunctions.Agents;

/// <summary>A tool call as the model asked for it.</summary>
/// <remarks>Every field is the model's text, which may not have passed the key filter yet, so the printed form leaves them out.</remarks>
public sealed record ToolCallRecord(string Id, string Name, string Arguments)
{
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Arguments = (").Append(Arguments.Length).Append(" characters)");
        return true;
    }
}

/// <summary>
/// One message of an agent's conversation in a form that can be stored between steps (a run's state lives in storage
/// while its next step waits in a queue) and turned back into the model client's messages.
/// </summary>
/// <remarks>The content may be the model's text before the key filter, so the printed form of the record leaves it out.</remarks>
public sealed record ConversationMessage(string Role, string? Content, IReadOnlyList<ToolCallRecord>? ToolCalls = null, string? ToolCallId = null)
{
    public const string SystemRole = "system";
    public const string UserRole = "user";
    public const string AssistantRole = "assistant";
    public const string ToolRole = "tool";

    public static IReadOnlyList<ConversationMessage> Start(AgentDefinition agent, string input)
    {
        ArgumentNullException.ThrowIfNull(agent);
        return [new(SystemRole, agent.Instructions), new(UserRole, input)];
    }

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Role = ").Append(Role).Append(", Content = (").Append(Content?.Length ?? 0).Append(" characters), ToolCalls = ")
            .Append(ToolCalls?.Count ?? 0);
        return true;
    }

    public ChatMessage ToChatMessage() => Role switch
    {
        SystemRole => new SystemChatMessage(Content ?? string.Empty),
        UserRole => new UserChatMessage(Content ?? string.Empty),
        AssistantRole when ToolCalls is { Count: > 0 } calls => new AssistantChatMessage(
            calls.Select(call => ChatToolCall.CreateFunctionToolCall(call.Id, call.Name, BinaryData.FromString(call.Arguments)))),
        AssistantRole => new AssistantChatMessage(Content ?? string.Empty),
        ToolRole => new ToolChatMessage(ToolCallId ?? string.Empty, Content ?? string.Empty),
        _ => throw new InvalidOperationException($"A stored conversation message has the unknown role '{Role}'."),
    };
}
