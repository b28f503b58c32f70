using Google.Protobuf.WellKnownTypes;

namespace AgentFunctions.DevHost.Functions.Protocol;

/// <summary>Builds the messages the host sends to the worker.</summary>
internal static class RpcMessages
{
    /// <summary>Reported to the worker as the host version; the dotnet worker only logs it.</summary>
    internal const string HostVersion = "4.0.0-agentfunctions-devhost";

    public static StreamingMessage WorkerInit(string appDirectory) => new()
    {
        RequestId = NewId(),
        WorkerInitRequest = new WorkerInitRequest
        {
            HostVersion = HostVersion,
            WorkerDirectory = appDirectory,
            FunctionAppDirectory = appDirectory,
        },
    };

    public static StreamingMessage FunctionsMetadata(string appDirectory) => new()
    {
        RequestId = NewId(),
        FunctionsMetadataRequest = new FunctionsMetadataRequest { FunctionAppDirectory = appDirectory },
    };

    /// <summary>Echoes the metadata the worker reported, with its function id, as the Functions host does.</summary>
    public static StreamingMessage FunctionLoad(RpcFunctionMetadata metadata) => new()
    {
        RequestId = NewId(),
        FunctionLoadRequest = new FunctionLoadRequest { FunctionId = metadata.FunctionId, Metadata = metadata },
    };

    /// <summary>
    /// The one place every trigger's invocation is built: the trigger source supplies input data (the trigger binding
    /// by name) and trigger metadata (values for binding expressions and by-name parameters).
    /// </summary>
    public static InvocationRequest Invocation(string invocationId, string functionId, IEnumerable<ParameterBinding> inputData,
        IEnumerable<KeyValuePair<string, TypedData>> triggerMetadata)
    {
        var request = new InvocationRequest
        {
            InvocationId = invocationId,
            FunctionId = functionId,
            // The worker dereferences the trace context without a null check; empty strings are what the host sends
            // when no activity is running.
            TraceContext = new RpcTraceContext { TraceParent = string.Empty, TraceState = string.Empty },
        };
        request.InputData.AddRange(inputData);
        foreach (var (name, value) in triggerMetadata)
        {
            request.TriggerMetadata[name] = value;
        }

        return request;
    }

    public static StreamingMessage Wrap(InvocationRequest request) =>
        new() { RequestId = NewId(), InvocationRequest = request };

    public static StreamingMessage InvocationCancel(string invocationId) => new()
    {
        RequestId = NewId(),
        InvocationCancel = new InvocationCancel { InvocationId = invocationId },
    };

    public static StreamingMessage WorkerTerminate(TimeSpan gracePeriod) => new()
    {
        RequestId = NewId(),
        WorkerTerminate = new WorkerTerminate { GracePeriod = Duration.FromTimeSpan(gracePeriod) },
    };

    private static string NewId() => Guid.NewGuid().ToString();
}
