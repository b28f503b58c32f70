using AgentFunctions.DevHost.Functions.Protocol;

namespace AgentFunctions.DevHost.Functions;

/// <summary>
/// Sends one invocation of a loaded function to the worker. Every trigger source (the HTTP front end now; queue and timer
/// listeners later) builds its own input data and trigger metadata and goes through here.
/// </summary>
internal interface IFunctionInvoker
{
    Task<InvocationResult> InvokeAsync(LoadedFunction function, IReadOnlyList<ParameterBinding> inputData,
        IReadOnlyDictionary<string, TypedData> triggerMetadata, CancellationToken cancellationToken);
}
