using System.ClientModel;
using System.Collections.Concurrent;
using AgentFunctions.Credentials;
using Azure.AI.OpenAI;
using Microsoft.Extensions.Logging;
using OpenAI.Chat;

namespace AgentFunctions.Model;

/// <summary>
/// Calls Azure OpenAI with the account key from the vault. One client lives for the whole process; when the cache hands
/// out a new secret version, the client's credential is updated in place, so connections and pipelines are kept.
/// </summary>
/// <remarks>
/// A 401 means the key was regenerated in the account: the cache is asked for a newer version once (one vault read
/// however many calls saw the 401) and the call is retried once. If the vault still holds the rejected version the call
/// fails with <see cref="KeyRejectedException"/> instead of looping.
/// </remarks>
public sealed partial class KeyVaultKeyChatModel(
    Uri endpoint, AzureOpenAIClientOptions clientOptions, RotatingSecretCache keyCache, ILogger<KeyVaultKeyChatModel> logger)
    : IChatModel
{
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, ChatClient> _chatClients = new(StringComparer.Ordinal);
    private AzureOpenAIClient? _client;
    private ApiKeyCredential? _credential;
    private volatile SecretSnapshot? _applied;

    public async Task<ChatCompletion> CompleteAsync(string deployment, IReadOnlyList<ChatMessage> messages,
        ChatCompletionOptions options, CancellationToken cancellationToken)
    {
        var key = await keyCache.GetAsync(cancellationToken).ConfigureAwait(false);
        var chat = GetChatClient(deployment, key);
        try
        {
            return (await chat.CompleteChatAsync(messages, options, cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (ClientResultException exception) when (exception.Status == 401)
        {
            LogKeyRejected(logger, key.Version);
        }
        catch (ClientResultException exception) when (exception.Status != 0)
        {
            throw ChatCallGuard.Translate(exception, deployment);
        }
        catch (Exception exception) when (ChatCallGuard.IsTransportFailure(exception, cancellationToken))
        {
            throw ChatCallGuard.Unreachable(exception);
        }

        var replacement = await keyCache.GetReplacementForRejectedAsync(key.Version, cancellationToken).ConfigureAwait(false);
        chat = GetChatClient(deployment, replacement);
        try
        {
            return (await chat.CompleteChatAsync(messages, options, cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (ClientResultException exception) when (exception.Status == 401)
        {
            throw new KeyRejectedException($"Azure OpenAI also rejects the key in {keyCache.Description} version "
                + $"{replacement.Version}. Put one of the account's current keys into the secret as a new version.");
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

    private ChatClient GetChatClient(string deployment, SecretSnapshot key)
    {
        if (!ReferenceEquals(_applied, key))
        {
            Apply(key);
        }

        return _chatClients.GetOrAdd(deployment, static (name, client) => client.GetChatClient(name), _client!);
    }

    private void Apply(SecretSnapshot key)
    {
        lock (_gate)
        {
            if (_client is null)
            {
                _credential = new ApiKeyCredential(key.Value);
                _client = new AzureOpenAIClient(endpoint, _credential, clientOptions);
                _applied = key;
                return;
            }

            var current = _applied!;
            // A caller still holding an older snapshot must not roll the shared credential back.
            if (current.ReadAt > key.ReadAt)
            {
                return;
            }

            if (current.Version == key.Version)
            {
                // The same key re-read: remember the newer snapshot so later calls take the lock-free path again.
                _applied = key;
                return;
            }

            _credential!.Update(key.Value);
            _applied = key;
            LogKeyApplied(logger, key.Version);
        }
    }

    [LoggerMessage(EventId = 1200, EventName = "ModelKeyApplied", Level = LogLevel.Information,
        Message = "The Azure OpenAI client now uses key version {Version}.")]
    private static partial void LogKeyApplied(ILogger logger, string version);

    [LoggerMessage(EventId = 1201, EventName = "ModelKeyRejected", Level = LogLevel.Warning,
        Message = "Azure OpenAI answered 401 for key version {Version}; asking the vault for a newer version and retrying once.")]
    private static partial void LogKeyRejected(ILogger logger, string version);
}
