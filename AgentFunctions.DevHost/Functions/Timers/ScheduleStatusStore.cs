using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions.Timers;

/// <summary>What the schedule monitor remembers about a timer function, in the shape the Functions host stores.</summary>
/// <param name="Last">When the function last fired on schedule; <see cref="DateTimeOffset.MinValue"/> if never.</param>
/// <param name="Next">When it is due next; a value in the past at start means a firing was missed.</param>
/// <param name="LastUpdated">When this status was written.</param>
internal sealed record ScheduleStatus(DateTimeOffset Last, DateTimeOffset Next, DateTimeOffset LastUpdated);

/// <summary>
/// Keeps each timer function's <see cref="ScheduleStatus"/> as a JSON file
/// (<c>&lt;state folder&gt;/timers/&lt;function&gt;.status.json</c>), where the Functions host keeps a blob under
/// <c>azure-webjobs-hosts/timers/</c>. A file, not a blob in Azurite: the local Azurite keeps its data in memory so that
/// runs are independent, and a status that vanished with every restart could never reveal a missed firing.
/// </summary>
internal sealed partial class ScheduleStatusStore(string stateDirectory, ILogger logger)
{
    private static readonly JsonSerializerOptions SerializerOptions = new() { WriteIndented = true };

    /// <summary>The folder that holds the status files.</summary>
    public string Directory { get; } = Path.Combine(stateDirectory, "timers");

    /// <summary>The status last written for <paramref name="functionName"/>, or null when there is none or it is unreadable.</summary>
    public async Task<ScheduleStatus?> ReadAsync(string functionName, CancellationToken cancellationToken)
    {
        var path = PathOf(functionName);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            await using var stream = File.OpenRead(path);
            return await JsonSerializer.DeserializeAsync<ScheduleStatus>(stream, SerializerOptions, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is JsonException or IOException or NotSupportedException)
        {
            // A damaged file must not stop the timer; it is rewritten at the next firing.
            LogUnreadable(logger, functionName, path, exception.GetType().Name);
            return null;
        }
    }

    /// <summary>Replaces the status of <paramref name="functionName"/> (written whole, then moved into place).</summary>
    public async Task WriteAsync(string functionName, ScheduleStatus status, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = PathOf(functionName);
        var temporary = path + ".tmp";
        await using (var stream = File.Create(temporary))
        {
            await JsonSerializer.SerializeAsync(stream, status, SerializerOptions, cancellationToken).ConfigureAwait(false);
        }

        File.Move(temporary, path, overwrite: true);
    }

    public string PathOf(string functionName)
    {
        ArgumentException.ThrowIfNullOrEmpty(functionName);
        // Function names are C# identifiers in practice; anything else is replaced so a name can never leave the folder.
        var safe = string.Concat(functionName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' ? c : '_'));
        return Path.Combine(Directory, safe + ".status.json");
    }

    [LoggerMessage(EventId = 1545, EventName = "ScheduleStatusUnreadable", Level = LogLevel.Warning,
        Message = "The schedule status of timer function {FunctionName} in {Path} cannot be read ({Reason}); starting " +
            "without one")]
    private static partial void LogUnreadable(ILogger logger, string functionName, string path, string reason);
}

/// <summary>The TimerInfo the worker's timer extension reads, serialized as the Functions host does (PascalCase).</summary>
internal static class TimerInfoJson
{
    public static string Create(ScheduleStatus? status, bool isPastDue, TimeZoneInfo timeZone) =>
        JsonSerializer.Serialize(new TimerInfoPayload(
            new SchedulePayload(AdjustForDst: true),
            status is null ? null : new ScheduleStatus(Local(status.Last, timeZone), Local(status.Next, timeZone),
                Local(status.LastUpdated, timeZone)),
            isPastDue));

    // The host writes local times; MinValue (never fired) cannot be shifted and stays as it is.
    private static DateTimeOffset Local(DateTimeOffset value, TimeZoneInfo timeZone) =>
        value == DateTimeOffset.MinValue ? value : TimeZoneInfo.ConvertTime(value, timeZone);

    private sealed record TimerInfoPayload(
        SchedulePayload Schedule,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ScheduleStatus? ScheduleStatus,
        bool IsPastDue);

    private sealed record SchedulePayload([property: JsonPropertyName("AdjustForDST")] bool AdjustForDst);
}
