using System.Text.Json;
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

    /// <summary>What replaces a key inside a tool call's name or id: letters only, so the name or id stays valid.</summary>
    public const string IdentifierReplacement = "redacted";

    // Shorter strings are not keys, and replacing them would mangle ordinary text.
    private const int MinimumSecretLength = 16;

    public string Redact(string text) => Redact(text, Replacement);

    /// <summary>
    /// Filters a tool call's name or id. A stored conversation goes back to Azure OpenAI on the next step, and it refuses
    /// a tool call whose function name is not letters, digits, '_' and '-', so the replacement keeps to those.
    /// </summary>
    public string RedactIdentifier(string text) => Redact(text, IdentifierReplacement);

    /// <summary>
    /// Filters JSON text, such as a tool call's arguments. JSON may spell any character as a <c>\u</c> escape, so a key
    /// can hide from a plain text match and come back whole when the JSON is read; valid JSON is therefore rewritten with
    /// its strings unescaped (the same document) before the match. Text that is not JSON is filtered as it is.
    /// </summary>
    public string RedactJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (keyCache is null || !json.Contains('\\', StringComparison.Ordinal))
        {
            return Redact(json);
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            return Redact(JsonSerializer.Serialize(document.RootElement));
        }
        catch (JsonException)
        {
            return Redact(json);
        }
    }

    private string Redact(string text, string replacement)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (keyCache is null)
        {
            return text;
        }

        foreach (string secret in keyCache.KnownValues)
        {
            text = RedactValue(text, secret, replacement);
        }

        return text;
    }

    private static string RedactValue(string text, string? secret, string replacement) =>
        secret is { Length: >= MinimumSecretLength } && text.Contains(secret, StringComparison.OrdinalIgnoreCase)
            ? text.Replace(secret, replacement, StringComparison.OrdinalIgnoreCase)
            : text;
}
