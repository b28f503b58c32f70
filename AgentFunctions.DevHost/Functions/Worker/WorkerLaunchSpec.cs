using System.Globalization;

namespace AgentFunctions.DevHost.Functions.Worker;

/// <summary>Everything needed to start the worker process: program, arguments, folder and environment.</summary>
internal sealed record WorkerLaunchSpec(
    string FileName,
    IReadOnlyList<string> Arguments,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string> Environment)
{
    /// <summary>int.MaxValue, as the Functions host sends; an absent value would make the worker's gRPC limits 0.</summary>
    internal const string GrpcMaxMessageLength = "2147483647";

    public static WorkerLaunchSpec Create(WorkerConfig config, string appDirectory, int grpcPort, string workerId,
        string requestId, IReadOnlyDictionary<string, string> environment)
    {
        ArgumentNullException.ThrowIfNull(config);

        var arguments = new List<string>();
        if (config.WorkerPath is not null)
        {
            arguments.Add(config.WorkerPath);
        }

        arguments.AddRange(BuildHostArguments(grpcPort, workerId, requestId));
        return new WorkerLaunchSpec(config.ExecutablePath, arguments, appDirectory, environment);
    }

    /// <summary>
    /// Both argument styles, as the Functions host always passes them: Worker.Grpc 2.x reads only the --functions-* set,
    /// older workers read the first.
    /// </summary>
    public static IReadOnlyList<string> BuildHostArguments(int grpcPort, string workerId, string requestId)
    {
        var port = grpcPort.ToString(CultureInfo.InvariantCulture);
        return
        [
            "--host", "127.0.0.1",
            "--port", port,
            "--workerId", workerId,
            "--requestId", requestId,
            "--grpcMaxMessageLength", GrpcMaxMessageLength,
            "--functions-uri", $"http://127.0.0.1:{port}/",
            "--functions-worker-id", workerId,
            "--functions-request-id", requestId,
            "--functions-grpc-max-message-length", GrpcMaxMessageLength,
        ];
    }
}
