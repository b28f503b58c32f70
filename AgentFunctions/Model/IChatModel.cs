using OpenAI.Chat;

namespace AgentFunctions.Model;

/// <summary>One chat completion against a deployment, with whatever credential the app is configured for.</summary>
public interface IChatModel
{
    Task<ChatCompletion> CompleteAsync(string deployment, IReadOnlyList<ChatMessage> messages, ChatCompletionOptions options,
        CancellationToken cancellationToken);
}
