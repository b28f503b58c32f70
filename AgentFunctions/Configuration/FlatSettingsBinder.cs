using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace AgentFunctions.Configuration;

/// <summary>
/// Binds a settings section whose properties are all simple values, leaving out any value that cannot be read as its
/// property's type and saying which. The configuration binder throws at the first such value, so an operator who set two
/// settings wrong would learn of one per failed start; this way every bad setting is named in one start-up failure.
/// </summary>
internal static class FlatSettingsBinder
{
    /// <returns>One message per value left out, naming the setting but never repeating its value, which could be a secret
    /// set in the wrong place.</returns>
    public static IReadOnlyList<string> Bind(IConfigurationSection section, object target)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(target);
        var properties = target.GetType()
            .GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(property => property.CanWrite)
            .ToDictionary(property => property.Name, StringComparer.OrdinalIgnoreCase);

        var failures = new List<string>();
        var readable = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var setting in section.GetChildren().Where(child => child.Value is not null))
        {
            if (properties.TryGetValue(setting.Key, out var property) && !CanRead(setting.Value!, property.PropertyType))
            {
                failures.Add($"{setting.Path} (app setting {setting.Path.Replace(":", "__", StringComparison.Ordinal)}) "
                    + $"must be {Describe(property.PropertyType)}; the value set cannot be read as one.");
                continue;
            }

            readable[setting.Key] = setting.Value;
        }

        new ConfigurationBuilder().AddInMemoryCollection(readable).Build().Bind(target);
        return failures;
    }

    // The same conversion the configuration binder makes; an empty value is left to the binder, which skips it.
    private static bool CanRead(string value, Type propertyType)
    {
        var type = Nullable.GetUnderlyingType(propertyType) ?? propertyType;
        if (type == typeof(string) || value.Length == 0)
        {
            return true;
        }

        try
        {
            _ = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException or NotSupportedException or OverflowException)
        {
            return false;
        }
    }

    private static string Describe(Type propertyType)
    {
        var type = Nullable.GetUnderlyingType(propertyType) ?? propertyType;
        if (type.IsEnum)
        {
            return "one of " + string.Join(", ", Enum.GetNames(type));
        }

        return Type.GetTypeCode(type) switch
        {
            TypeCode.Int32 or TypeCode.Int64 => "a whole number",
            TypeCode.Double or TypeCode.Single or TypeCode.Decimal => string.Create(CultureInfo.InvariantCulture, $"a number such as {0.1}"),
            TypeCode.Boolean => "true or false",
            _ when type == typeof(TimeSpan) => "a time span such as 00:05:00 (hh:mm:ss) or 1.00:00:00 (d.hh:mm:ss)",
            _ when type == typeof(Uri) => "a URI",
            _ => $"a {type.Name} value",
        };
    }
}
