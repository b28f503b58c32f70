using System.ClientModel;
using System.Collections.Concurrent;
using Azure.AI.OpenAI;
using Azure.Core;
using OpenAI.Chat;

namespace AgentFunctions.Model;

/// <summary>
/// Keyless mode: the app's identity gets an Entra ID token for the account, for accounts with local (key) auth disabled.
/// No key exists anywhere, so there is nothing to cache or rotate.
/// </summary>
public sealed class IdentityChatModel(Uri endpoint, TokenCredential credential, AzureOpenAIClientOptions clientOptions) : IChatModel
{
    private readonly AzureOpenAIClient _client = new(endpoint, credential, clientOptions);
    private readonly ConcurrentDictionary<string, ChatClient> _chatClients = new(StringComparer.Ordinal);

    public async Task<ChatCompletion> CompleteAsync(string deployment, IReadOnlyList<ChatMessage> messages,
        ChatCompletionOptions options, CancellationToken cancellationToken)
    {
        var chat = _chatClients.GetOrAdd(deployment, static (name, client) => client.GetChatClient(name), _client);
        try
        {
            return (await chat.CompleteChatAsync(messages, options, cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (ClientResultException exception) when (exception.Status != 0)
        {
            throw ChatCallGuard.Translate(exception, deployment);
        }
        catch (Exception exception) when (ChatCallGuard.IsTransportFailure(exception, cancellationToken))
        {
            throw ChatCallGuard.Unreachable(exception);
        }
    }
}
