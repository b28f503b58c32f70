using System.Globalization;
using System.Text.Json;

namespace AgentFunctions.Agents.Tools;

/// <summary>Tells the current date and time in a named time zone (IANA id, UTC by default).</summary>
public sealed class CurrentTimeTool(TimeProvider time) : IAgentTool
{
    public const string ToolName = "get_current_time";

    public string Name => ToolName;

    public string Description => "Returns the current date and time in ISO 8601 form, in the given IANA time zone (default UTC).";

    public BinaryData ParametersSchema { get; } = BinaryData.FromString("""
        {
          "type": "object",
          "properties": {
            "timeZone": { "type": "string", "description": "An IANA time zone id such as Europe/Paris; UTC when omitted." }
          },
          "additionalProperties": false
        }
        """);

    public string Invoke(JsonElement arguments)
    {
        string zoneId = "UTC";
        if (arguments.ValueKind == JsonValueKind.Object && arguments.TryGetProperty("timeZone", out var zone))
        {
            zoneId = zone.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(zone.GetString()) && zone.GetString()!.Length <= 64
                ? zone.GetString()!
                : throw new ToolArgumentException("timeZone must be a non-empty string such as Europe/Paris.");
        }

        TimeZoneInfo timeZone;
        try
        {
            timeZone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        }
        // Names of folders in the time-zone database ("America", "Etc") throw security or argument exceptions, not
        // "not found": whatever the lookup throws, the model only gave a name that is not a zone.
        catch (Exception exception) when (exception is TimeZoneNotFoundException or InvalidTimeZoneException
            or System.Security.SecurityException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw new ToolArgumentException($"Unknown time zone '{Truncate(zoneId)}': use an IANA id such as Europe/Paris or UTC.");
        }

        var now = TimeZoneInfo.ConvertTime(time.GetUtcNow(), timeZone);
        string format = timeZone.Id is "UTC" or "Etc/UTC" ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:sszzz";
        return now.ToString(format, CultureInfo.InvariantCulture);
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "…");
}
