using AgentFunctions.Credentials;

namespace AgentFunctions.Security;

/// <summary>
/// The last filter on everything that leaves the app (answers, error details, stored run state): removes the current key
/// and the last keys it replaced should a prompt injection ever make the model repeat one, because after a rotation an
/// old key may still sit in a conversation.
/// </summary>
public sealed class SecretRedactor(RotatingSecretCache? keyCache)
{
    public const string Replacement = "[redacted]";

    // Shorter strings are not keys, and replacing them would mangle ordinary text.
    private const int MinimumSecretLength = 16;

    public string Redact(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (keyCache is null)
        {
            return text;
        }

        foreach (string secret in keyCache.KnownValues)
        {
            text = RedactValue(text, secret);
        }

        return text;
    }

    private static string RedactValue(string text, string? secret) =>
        secret is { Length: >= MinimumSecretLength } && text.Contains(secret, StringComparison.OrdinalIgnoreCase)
            ? text.Replace(secret, Replacement, StringComparison.OrdinalIgnoreCase)
            : text;
}
