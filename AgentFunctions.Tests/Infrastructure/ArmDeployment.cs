using System.Text.Json.Nodes;

namespace AgentFunctions.Tests.Infrastructure;

/// <summary>One resource of a compiled template, with the scope that evaluates its expressions.</summary>
/// <param name="Path">Module deployment names and the resource's symbolic name or index: "rbac/apiKeyReader".</param>
/// <param name="Deployed">False when the resource's condition is false for these parameters.</param>
internal sealed record ArmResource(string Path, string Type, JsonObject Json, ArmScope Scope, bool Deployed)
{
    public bool Existing => Json["existing"]?.GetValue<bool>() == true;

    /// <summary>The evaluated value at a property path of the resource, such as ("properties", "httpsOnly").</summary>
    public object? Evaluate(params string[] path)
    {
        // Evaluate the top-level member whole, so property loops ("copy") are expanded before walking into it.
        var value = Scope.Evaluate(Json[path[0]]);
        foreach (var segment in path.Skip(1))
        {
            value = value is Dictionary<string, object?> obj && obj.TryGetValue(segment, out var member) ? member : null;
        }

        return value;
    }

    /// <summary>The evaluated properties object (property loops expanded).</summary>
    public Dictionary<string, object?> Properties =>
        Evaluate("properties") as Dictionary<string, object?> ?? new(StringComparer.OrdinalIgnoreCase);

    public override string ToString() => $"{Path} ({Type})";
}

/// <summary>
/// Walks a compiled template for one set of parameter values, into every module (nested deployment), and lists each
/// resource with whether its condition holds. Conditions must be decidable from the parameters alone.
/// </summary>
internal static class ArmDeployment
{
    private const string DeploymentsType = "Microsoft.Resources/deployments";

    public static IReadOnlyList<ArmResource> Resources(JsonObject template, IReadOnlyDictionary<string, object?> parameters)
    {
        var resources = new List<ArmResource>();
        Walk(new ArmScope(template, parameters), prefix: string.Empty, deployed: true, resources);
        return resources;
    }

    /// <summary>Reads the parameter values out of a deployment parameters file (the output of bicep build-params).</summary>
    public static Dictionary<string, object?> ReadParameterFile(JsonObject parametersFile) =>
        parametersFile["parameters"]!.AsObject()
            .ToDictionary(p => p.Key, p => ArmScope.FromLiteral(p.Value!["value"]), StringComparer.OrdinalIgnoreCase);

    private static void Walk(ArmScope scope, string prefix, bool deployed, List<ArmResource> resources)
    {
        foreach (var (symbol, json) in Entries(scope.Template["resources"]))
        {
            var type = (string)json["type"]!;
            var condition = json["condition"] is { } conditionNode ? scope.Evaluate(conditionNode) : true;
            if (condition is not bool holds)
            {
                throw new InvalidOperationException(
                    $"The condition of {prefix}{symbol} cannot be decided from the parameters: " +
                    ArmScope.Render(condition));
            }

            var copies = json["copy"] is JsonObject loop
                ? Enumerable.Range(0, (int)(long)scope.Evaluate(loop["count"])!)
                    .Select(i => scope.WithCopyIndex(string.Empty, i))
                    .ToList()
                : [scope];

            for (var i = 0; i < copies.Count; i++)
            {
                var copyScope = copies[i];
                var path = prefix + symbol + (json["copy"] is null ? string.Empty : $"[{i}]");
                var resource = new ArmResource(path, type, json, copyScope, deployed && holds);
                resources.Add(resource);

                if (type == DeploymentsType && json["properties"]?["template"] is JsonObject nested)
                {
                    Walk(new ArmScope(nested, ModuleParameters(json, copyScope)), $"{path}/", resource.Deployed, resources);
                }
            }
        }
    }

    private static Dictionary<string, object?> ModuleParameters(JsonObject deployment, ArmScope outer)
    {
        // Bicep compiles modules with inner expression scope: parameter values are evaluated by the caller.
        var values = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        if (deployment["properties"]?["parameters"] is JsonObject parameters)
        {
            foreach (var (name, node) in parameters)
            {
                // Usually {"value": ...}; a conditional value compiles to one expression that builds that object.
                values[name] = node is JsonObject entry
                    ? outer.Evaluate(entry["value"])
                    : outer.Evaluate(node) is Dictionary<string, object?> built && built.TryGetValue("value", out var value)
                        ? value
                        : throw new InvalidOperationException($"The value of module parameter '{name}' cannot be decided.");
            }
        }

        return values;
    }

    private static IEnumerable<(string Symbol, JsonObject Json)> Entries(JsonNode? resources) => resources switch
    {
        // Language version 2.0 keys resources by symbolic name; earlier templates list them.
        JsonObject bySymbol => bySymbol.Select(p => (p.Key, p.Value!.AsObject())),
        JsonArray list => list.Select((r, i) => (Symbol(r!.AsObject(), i), r!.AsObject())),
        _ => [],
    };

    private static string Symbol(JsonObject resource, int index) =>
        resource["type"]?.GetValue<string>() == DeploymentsType && resource["name"]?.GetValue<string>() is { } name &&
        !ArmExpression.IsExpression(name)
            ? name
            : $"#{index}";
}
