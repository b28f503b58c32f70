using AgentFunctions.DevHost.Functions.Metadata;
using AgentFunctions.DevHost.Functions.Protocol;

namespace AgentFunctions.DevHost.Functions;

/// <summary>A function the worker reported and loaded, with the trigger settings read from its raw bindings.</summary>
public sealed class LoadedFunction
{
    internal LoadedFunction(RpcFunctionMetadata metadata, IReadOnlyList<FunctionBinding> bindings, string? httpRoute,
        IReadOnlyList<string> httpMethods)
    {
        Metadata = metadata;
        Bindings = bindings;
        Trigger = bindings.FirstOrDefault(binding => binding.IsTrigger);
        HttpRoute = httpRoute;
        HttpMethods = httpMethods;
    }

    /// <summary>Function name, e.g. "Health".</summary>
    public string Name => Metadata.Name;

    /// <summary>The id the worker assigned; every invocation names the function by it.</summary>
    public string FunctionId => Metadata.FunctionId;

    /// <summary>Method the worker runs, e.g. "AgentFunctions.Functions.HealthFunction.Run".</summary>
    public string EntryPoint => Metadata.EntryPoint;

    /// <summary>The trigger binding, or null when the worker reported none (such a function cannot be invoked).</summary>
    public FunctionBinding? Trigger { get; }

    /// <summary>Trigger type as the worker wrote it, e.g. "httpTrigger", "queueTrigger", "timerTrigger".</summary>
    public string? TriggerType => Trigger?.Type;

    /// <summary>
    /// For HTTP triggers, the route template the front end serves, prefix included (e.g. "api/health"); otherwise null.
    /// </summary>
    public string? HttpRoute { get; }

    /// <summary>For HTTP triggers, the allowed methods in upper case; empty when every method is allowed.</summary>
    public IReadOnlyList<string> HttpMethods { get; }

    /// <summary>Every binding, in the order the worker listed them.</summary>
    public IReadOnlyList<FunctionBinding> Bindings { get; }

    /// <summary>The raw binding JSON exactly as the worker sent it.</summary>
    public IReadOnlyList<string> RawBindings => Metadata.RawBindings;

    internal RpcFunctionMetadata Metadata { get; }

    internal bool IsHttpTrigger => HttpRoute is not null;

    /// <summary>The output binding that carries the HTTP response ("$return" or a named output), if any.</summary>
    internal FunctionBinding? HttpOutput => Bindings.FirstOrDefault(binding =>
        binding.IsOutput && string.Equals(binding.Type, "http", StringComparison.OrdinalIgnoreCase));

    public override string ToString() => $"{Name} ({TriggerType ?? "no trigger"})";
}
