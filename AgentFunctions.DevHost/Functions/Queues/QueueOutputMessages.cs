using System.Globalization;
using System.Text.Json;
using AgentFunctions.DevHost.Functions.Protocol;

namespace AgentFunctions.DevHost.Functions.Queues;

/// <summary>
/// Splits a queue output value into messages with the Functions host's rules (protocol notes, 3.6): a JSON array, or a
/// string that parses as one, gives one message per element (a string element as its text, anything else as its JSON);
/// other JSON gives one message holding its text; a plain string, bytes or a number give one message; collections give
/// one message per item.
/// </summary>
internal static class QueueOutputMessages
{
    public static IReadOnlyList<BinaryData> Split(TypedData value, string bindingName)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.DataCase switch
        {
            TypedData.DataOneofCase.None => [],
            TypedData.DataOneofCase.String => SplitText(value.String, isJson: false),
            TypedData.DataOneofCase.Json => SplitText(value.Json, isJson: true),
            TypedData.DataOneofCase.Bytes => [BinaryData.FromBytes(value.Bytes.Memory)],
            TypedData.DataOneofCase.Stream => [BinaryData.FromBytes(value.Stream.Memory)],
            TypedData.DataOneofCase.Int => [BinaryData.FromString(value.Int.ToString(CultureInfo.InvariantCulture))],
            TypedData.DataOneofCase.Double => [BinaryData.FromString(value.Double.ToString("R", CultureInfo.InvariantCulture))],
            TypedData.DataOneofCase.CollectionString => [.. value.CollectionString.String.Select(BinaryData.FromString)],
            TypedData.DataOneofCase.CollectionBytes =>
                [.. value.CollectionBytes.Bytes.Select(bytes => BinaryData.FromBytes(bytes.Memory))],
            TypedData.DataOneofCase.CollectionSint64 =>
                [.. value.CollectionSint64.Sint64.Select(number => Text(number.ToString(CultureInfo.InvariantCulture)))],
            TypedData.DataOneofCase.CollectionDouble =>
                [.. value.CollectionDouble.Double.Select(number => Text(number.ToString("R", CultureInfo.InvariantCulture)))],
            _ => throw new FunctionsHostException(
                $"The queue output '{bindingName}' holds a {value.DataCase} value, which cannot be written as a queue message."),
        };
    }

    private static IReadOnlyList<BinaryData> SplitText(string text, bool isJson)
    {
        // Only JSON can be split, and only JSON that is an array; cheap checks first, since most strings are not.
        var trimmed = text.AsSpan().Trim();
        if (!isJson && (trimmed.IsEmpty || trimmed[0] != '['))
        {
            return [BinaryData.FromString(text)];
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            return [BinaryData.FromString(text)];
        }

        using (document)
        {
            var root = document.RootElement;
            return root.ValueKind switch
            {
                JsonValueKind.Array => [.. root.EnumerateArray().Select(ElementMessage)],
                // A JSON string is one message holding the string itself, as the worker meant a string.
                JsonValueKind.String => [BinaryData.FromString(root.GetString()!)],
                _ => [BinaryData.FromString(text)],
            };
        }
    }

    private static BinaryData Text(string text) => BinaryData.FromString(text);

    private static BinaryData ElementMessage(JsonElement element) => element.ValueKind == JsonValueKind.String
        ? BinaryData.FromString(element.GetString()!)
        : BinaryData.FromString(element.GetRawText());
}
