using System.Text.Json;
using AgentFunctions.DevHost.Functions.Storage;

namespace AgentFunctions.DevHost.Functions.Queues;

/// <summary>How the trigger parameter wants the message, read from the binding as the Functions host reads it.</summary>
internal enum QueueInputShape
{
    /// <summary><c>dataType: String</c> (a <c>string</c> parameter): TypedData.string.</summary>
    String,

    /// <summary><c>dataType: Binary</c> (<c>byte[]</c>, <c>ReadOnlyMemory&lt;byte&gt;</c>): TypedData.bytes.</summary>
    Bytes,

    /// <summary>No data type (a POCO): the host parses the text as JSON and sends TypedData.json.</summary>
    Json,

    /// <summary>
    /// <c>properties.SupportsDeferredBinding</c> (<c>QueueMessage</c>, <c>BinaryData</c>): TypedData.model_binding_data
    /// carrying the whole message as JSON.
    /// </summary>
    ModelBindingData,
}

/// <summary>A function's <c>queueTrigger</c> binding with its settings resolved.</summary>
/// <param name="BindingName">The parameter the message binds to.</param>
/// <param name="QueueName">The queue, <c>%setting%</c> resolved and lower-cased.</param>
/// <param name="ConnectionName">The binding's <c>Connection</c>, or null for the default connection.</param>
internal sealed record QueueTriggerBinding(string BindingName, string QueueName, string? ConnectionName, QueueInputShape Shape)
{
    public const string TriggerType = "queueTrigger";
    public const string PoisonSuffix = "-poison";

    /// <summary>
    /// <c>&lt;queue&gt;-poison</c>, or null when the queue is itself a poison queue or the name would be too long: such a
    /// queue has no poison queue, and a message that keeps failing stays invisible between attempts instead.
    /// </summary>
    public string? PoisonQueueName => QueueName.EndsWith(PoisonSuffix, StringComparison.Ordinal)
        || !StorageConnections.IsValidQueueName(QueueName + PoisonSuffix)
            ? null
            : QueueName + PoisonSuffix;

    public static bool IsQueueTrigger(LoadedFunction function) =>
        string.Equals(function.TriggerType, TriggerType, StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads the trigger of a queue-triggered function; throws <see cref="FunctionsHostException"/> if unusable.</summary>
    public static QueueTriggerBinding Create(LoadedFunction function, AppSettings settings)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(settings);
        var trigger = function.Trigger is { } binding && IsQueueTrigger(function)
            ? binding
            : throw new ArgumentException($"Function '{function.Name}' is not queue-triggered.", nameof(function));

        var what = $"The queue name of function '{function.Name}'";
        var rawName = trigger.GetString("queueName")
            ?? throw new FunctionsHostException($"{what} is missing from its queueTrigger binding.");
        var queueName = StorageConnections.NormalizeQueueName(settings.Resolve(rawName, what), what);
        var connection = trigger.GetString("connection");
        return new QueueTriggerBinding(trigger.Name, queueName, string.IsNullOrWhiteSpace(connection) ? null : connection,
            ReadShape(function, trigger));
    }

    private static QueueInputShape ReadShape(LoadedFunction function, Metadata.FunctionBinding trigger)
    {
        if (SupportsDeferredBinding(trigger, function))
        {
            return QueueInputShape.ModelBindingData;
        }

        var dataType = trigger.GetString("dataType");
        if (dataType is null && function.Metadata.Bindings.TryGetValue(trigger.Name, out var info))
        {
            dataType = info.DataType.ToString();
        }

        return dataType?.ToUpperInvariant() switch
        {
            "STRING" => QueueInputShape.String,
            "BINARY" or "STREAM" => QueueInputShape.Bytes,
            _ => QueueInputShape.Json,
        };
    }

    private static bool SupportsDeferredBinding(Metadata.FunctionBinding trigger, LoadedFunction function)
    {
        if (trigger.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in properties.EnumerateObject())
            {
                if (string.Equals(property.Name, "SupportsDeferredBinding", StringComparison.OrdinalIgnoreCase))
                {
                    return IsTrue(property.Value);
                }
            }
        }

        return function.Metadata.Bindings.TryGetValue(trigger.Name, out var info)
            && info.Properties.TryGetValue("SupportsDeferredBinding", out var flag)
            && bool.TryParse(flag, out var supported) && supported;
    }

    private static bool IsTrue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.String => bool.TryParse(value.GetString(), out var flag) && flag,
        _ => false,
    };
}
