namespace AgentFunctions.Runs;

/// <summary>
/// The shape of a run id, checked wherever one arrives from outside (a URL, a queue message) before it names a blob.
/// </summary>
public static class RunIds
{
    public const int MaxLength = 128;

    // Run ids are the app's own (hex GUIDs, or "sched-" ids of scheduled runs); anything else cannot name a blob of ours,
    // and a name such as "../x" would reach storage as an invalid blob name.
    public static bool IsValid(string? runId) =>
        runId is { Length: > 0 and <= MaxLength } && runId.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');
}
