namespace AgentFunctions.Credentials;

/// <summary>
/// No usable key: the vault could not be read and no cached key is within the allowed staleness. The message tells
/// the operator what to check; it never contains the key.
/// </summary>
public sealed class KeyUnavailableException(string message, TimeSpan? retryAfter, Exception? innerException = null)
    : Exception(message, innerException)
{
    /// <summary>When a new attempt makes sense, if the cache knows.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>
/// Azure OpenAI refused the key from the vault and the vault holds no newer version, so retrying would only loop.
/// </summary>
public sealed class KeyRejectedException(string message) : Exception(message);
