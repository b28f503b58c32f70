using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json.Nodes;

namespace AgentFunctions.Tests.Infrastructure;

/// <summary>A value that only the deployment knows (a reference, a unique string, a key): kept as its expression.</summary>
internal sealed record Residual(string Text)
{
    public override string ToString() => Text;
}

/// <summary>
/// Evaluates the expressions of one compiled template (or one nested module template) for given parameter values,
/// as far as that is possible without Azure: parameters, variables, conditions, string and object functions. What
/// needs Azure (reference, listKeys, uniqueString, resource ids...) stays a <see cref="Residual"/> whose text shows
/// how it would be computed, so tests can still check what it refers to.
/// </summary>
internal sealed class ArmScope
{
    private readonly JsonObject _template;
    private readonly IReadOnlyDictionary<string, object?> _supplied;
    private readonly Dictionary<string, object?> _parameters;
    private readonly Dictionary<string, object?> _variables;
    private readonly ImmutableDictionary<string, long> _copyIndexes;

    public ArmScope(JsonObject template, IReadOnlyDictionary<string, object?> suppliedParameters)
        : this(template, suppliedParameters, new(StringComparer.OrdinalIgnoreCase), new(StringComparer.OrdinalIgnoreCase),
            ImmutableDictionary<string, long>.Empty.WithComparers(StringComparer.OrdinalIgnoreCase))
    {
        var unknown = suppliedParameters.Keys.Where(name => ParameterDefinition(name) is null).ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidOperationException($"The template declares no parameter {string.Join(", ", unknown)}.");
        }
    }

    private ArmScope(
        JsonObject template,
        IReadOnlyDictionary<string, object?> supplied,
        Dictionary<string, object?> parameters,
        Dictionary<string, object?> variables,
        ImmutableDictionary<string, long> copyIndexes)
    {
        _template = template;
        _supplied = supplied;
        _parameters = parameters;
        _variables = variables;
        _copyIndexes = copyIndexes;
    }

    public JsonObject Template => _template;

    /// <summary>The same template with the index of a copy loop bound ("" names the resource's own loop).</summary>
    public ArmScope WithCopyIndex(string loopName, long index) =>
        new(_template, _supplied, _parameters, _variables, _copyIndexes.SetItem(loopName, index));

    public object? Parameter(string name)
    {
        if (_parameters.TryGetValue(name, out var cached))
        {
            return cached;
        }

        var definition = ParameterDefinition(name)
            ?? throw new InvalidOperationException($"The template declares no parameter '{name}'.");
        var value = _supplied.TryGetValue(name, out var supplied)
            ? supplied
            : definition.ContainsKey("defaultValue")
                ? Evaluate(definition["defaultValue"])
                : throw new InvalidOperationException($"Parameter '{name}' has no value and no default.");
        _parameters[name] = value;
        return value;
    }

    public string ParameterType(string name) =>
        (string?)ParameterDefinition(name)?["type"] ?? throw new InvalidOperationException($"No parameter '{name}'.");

    public object? Variable(string name)
    {
        if (_variables.TryGetValue(name, out var cached))
        {
            return cached;
        }

        var variables = _template["variables"]?.AsObject();
        if (variables is null || !variables.TryGetPropertyValue(name, out var node))
        {
            throw new InvalidOperationException($"The template declares no variable '{name}'.");
        }

        var value = Evaluate(node);
        _variables[name] = value;
        return value;
    }

    /// <summary>Evaluates a JSON value of the template: strings in brackets are expressions, the rest is literal.</summary>
    public object? Evaluate(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonValue value when value.TryGetValue<string>(out var text):
                return ArmExpression.IsExpression(text) ? Evaluate(ArmExpression.Parse(text)) : ArmExpression.Unescape(text);
            case JsonValue value when value.TryGetValue<bool>(out var flag):
                return flag;
            case JsonValue value when value.TryGetValue<long>(out var number):
                return number;
            case JsonValue value:
                return value.ToJsonString();
            case JsonArray array:
                return array.Select(Evaluate).ToList();
            case JsonObject obj:
                return EvaluateObject(obj);
            default:
                throw new InvalidOperationException($"Unexpected JSON node {node.GetType().Name}.");
        }
    }

    public object? Evaluate(ArmExpression expression) => expression switch
    {
        ArmString s => s.Value,
        ArmNumber n => n.Value,
        ArmBoolean b => b.Value,
        ArmNull => null,
        ArmMember member => Member(Evaluate(member.Target), member.Name),
        ArmIndex index => Index(Evaluate(index.Target), Evaluate(index.Index)),
        ArmCall call => Call(call),
        _ => throw new InvalidOperationException($"Unexpected expression {expression}."),
    };

    /// <summary>Turns a parameter-file value into an evaluated value: parameter files hold literals only.</summary>
    public static object? FromLiteral(JsonNode? node) => node switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        JsonValue value when value.TryGetValue<bool>(out var flag) => flag,
        JsonValue value when value.TryGetValue<long>(out var number) => number,
        JsonValue value => value.ToJsonString(),
        JsonArray array => array.Select(FromLiteral).ToList(),
        JsonObject obj => obj.ToDictionary(p => p.Key, p => FromLiteral(p.Value), StringComparer.OrdinalIgnoreCase),
        _ => throw new InvalidOperationException($"Unexpected JSON node {node.GetType().Name}."),
    };

    /// <summary>Renders a value as ARM expression text, so residuals built from it compare by content.</summary>
    public static string Render(object? value) => value switch
    {
        null => "null()",
        string s => $"'{s.Replace("'", "''", StringComparison.Ordinal)}'",
        bool b => b ? "true()" : "false()",
        long n => n.ToString(CultureInfo.InvariantCulture),
        Residual r => r.Text,
        List<object?> list => $"createArray({string.Join(", ", list.Select(Render))})",
        Dictionary<string, object?> obj =>
            $"createObject({string.Join(", ", obj.Select(p => $"{Render(p.Key)}, {Render(p.Value)}"))})",
        _ => throw new InvalidOperationException($"Unexpected value {value.GetType().Name}."),
    };

    private JsonObject? ParameterDefinition(string name) =>
        _template["parameters"]?.AsObject() is { } parameters && parameters.TryGetPropertyValue(name, out var node)
            ? node?.AsObject()
            : null;

    private Dictionary<string, object?> EvaluateObject(JsonObject obj)
    {
        var result = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, node) in obj)
        {
            if (key == "copy" && node is JsonArray loops)
            {
                // A property loop: each entry builds one array property from name, count and input.
                foreach (var loop in loops.Select(l => l!.AsObject()))
                {
                    var loopName = (string)loop["name"]!;
                    result[loopName] = Evaluate(loop["count"]) is long count
                        ? Enumerable.Range(0, (int)count)
                            .Select(i => WithCopyIndex(loopName, i).Evaluate(loop["input"]))
                            .ToList()
                        : new Residual($"copy({loopName})");
                }

                continue;
            }

            result[key] = Evaluate(node);
        }

        return result;
    }

    private object? Call(ArmCall call)
    {
        var name = call.Name.ToLowerInvariant();
        switch (name)
        {
            case "parameters":
                return Parameter(KnownString(call, 0));
            case "variables":
                return Variable(KnownString(call, 0));
            case "if":
                return Evaluate(call.Arguments[0]) switch
                {
                    true => Evaluate(call.Arguments[1]),
                    false => Evaluate(call.Arguments[2]),
                    var condition => ResidualCall(call.Name, [condition, .. call.Arguments.Skip(1).Select(Evaluate)]),
                };
            case "and" or "or":
                return Logical(call, stopAt: name == "or");
            case "copyindex":
                return CopyIndex(call);
        }

        var arguments = call.Arguments.Select(Evaluate).ToList();
        if (arguments.Any(a => a is Residual) && name is not ("createobject" or "createarray" or "union"))
        {
            return ResidualCall(call.Name, arguments);
        }

        return name switch
        {
            "not" when arguments[0] is bool b => !b,
            "equals" => DeepEquals(arguments[0], arguments[1]),
            "empty" => arguments[0] switch
            {
                null => true,
                string s => s.Length == 0,
                List<object?> list => list.Count == 0,
                Dictionary<string, object?> obj => obj.Count == 0,
                _ => throw new InvalidOperationException($"empty() of {Render(arguments[0])}"),
            },
            "length" => arguments[0] switch
            {
                string s => (long)s.Length,
                List<object?> list => list.Count,
                Dictionary<string, object?> obj => obj.Count,
                _ => throw new InvalidOperationException($"length() of {Render(arguments[0])}"),
            },
            "createobject" => CreateObject(call, arguments),
            "createarray" => arguments,
            "union" => Union(call, arguments),
            "items" => Items(arguments[0]),
            "format" => string.Format(CultureInfo.InvariantCulture, (string)arguments[0]!,
                arguments.Skip(1).Select(a => (object?)(a is bool b ? (b ? "True" : "False") : a)).ToArray()),
            "concat" when arguments.All(a => a is string) => string.Concat(arguments.Cast<string>()),
            "concat" when arguments.All(a => a is List<object?>) => arguments.Cast<List<object?>>().SelectMany(l => l).ToList(),
            "tolower" => ((string)arguments[0]!).ToLowerInvariant(),
            "toupper" => ((string)arguments[0]!).ToUpperInvariant(),
            "string" when arguments[0] is string s => s,
            "true" => true,
            "false" => false,
            "null" => null,
            _ => ResidualCall(call.Name, arguments),
        };
    }

    private object? Logical(ArmCall call, bool stopAt)
    {
        var values = new List<object?>();
        foreach (var argument in call.Arguments)
        {
            var value = Evaluate(argument);
            if (value is bool b && b == stopAt)
            {
                return stopAt;
            }

            values.Add(value);
        }

        return values.All(v => v is bool) ? !stopAt : ResidualCall(call.Name, values);
    }

    private long CopyIndex(ArmCall call)
    {
        var loopName = call.Arguments.Count > 0 && Evaluate(call.Arguments[0]) is string named ? named : string.Empty;
        var offset = call.Arguments.Count switch
        {
            1 when loopName.Length == 0 => (long)Evaluate(call.Arguments[0])!,
            2 => (long)Evaluate(call.Arguments[1])!,
            _ => 0,
        };
        return _copyIndexes.TryGetValue(loopName, out var index)
            ? index + offset
            : throw new InvalidOperationException($"copyIndex('{loopName}') outside its loop.");
    }

    private static object? CreateObject(ArmCall call, List<object?> arguments)
    {
        if (arguments.Where((_, i) => i % 2 == 0).Any(k => k is not string))
        {
            return ResidualCall(call.Name, arguments);
        }

        var result = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < arguments.Count; i += 2)
        {
            result[(string)arguments[i]!] = arguments[i + 1];
        }

        return result;
    }

    private static object? Union(ArmCall call, List<object?> arguments)
    {
        if (arguments.All(a => a is Dictionary<string, object?>))
        {
            var result = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
            foreach (var (key, value) in arguments.Cast<Dictionary<string, object?>>().SelectMany(o => o))
            {
                result[key] = value;
            }

            return result;
        }

        return arguments.All(a => a is List<object?>)
            ? arguments.Cast<List<object?>>().SelectMany(l => l).Distinct().ToList()
            : ResidualCall(call.Name, arguments);
    }

    private static List<object?> Items(object? value) => value is Dictionary<string, object?> obj
        ? obj.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase)
            .Select(p => (object?)new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase)
            {
                ["key"] = p.Key,
                ["value"] = p.Value,
            })
            .ToList()
        : throw new InvalidOperationException($"items() of {Render(value)}");

    private static object? Member(object? target, string name) => target switch
    {
        Residual r => new Residual($"{r.Text}.{name}"),
        Dictionary<string, object?> obj when obj.TryGetValue(name, out var value) => value,
        _ => throw new InvalidOperationException($"{Render(target)} has no property '{name}'."),
    };

    private static object? Index(object? target, object? index) => (target, index) switch
    {
        (Residual, _) or (_, Residual) => new Residual($"{Render(target)}[{Render(index)}]"),
        (List<object?> list, long i) => list[(int)i],
        (Dictionary<string, object?> obj, string key) when obj.TryGetValue(key, out var value) => value,
        _ => throw new InvalidOperationException($"{Render(target)} has no element {Render(index)}."),
    };

    private static bool DeepEquals(object? left, object? right) => (left, right) switch
    {
        (List<object?> a, List<object?> b) => a.Count == b.Count && a.Zip(b).All(p => DeepEquals(p.First, p.Second)),
        (Dictionary<string, object?> a, Dictionary<string, object?> b) =>
            a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var other) && DeepEquals(p.Value, other)),
        _ => Equals(left, right),
    };

    private string KnownString(ArmCall call, int position) => Evaluate(call.Arguments[position]) as string
        ?? throw new InvalidOperationException($"{call.Name}() needs a known string argument.");

    private static Residual ResidualCall(string name, IEnumerable<object?> arguments) =>
        new($"{name}({string.Join(", ", arguments.Select(Render))})");
}
