using Microsoft.Extensions.Logging;

namespace AgentFunctions.Credentials;

// Every message names the secret and its version and age, which are safe to log; the value never appears.
internal static partial class KeyCacheLog
{
    [LoggerMessage(EventId = 1100, EventName = "KeyRead", Level = LogLevel.Information,
        Message = "Read {SecretDescription} version {Version} from the vault in {ElapsedMilliseconds} ms; next read in {TimeToLiveSeconds} s.")]
    public static partial void KeyRead(ILogger logger, string secretDescription, string version, long elapsedMilliseconds,
        long timeToLiveSeconds);

    [LoggerMessage(EventId = 1101, EventName = "KeyVersionChanged", Level = LogLevel.Information,
        Message = "{SecretDescription} moved from version {PreviousVersion} to {Version}; the new key is used from now on.")]
    public static partial void KeyVersionChanged(ILogger logger, string secretDescription, string previousVersion, string version);

    [LoggerMessage(EventId = 1102, EventName = "KeyReadFailed", Level = LogLevel.Warning,
        Message = "Reading {SecretDescription} failed ({Failure}, status {Status}): {Reason} Next attempt in {RetryDelayMilliseconds} ms.")]
    public static partial void KeyReadFailed(ILogger logger, string secretDescription, SecretSourceFailure failure, int? status,
        string reason, long retryDelayMilliseconds);

    [LoggerMessage(EventId = 1103, EventName = "ServingStaleKey", Level = LogLevel.Warning,
        Message = "Serving {SecretDescription} version {Version}, {AgeSeconds} s old and past its time to live, because the vault "
            + "cannot be read; it stops being served in {RemainingSeconds} s.")]
    public static partial void ServingStaleKey(ILogger logger, string secretDescription, string version, long ageSeconds,
        long remainingSeconds);

    [LoggerMessage(EventId = 1104, EventName = "KeyUnavailable", Level = LogLevel.Error,
        Message = "No usable key for {SecretDescription}: {Reason}")]
    public static partial void KeyUnavailable(ILogger logger, string secretDescription, string reason);

    [LoggerMessage(EventId = 1105, EventName = "KeyRejectedRefreshing", Level = LogLevel.Warning,
        Message = "Azure OpenAI rejected {SecretDescription} version {Version} (401); reading the vault for a newer version.")]
    public static partial void KeyRejectedRefreshing(ILogger logger, string secretDescription, string version);

    [LoggerMessage(EventId = 1106, EventName = "KeyRejectedNoNewerVersion", Level = LogLevel.Error,
        Message = "Azure OpenAI rejected {SecretDescription} version {Version} (401) and the vault holds no newer version.")]
    public static partial void KeyRejectedNoNewerVersion(ILogger logger, string secretDescription, string version);
}
