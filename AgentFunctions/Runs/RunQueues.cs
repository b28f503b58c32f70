using System.Text.Json;

namespace AgentFunctions.Runs;

/// <summary>The queues of the run pipeline, and the host's poison rule as host.json sets it.</summary>
public static class RunQueues
{
    /// <summary>One message per step to run.</summary>
    public const string Steps = "agent-run-steps";

    /// <summary>Messages that belong to no step (not JSON, unknown run, wrong step), kept with the reason for an operator.</summary>
    public const string Rejected = "agent-run-steps-rejected";

    /// <summary>Where the host moves a step message that failed on its last delivery.</summary>
    public const string Poison = "agent-run-steps-poison";

    /// <summary>The platform's default when host.json sets none.</summary>
    public const int DefaultMaxDequeueCount = 5;

    /// <summary>
    /// Reads <c>extensions.queues.maxDequeueCount</c> from the host.json the app runs with, so that the step function
    /// knows which delivery is the last before the host moves the message to the poison queue.
    /// </summary>
    public static int ReadMaxDequeueCount(string hostJsonPath)
    {
        if (!File.Exists(hostJsonPath))
        {
            return DefaultMaxDequeueCount;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(hostJsonPath),
            new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return document.RootElement.TryGetProperty("extensions", out var extensions)
            && extensions.TryGetProperty("queues", out var queues)
            && queues.TryGetProperty("maxDequeueCount", out var max)
            && max.TryGetInt32(out int value) && value > 0
                ? value
                : DefaultMaxDequeueCount;
    }
}
