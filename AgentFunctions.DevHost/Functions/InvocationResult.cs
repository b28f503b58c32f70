using AgentFunctions.DevHost.Functions.Protocol;

namespace AgentFunctions.DevHost.Functions;

/// <summary>How an invocation ended, as the worker reported it.</summary>
public enum InvocationStatus
{
    Succeeded,
    Failed,
    Cancelled,
}

/// <summary>The worker's answer to one invocation.</summary>
public sealed class InvocationResult
{
    internal InvocationResult(string functionName, InvocationResponse response)
    {
        FunctionName = functionName;
        InvocationId = response.InvocationId;
        var result = response.Result;
        Status = result?.Status switch
        {
            StatusResult.Types.Status.Success => InvocationStatus.Succeeded,
            StatusResult.Types.Status.Cancelled => InvocationStatus.Cancelled,
            _ => InvocationStatus.Failed,
        };
        ReturnValue = response.ReturnValue;
        OutputData = response.OutputData
            .Where(binding => binding.Data is not null)
            .GroupBy(binding => binding.Name, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(group => group.Key, group => group.Last().Data, StringComparer.OrdinalIgnoreCase);
        if (Status != InvocationStatus.Succeeded && result?.Exception is { } exception)
        {
            ExceptionType = NullIfEmpty(exception.Type);
            ExceptionMessage = NullIfEmpty(exception.Message);
        }
    }

    private InvocationResult(InvocationResult succeeded, string exceptionType, string exceptionMessage)
    {
        FunctionName = succeeded.FunctionName;
        InvocationId = succeeded.InvocationId;
        Status = InvocationStatus.Failed;
        ReturnValue = succeeded.ReturnValue;
        OutputData = succeeded.OutputData;
        ExceptionType = exceptionType;
        ExceptionMessage = exceptionMessage;
    }

    public string FunctionName { get; }

    public string InvocationId { get; }

    public InvocationStatus Status { get; }

    public bool Succeeded => Status == InvocationStatus.Succeeded;

    /// <summary>The value bound to "$return", or null.</summary>
    public TypedData? ReturnValue { get; }

    /// <summary>Named output bindings (e.g. an HTTP result property or a queue output), keyed case-insensitively.</summary>
    public IReadOnlyDictionary<string, TypedData> OutputData { get; }

    /// <summary>
    /// Type of the exception the function threw. For the host's own log and decisions only: it is never put into a
    /// response, because function exceptions may carry internal detail.
    /// </summary>
    public string? ExceptionType { get; }

    /// <summary>Message of the exception the function threw; the same rule as <see cref="ExceptionType"/> applies.</summary>
    public string? ExceptionMessage { get; }

    /// <summary>
    /// This invocation reported as failed by the host itself, e.g. because an output binding could not be written after
    /// the function returned: the platform fails such an invocation although the function succeeded.
    /// </summary>
    internal InvocationResult AsHostFailure(string exceptionType, string exceptionMessage) =>
        new(this, exceptionType, exceptionMessage);

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
