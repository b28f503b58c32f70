using System.Text.Json;
using AgentFunctions.DevHost.Functions.Http;
using AgentFunctions.DevHost.Functions.Protocol;

namespace AgentFunctions.DevHost.Functions.Metadata;

/// <summary>Turns the worker's function metadata into <see cref="LoadedFunction"/>s.</summary>
internal static class FunctionMetadataParser
{
    public static LoadedFunction Parse(RpcFunctionMetadata metadata, HostJsonSettings hostSettings)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(hostSettings);

        List<FunctionBinding> bindings;
        try
        {
            bindings = metadata.RawBindings.Select(FunctionBinding.Parse).ToList();
        }
        catch (FormatException exception)
        {
            throw new FunctionsHostException(
                $"The worker reported function '{metadata.Name}' with a binding the host cannot read: {exception.Message}",
                exception);
        }

        var trigger = bindings.FirstOrDefault(binding => binding.IsTrigger);
        if (trigger is null || !string.Equals(trigger.Type, "httpTrigger", StringComparison.OrdinalIgnoreCase))
        {
            return new LoadedFunction(metadata, bindings, httpRoute: null, httpMethods: []);
        }

        var route = HttpRouteTemplate.Build(metadata.Name, trigger.GetString("route"), hostSettings.RoutePrefix);
        return new LoadedFunction(metadata, bindings, route, ReadMethods(trigger));
    }

    private static List<string> ReadMethods(FunctionBinding trigger)
    {
        if (!trigger.TryGetProperty("methods", out var methods) || methods.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        return methods.EnumerateArray()
            .Where(method => method.ValueKind == JsonValueKind.String)
            .Select(method => method.GetString()!.Trim().ToUpperInvariant())
            .Where(method => method.Length > 0)
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }
}
