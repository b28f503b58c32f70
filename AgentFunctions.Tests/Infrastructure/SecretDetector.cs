using System.Text.RegularExpressions;

namespace AgentFunctions.Tests.Infrastructure;

/// <summary>
/// The "looks like a secret" rule for application settings. A setting may carry an address or a name; anything that
/// reads or resembles a credential is flagged. The one reviewed exception is the Application Insights connection
/// string, read from the component itself: it holds the instrumentation key and ingestion endpoint, which identify
/// the component but authorize nothing once the component's local auth is off (the caller checks that).
/// </summary>
internal static partial class SecretDetector
{
    public const string AppInsightsConnectionStringSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";

    private static readonly string[] CredentialMarkers =
    [
        "AccountKey=", "SharedAccessSignature", "SharedAccessKey", "sig=", "Password=", "pwd=", "ClientSecret",
        "client_secret", "Bearer ", "InstrumentationKey=",
    ];

    // Properties that carry keys or connection strings when read from a resource with reference().
    private static readonly string[] SecretProperties =
    [
        ".ConnectionString", ".connectionStrings", ".primaryKey", ".secondaryKey", ".key1", ".key2", ".keys",
        ".primaryMasterKey", ".InstrumentationKey",
    ];

    /// <summary>Why a setting's value looks like a secret, or null when it does not.</summary>
    public static string? Reason(string settingName, object? value)
    {
        var text = value switch
        {
            null => string.Empty,
            string s => s,
            Residual r => r.Text,
            _ => ArmScope.Render(value),
        };

        if (ListFunction().IsMatch(text))
        {
            return "it calls a list*() function, which returns keys or connection strings";
        }

        if (IsAppInsightsConnectionStringFromComponent(settingName, value))
        {
            return null;
        }

        if (CredentialMarkers.FirstOrDefault(m => text.Contains(m, StringComparison.OrdinalIgnoreCase)) is { } marker)
        {
            return $"it contains '{marker}'";
        }

        if (value is Residual && text.StartsWith("reference(", StringComparison.OrdinalIgnoreCase) &&
            SecretProperties.FirstOrDefault(p => text.EndsWith(p, StringComparison.OrdinalIgnoreCase)) is { } property)
        {
            return $"it reads '{property[1..]}' from a resource";
        }

        if (value is string && RandomToken().IsMatch(text) && text.Any(char.IsAsciiDigit) && text.Any(char.IsAsciiLetter))
        {
            return "it has the shape of a key or token (a long unbroken run of letters and digits)";
        }

        return JwtShape().IsMatch(text) ? "it has the shape of a JSON web token" : null;
    }

    /// <summary>True for the reviewed exception: APPLICATIONINSIGHTS_CONNECTION_STRING = component.ConnectionString.</summary>
    public static bool IsAppInsightsConnectionStringFromComponent(string settingName, object? value) =>
        settingName == AppInsightsConnectionStringSetting && value is Residual r &&
        r.Text.StartsWith("reference(resourceId('Microsoft.Insights/components', ", StringComparison.Ordinal) &&
        r.Text.EndsWith(").ConnectionString", StringComparison.Ordinal);

    [GeneratedRegex(@"\blist[A-Za-z]*\(", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ListFunction();

    [GeneratedRegex(@"^[A-Za-z0-9+/=_\-]{32,}$", RegexOptions.CultureInvariant)]
    private static partial Regex RandomToken();

    [GeneratedRegex(@"eyJ[A-Za-z0-9_\-]{8,}\.", RegexOptions.CultureInvariant)]
    private static partial Regex JwtShape();
}
