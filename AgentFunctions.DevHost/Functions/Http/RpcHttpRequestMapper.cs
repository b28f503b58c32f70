using System.Globalization;
using System.Text.Json;
using AgentFunctions.DevHost.Functions.Protocol;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AgentFunctions.DevHost.Functions.Http;

/// <summary>What one HTTP request becomes for the worker: the trigger binding and the trigger metadata.</summary>
internal sealed record HttpInvocationInput(ParameterBinding Trigger, IReadOnlyDictionary<string, TypedData> TriggerMetadata);

/// <summary>
/// Maps an ASP.NET Core request to the worker's RpcHttp the way the Functions host does for a worker that advertises
/// RpcHttpBodyOnly, RawHttpBodyBytes and UseNullableValueDictionaryForHttp (every Worker.Grpc 2.x worker).
/// </summary>
internal static class RpcHttpRequestMapper
{
    /// <summary>The query parameter that carries a function key; the host keeps it out of binding data.</summary>
    private const string FunctionKeyQueryParameter = "code";

    public static HttpInvocationInput Map(HttpRequest request, byte[] body, string triggerBindingName)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(body);
        ArgumentException.ThrowIfNullOrEmpty(triggerBindingName);

        var trigger = new ParameterBinding
        {
            Name = triggerBindingName,
            Data = new TypedData { Http = ToRpcHttp(request, body) },
        };
        return new HttpInvocationInput(trigger, BuildTriggerMetadata(request, body));
    }

    public static RpcHttp ToRpcHttp(HttpRequest request, byte[] body)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(body);

        var http = new RpcHttp { Method = request.Method, Url = request.GetEncodedUrl() };

        // The worker reads headers only from the nullable map; names go lower-case, repeated values comma-joined.
        foreach (var (name, values) in request.Headers)
        {
            http.NullableHeaders[name.ToLowerInvariant()] = Nullable(values.ToString());
        }

        foreach (var (name, values) in request.Query)
        {
            http.NullableQuery[name] = Nullable(values.ToString());
        }

        foreach (var (name, value) in RouteValues(request))
        {
            http.NullableParams[name] = Nullable(value);
        }

        // Bytes are the only body kind the worker accepts; it throws on any other. No body means no body field at all.
        if (body.Length > 0)
        {
            http.Body = new TypedData { Bytes = ByteString.CopyFrom(body) };
        }

        return http;
    }

    /// <summary>
    /// Binding data as the Functions host's HTTP trigger provides it: top-level properties of a JSON body, then query
    /// parameters, then route values (each later source wins), plus "Query" and "Headers" as JSON objects. The worker
    /// binds by-name parameters such as <c>string id</c> from here.
    /// </summary>
    public static Dictionary<string, TypedData> BuildTriggerMetadata(HttpRequest request, byte[] body)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(body);

        var metadata = new Dictionary<string, TypedData>(StringComparer.OrdinalIgnoreCase);
        AddJsonBodyProperties(metadata, request.ContentType, body);

        foreach (var (name, values) in request.Query)
        {
            if (!string.Equals(name, FunctionKeyQueryParameter, StringComparison.OrdinalIgnoreCase))
            {
                Set(metadata, name, new TypedData { String = values.ToString() });
            }
        }

        foreach (var (name, value) in RouteValues(request))
        {
            Set(metadata, name, new TypedData { String = value });
        }

        Set(metadata, "Query", new TypedData { Json = ToJsonObject(request.Query) });
        Set(metadata, "Headers", new TypedData { Json = ToJsonObject(request.Headers) });
        return metadata;
    }

    private static void AddJsonBodyProperties(Dictionary<string, TypedData> metadata, string? contentType, byte[] body)
    {
        if (body.Length == 0 || !IsJson(contentType))
        {
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            // Not JSON after all: the function still gets the body; it just yields no binding data.
            return;
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return;
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                // A string that is valid JSON but not valid UTF-16 (a lone surrogate escape) cannot be binding data;
                // the function still gets the body and judges it.
                string? text = null;
                if (property.Value.ValueKind == JsonValueKind.String && !TryGetString(property.Value, out text))
                {
                    continue;
                }

                TypedData? value = property.Value.ValueKind switch
                {
                    JsonValueKind.String => new TypedData { String = text },
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False =>
                        new TypedData { String = property.Value.GetRawText() },
                    JsonValueKind.Object => new TypedData { Json = property.Value.GetRawText() },
                    _ => null, // arrays and nulls give no binding data, as in the Functions host
                };
                if (value is not null)
                {
                    Set(metadata, property.Name, value);
                }
            }
        }
    }

    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var mediaType)
        && (mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    private static IEnumerable<(string Name, string Value)> RouteValues(HttpRequest request)
    {
        foreach (var (name, value) in request.RouteValues)
        {
            if (value is not null)
            {
                yield return (name, Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty);
            }
        }
    }

    private static string ToJsonObject(IEnumerable<KeyValuePair<string, StringValues>> pairs)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, values) in pairs)
            {
                writer.WriteString(name, values.ToString());
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    // Later sources replace earlier ones, key casing included.
    private static bool TryGetString(JsonElement element, out string? text)
    {
        try
        {
            text = element.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            text = null;
            return false;
        }
    }

    private static void Set(Dictionary<string, TypedData> metadata, string name, TypedData value)
    {
        metadata.Remove(name);
        metadata[name] = value;
    }

    private static NullableString Nullable(string value) => new() { Value = value };
}
