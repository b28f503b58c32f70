namespace AgentFunctions.Model;

/// <summary>Azure OpenAI failed in a way the caller may report: its status, whether a retry may help, and after how long.</summary>
public sealed class ModelCallException(string message, int status, TimeSpan? retryAfter, Exception? innerException = null)
    : Exception(message, innerException)
{
    /// <summary>The status Azure OpenAI answered, or 0 when it could not be reached.</summary>
    public int Status { get; } = status;

    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>Throttling and outages pass; a missing deployment or a bad request does not.</summary>
    public bool IsTransient => Status is 0 or 408 or 429 or >= 500;
}
