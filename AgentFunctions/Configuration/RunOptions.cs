namespace AgentFunctions.Configuration;

/// <summary>Where run state lives. Section <c>RunStateStorage</c>, identity-based like the host's own storage connection.</summary>
public sealed class RunStateStorageOptions
{
    public const string SectionName = "RunStateStorage";

    /// <summary>
    /// The blob endpoint, e.g. <c>https://mystorage.blob.core.windows.net/</c>; the app's identity needs "Storage Blob
    /// Data Contributor" there. Required.
    /// </summary>
    public Uri? BlobServiceUri { get; set; }

    /// <summary>The container that holds one JSON document per run. Default: <c>agent-runs</c>.</summary>
    public string ContainerName { get; set; } = "agent-runs";
}

/// <summary>A run started on a schedule. Section <c>ScheduledRun</c>; the schedule itself is the flat setting <c>ScheduledRunSchedule</c>.</summary>
public sealed class ScheduledRunOptions
{
    public const string SectionName = "ScheduledRun";

    /// <summary>
    /// The app setting holding the NCRONTAB schedule. Flat rather than in the section because the Functions host does
    /// not resolve nested names in trigger binding expressions on Linux.
    /// </summary>
    public const string ScheduleSettingName = "ScheduledRunSchedule";

    /// <summary>The agent each firing runs; empty means the timer fires and starts nothing. Default: empty.</summary>
    public string? Agent { get; set; }

    /// <summary>The input each scheduled run gets. Required when <see cref="Agent"/> is set.</summary>
    public string? Input { get; set; }
}
