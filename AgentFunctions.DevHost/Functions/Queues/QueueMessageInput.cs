using System.Text;
using System.Text.Json;
using AgentFunctions.DevHost.Functions.Protocol;
using Azure.Storage.Queues.Models;
using Google.Protobuf;

namespace AgentFunctions.DevHost.Functions.Queues;

/// <summary>A queue message turned into the trigger's input and trigger metadata, or the reason it cannot be.</summary>
internal sealed record QueueInvocationInput(ParameterBinding? Input, IReadOnlyDictionary<string, TypedData> TriggerMetadata,
    string? BindingError);

/// <summary>
/// Builds what the worker receives for a queue message, as the Functions host builds it (protocol notes, section 3.4):
/// the input in the shape the parameter asks for, and <c>QueueTrigger</c>, <c>DequeueCount</c>, <c>Id</c>,
/// <c>PopReceipt</c>, <c>InsertionTime</c>, <c>ExpirationTime</c> and <c>NextVisibleTime</c> as trigger metadata, so
/// parameters such as <c>long dequeueCount</c> bind by name.
/// </summary>
internal static class QueueMessageInput
{
    private const string ModelBindingSource = "AzureStorageQueues";
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <param name="body">The message body after host.json's messageEncoding was undone.</param>
    /// <param name="now">Stands in for a missing insertion time, as in the extension.</param>
    public static QueueInvocationInput Build(QueueTriggerBinding binding, QueueMessage message, byte[] body, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(body);

        var text = TryDecodeUtf8(body);
        var metadata = new Dictionary<string, TypedData>(StringComparer.Ordinal)
        {
            ["DequeueCount"] = Json(message.DequeueCount),
            ["Id"] = new TypedData { String = message.MessageId },
            ["PopReceipt"] = new TypedData { String = message.PopReceipt },
            ["InsertionTime"] = Json(message.InsertedOn ?? now),
            ["ExpirationTime"] = Json(message.ExpiresOn ?? DateTimeOffset.MaxValue),
            ["NextVisibleTime"] = Json(message.NextVisibleOn ?? DateTimeOffset.MaxValue),
        };
        if (text is not null)
        {
            // Left out for a body that is not UTF-8, as the extension leaves it out.
            metadata["QueueTrigger"] = new TypedData { String = text };
        }

        TypedData data;
        switch (binding.Shape)
        {
            case QueueInputShape.String:
                data = new TypedData { String = text ?? Encoding.UTF8.GetString(body) };
                break;
            case QueueInputShape.Bytes:
                data = new TypedData { Bytes = ByteString.CopyFrom(body) };
                break;
            case QueueInputShape.ModelBindingData:
                data = new TypedData { ModelBindingData = ToModelBindingData(message, text ?? Encoding.UTF8.GetString(body), now) };
                break;
            default:
                if (text is null || !IsJson(text))
                {
                    return new QueueInvocationInput(null, metadata,
                        $"The message is not valid JSON, so it cannot bind to parameter '{binding.BindingName}' (a POCO " +
                        "is bound by deserializing the message as JSON).");
                }

                data = new TypedData { Json = text };
                break;
        }

        return new QueueInvocationInput(new ParameterBinding { Name = binding.BindingName, Data = data }, metadata, null);
    }

    /// <summary>The text of a body, or null when the bytes are not UTF-8.</summary>
    public static string? TryDecodeUtf8(byte[] body)
    {
        try
        {
            return StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static ModelBindingData ToModelBindingData(QueueMessage message, string text, DateTimeOffset now)
    {
        // The shape of Azure.Storage.Queues' QueueMessage, which the worker's converters read back (names ignore case).
        var content = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?>
        {
            ["MessageId"] = message.MessageId,
            ["PopReceipt"] = message.PopReceipt,
            ["MessageText"] = text,
            ["DequeueCount"] = message.DequeueCount,
            ["NextVisibleOn"] = message.NextVisibleOn,
            ["InsertedOn"] = message.InsertedOn ?? now,
            ["ExpiresOn"] = message.ExpiresOn,
        });
        return new ModelBindingData
        {
            Version = "1.0",
            Source = ModelBindingSource,
            ContentType = "application/json",
            Content = ByteString.CopyFrom(content),
        };
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static TypedData Json<T>(T value) => new() { Json = JsonSerializer.Serialize(value) };
}
