using System.Text.Json;

namespace AgentFunctions.DevHost.Functions.Worker;

/// <summary>What worker.config.json in the app's build output says about starting the worker.</summary>
/// <param name="ExecutablePath">Program to run, e.g. "dotnet", or the app host when the app is self-contained.</param>
/// <param name="WorkerPath">Full path of the worker assembly passed to the executable, or null when there is none.</param>
/// <param name="WorkerIndexing">Whether the worker reports its own function metadata (the SDK default).</param>
internal sealed record WorkerConfig(string ExecutablePath, string? WorkerPath, bool WorkerIndexing)
{
    public const string FileName = "worker.config.json";

    private const string WorkerRootToken = "{WorkerRoot}";

    /// <summary>Reads worker.config.json; when the build output is missing, the error says to build the app.</summary>
    public static WorkerConfig Load(string appDirectory)
    {
        if (!Directory.Exists(appDirectory))
        {
            throw MissingBuildOutput(appDirectory, "the folder does not exist");
        }

        var path = Path.Combine(appDirectory, FileName);
        if (!File.Exists(path))
        {
            throw MissingBuildOutput(appDirectory, $"{FileName} is missing");
        }

        var config = Parse(File.ReadAllText(path), appDirectory);
        if (config.WorkerPath is not null && !File.Exists(config.WorkerPath))
        {
            throw MissingBuildOutput(appDirectory, $"{Path.GetFileName(config.WorkerPath)} is missing");
        }

        return config;
    }

    public static WorkerConfig Parse(string json, string appDirectory)
    {
        JsonElement description;
        try
        {
            using var document = JsonDocument.Parse(json);
            description = document.RootElement.GetProperty("description").Clone();
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FunctionsHostException(
                $"{FileName} in '{appDirectory}' is not a worker description; rebuild the function app.", exception);
        }

        var executable = GetString(description, "defaultExecutablePath");
        if (string.IsNullOrWhiteSpace(executable))
        {
            throw new FunctionsHostException(
                $"{FileName} in '{appDirectory}' names no defaultExecutablePath; rebuild the function app.");
        }

        var workerPath = GetString(description, "defaultWorkerPath");
        var fullWorkerPath = string.IsNullOrWhiteSpace(workerPath)
            ? null
            : Path.GetFullPath(ExpandWorkerRoot(workerPath, appDirectory), appDirectory);
        return new WorkerConfig(ExpandWorkerRoot(executable, appDirectory), fullWorkerPath, ReadWorkerIndexing(description));
    }

    private static FunctionsHostException MissingBuildOutput(string appDirectory, string problem) => new(
        $"No function app build output in '{appDirectory}': {problem}. Build the app first " +
        "('dotnet build AgentFunctions.sln') or point AppDirectory at its bin/<Configuration>/net10.0 folder.");

    private static string ExpandWorkerRoot(string value, string appDirectory) =>
        value.Replace(WorkerRootToken, Path.TrimEndingDirectorySeparator(appDirectory) + Path.DirectorySeparatorChar,
            StringComparison.OrdinalIgnoreCase);

    // The SDK writes "true" as a string; accept a JSON boolean too.
    private static bool ReadWorkerIndexing(JsonElement description) =>
        description.TryGetProperty("workerIndexing", out var value) && value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.String => bool.TryParse(value.GetString(), out var parsed) && parsed,
            _ => false,
        };

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
