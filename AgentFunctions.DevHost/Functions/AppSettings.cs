using System.Text;

namespace AgentFunctions.DevHost.Functions;

/// <summary>
/// The function app's settings as the host reads them: the worker's environment. Names are matched the way .NET
/// configuration matches them, ignoring case and treating <c>__</c> and <c>:</c> as the same separator, so
/// <c>ScheduledRun:Schedule</c> finds a variable named <c>ScheduledRun__Schedule</c>.
/// </summary>
internal sealed class AppSettings
{
    private readonly Dictionary<string, string> _values;

    public AppSettings(IEnumerable<KeyValuePair<string, string>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        _values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in values)
        {
            _values[Normalize(name)] = value;
        }
    }

    public static AppSettings Empty { get; } = new([]);

    /// <summary>The value of a setting, or null when it is not set.</summary>
    public string? Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _values.GetValueOrDefault(Normalize(name));
    }

    /// <summary>The value of <c>&lt;section&gt;__&lt;key&gt;</c> (or <c>&lt;section&gt;:&lt;key&gt;</c>), or null.</summary>
    public string? Get(string section, string key) => Get(section + ":" + key);

    /// <summary>True when any setting lies below <paramref name="section"/> (an identity-based connection, say).</summary>
    public bool HasSection(string section)
    {
        var prefix = Normalize(section) + ":";
        return _values.Keys.Any(name => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Replaces every <c>%name%</c> in a binding value with that setting, as the Functions host does for queue names and
    /// schedules. Throws <see cref="FunctionsHostException"/> naming the setting and the binding when one is not set.
    /// </summary>
    /// <param name="what">What the value is, for the error message, e.g. "the queue name of function 'X'".</param>
    public string Resolve(string value, string what)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!value.Contains('%', StringComparison.Ordinal))
        {
            return value;
        }

        var resolved = new StringBuilder(value.Length);
        var position = 0;
        while (position < value.Length)
        {
            var start = value.IndexOf('%', position);
            var end = start < 0 ? -1 : value.IndexOf('%', start + 1);
            if (end < 0)
            {
                resolved.Append(value, position, value.Length - position);
                break;
            }

            resolved.Append(value, position, start - position);
            var name = value[(start + 1)..end];
            var setting = Get(name) ?? throw new FunctionsHostException(
                $"{what} is '{value}', but the app setting '{name}' that '%{name}%' names is not set. Set '{name}' " +
                $"(or '{name.Replace(":", "__", StringComparison.Ordinal)}') in the app settings.");
            resolved.Append(setting);
            position = end + 1;
        }

        return resolved.ToString();
    }

    /// <summary>
    /// True when the app setting <c>AzureWebJobs.&lt;name&gt;.Disabled</c> is "true" or "1". On Linux, where a variable
    /// name cannot always carry dots, <c>AzureWebJobs__&lt;name&gt;__Disabled</c> counts as well.
    /// </summary>
    public bool IsFunctionDisabled(string functionName)
    {
        ArgumentException.ThrowIfNullOrEmpty(functionName);
        var value = Get($"AzureWebJobs.{functionName}.Disabled") ?? Get($"AzureWebJobs:{functionName}:Disabled");
        return value is not null
            && (bool.TryParse(value.Trim(), out var disabled) ? disabled : value.Trim() == "1");
    }

    private static string Normalize(string name) => name.Replace("__", ":", StringComparison.Ordinal);
}
