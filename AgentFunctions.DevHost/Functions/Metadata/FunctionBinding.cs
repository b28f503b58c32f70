using System.Text.Json;

namespace AgentFunctions.DevHost.Functions.Metadata;

/// <summary>
/// One binding of a function, parsed from the worker's raw binding JSON. Property names in that JSON vary in case
/// (constructor arguments such as <c>queueName</c> or <c>authLevel</c>, named arguments such as <c>Route</c>), so every
/// lookup here ignores case.
/// </summary>
public sealed class FunctionBinding
{
    private FunctionBinding(string name, string type, string direction, JsonElement raw)
    {
        Name = name;
        Type = type;
        Direction = direction;
        Raw = raw;
    }

    /// <summary>Parameter or output name, e.g. "request" or "$return".</summary>
    public string Name { get; }

    /// <summary>Binding type, e.g. "httpTrigger", "http", "queue".</summary>
    public string Type { get; }

    /// <summary>"In", "Out" or "InOut", as the worker wrote it.</summary>
    public string Direction { get; }

    /// <summary>The whole raw binding object (a detached copy, safe to keep).</summary>
    public JsonElement Raw { get; }

    public bool IsTrigger => Type.EndsWith("Trigger", StringComparison.OrdinalIgnoreCase);

    public bool IsOutput => Direction.Contains("out", StringComparison.OrdinalIgnoreCase);

    /// <summary>Finds a property of the raw binding by name, ignoring case.</summary>
    public bool TryGetProperty(string propertyName, out JsonElement value) => TryGetProperty(Raw, propertyName, out value);

    /// <summary>A string property of the raw binding, or null when it is absent, null or not a string.</summary>
    public string? GetString(string propertyName) => GetString(Raw, propertyName);

    /// <summary>Parses one raw binding; throws <see cref="FormatException"/> naming what is wrong.</summary>
    internal static FunctionBinding Parse(string rawBinding)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(rawBinding);
            root = document.RootElement.Clone();
        }
        catch (JsonException exception)
        {
            throw new FormatException("A raw binding is not valid JSON.", exception);
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"A raw binding must be a JSON object, not {root.ValueKind}.");
        }

        var name = GetString(root, "name");
        var type = GetString(root, "type");
        if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(type))
        {
            throw new FormatException("A raw binding lacks its 'name' or 'type'.");
        }

        return new FunctionBinding(name, type, GetString(root, "direction") ?? "In", root);
    }

    private static string? GetString(JsonElement element, string propertyName) =>
        TryGetProperty(element, propertyName, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static bool TryGetProperty(JsonElement element, string propertyName, out JsonElement value)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, propertyName, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }

        value = default;
        return false;
    }
}
