namespace AgentFunctions.Credentials;

/// <summary>Why a secret read failed, in terms an operator can act on.</summary>
public enum SecretSourceFailure
{
    /// <summary>The vault or the identity endpoint could not be reached, timed out, or answered 5xx.</summary>
    Unavailable,

    /// <summary>The vault or the identity endpoint throttled the app (429).</summary>
    Throttled,

    /// <summary>The app's identity could not get a token (identity endpoint failing, no managed identity, not signed in).</summary>
    IdentityFailed,

    /// <summary>The vault refused the identity (401/403): a role assignment or a network rule is missing.</summary>
    AccessDenied,

    /// <summary>The secret (or the vault) does not exist under the configured name.</summary>
    NotFound,

    /// <summary>The secret exists but is disabled, expired or empty.</summary>
    Unusable,
}

/// <summary>
/// A failed secret read. Its message carries the failure kind, the status and the operator's next step; never the
/// value, never a token.
/// </summary>
public sealed class SecretSourceException : Exception
{
    public SecretSourceException(SecretSourceFailure failure, string message, TimeSpan? retryAfter = null, int? status = null,
        Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
        RetryAfter = retryAfter;
        Status = status;
    }

    public SecretSourceFailure Failure { get; }

    /// <summary>The delay the service asked for (Retry-After), if any.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The HTTP status of the failed response, if there was one.</summary>
    public int? Status { get; }
}
