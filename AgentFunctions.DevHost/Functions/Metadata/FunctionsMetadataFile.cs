using System.Text.Json;
using AgentFunctions.DevHost.Functions.Protocol;

namespace AgentFunctions.DevHost.Functions.Metadata;

/// <summary>
/// Reads functions.metadata, the file the Worker SDK writes into the build output. Used only when the worker answers the
/// metadata request with use_default_metadata_indexing (it cannot index itself); the host then invents the function ids,
/// as the Functions host does in that mode.
/// </summary>
internal static class FunctionsMetadataFile
{
    public const string FileName = "functions.metadata";

    public static IReadOnlyList<RpcFunctionMetadata> Load(string appDirectory)
    {
        var path = Path.Combine(appDirectory, FileName);
        if (!File.Exists(path))
        {
            throw new FunctionsHostException(
                $"The worker asked the host to read {FileName}, but '{path}' does not exist. Rebuild the function app.");
        }

        return Parse(File.ReadAllText(path), appDirectory);
    }

    public static IReadOnlyList<RpcFunctionMetadata> Parse(string json, string appDirectory)
    {
        JsonDocument parsed;
        try
        {
            parsed = JsonDocument.Parse(json);
        }
        catch (JsonException exception)
        {
            throw new FunctionsHostException($"{FileName} is not valid JSON: {exception.Message}", exception);
        }

        using var document = parsed;
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new FunctionsHostException($"{FileName} must hold a JSON array of functions.");
        }

        var functions = new List<RpcFunctionMetadata>();
        foreach (var function in document.RootElement.EnumerateArray())
        {
            var metadata = new RpcFunctionMetadata
            {
                Name = GetString(function, "name")
                    ?? throw new FunctionsHostException($"A function in {FileName} has no name."),
                ScriptFile = GetString(function, "scriptFile") ?? string.Empty,
                EntryPoint = GetString(function, "entryPoint") ?? string.Empty,
                Language = "dotnet-isolated",
                Directory = appDirectory,
                FunctionId = Guid.NewGuid().ToString(),
            };

            if (function.TryGetProperty("bindings", out var bindings) && bindings.ValueKind == JsonValueKind.Array)
            {
                foreach (var binding in bindings.EnumerateArray())
                {
                    metadata.RawBindings.Add(binding.GetRawText());
                    var name = GetString(binding, "name");
                    if (name is not null)
                    {
                        metadata.Bindings[name] = ToBindingInfo(binding);
                    }
                }
            }

            functions.Add(metadata);
        }

        return functions;
    }

    private static BindingInfo ToBindingInfo(JsonElement binding) => new()
    {
        Type = GetString(binding, "type") ?? string.Empty,
        Direction = GetString(binding, "direction")?.ToUpperInvariant() switch
        {
            "OUT" => BindingInfo.Types.Direction.Out,
            "INOUT" => BindingInfo.Types.Direction.Inout,
            _ => BindingInfo.Types.Direction.In,
        },
        DataType = GetString(binding, "dataType")?.ToUpperInvariant() switch
        {
            "STRING" => BindingInfo.Types.DataType.String,
            "BINARY" => BindingInfo.Types.DataType.Binary,
            "STREAM" => BindingInfo.Types.DataType.Stream,
            _ => BindingInfo.Types.DataType.Undefined,
        },
    };

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
