using System.Text.Json;
using AgentFunctions.DevHost.Functions.Queues;

namespace AgentFunctions.DevHost.Functions.Metadata;

/// <summary>The few host.json settings the local host honours.</summary>
internal sealed record HostJsonSettings(string RoutePrefix)
{
    public const string FileName = "host.json";

    /// <summary>The Functions host's route prefix when host.json does not set one.</summary>
    public const string DefaultRoutePrefix = "api";

    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static HostJsonSettings Default { get; } = new(DefaultRoutePrefix);

    /// <summary><c>extensions.queues</c>: how queue triggers poll, retry and encode.</summary>
    public QueueHostSettings Queues { get; init; } = QueueHostSettings.Default;

    /// <summary>Reads host.json from the app directory; a missing file means defaults, as for the Functions host.</summary>
    public static HostJsonSettings Load(string appDirectory)
    {
        var path = Path.Combine(appDirectory, FileName);
        return File.Exists(path) ? Parse(File.ReadAllText(path)) : Default;
    }

    public static HostJsonSettings Parse(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException exception)
        {
            throw new FunctionsHostException($"{FileName} is not valid JSON: {exception.Message}", exception);
        }

        using (document)
        {
            // An explicit empty string is meaningful: it removes the prefix altogether.
            var routePrefix = TryGet(document.RootElement, "extensions", out var extensions)
                && TryGet(extensions, "http", out var http)
                && TryGet(http, "routePrefix", out var prefix)
                && prefix.ValueKind == JsonValueKind.String
                    ? prefix.GetString()!.Trim('/')
                    : DefaultRoutePrefix;
            var queues = TryGet(document.RootElement, "extensions", out var section)
                && TryGet(section, "queues", out var queuesSection)
                    ? QueueHostSettings.Parse(queuesSection)
                    : QueueHostSettings.Default;
            return new HostJsonSettings(routePrefix) { Queues = queues };
        }
    }

    private static bool TryGet(JsonElement element, string name, out JsonElement value)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
                {
                    value = property.Value;
                    return true;
                }
            }
        }

        value = default;
        return false;
    }
}
