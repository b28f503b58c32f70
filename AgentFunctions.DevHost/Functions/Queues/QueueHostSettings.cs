using System.Globalization;
using System.Text.Json;

namespace AgentFunctions.DevHost.Functions.Queues;

/// <summary>How queue messages are written on the wire (host.json <c>extensions.queues.messageEncoding</c>).</summary>
internal enum QueueMessageBodyEncoding
{
    /// <summary>The UTF-8 bytes of the text, base64-encoded: the Functions host's default since extension 5.0.</summary>
    Base64,

    /// <summary>The text as it is.</summary>
    None,
}

/// <summary>
/// host.json <c>extensions.queues</c>, with the defaults and limits of the Storage Queues extension 5.x. Each property
/// names its host.json key.
/// </summary>
internal sealed record QueueHostSettings
{
    public const int DefaultBatchSize = 16;
    public const int MaxBatchSize = 32;

    /// <summary>The floor of the polling back-off, and of <see cref="MaxPollingInterval"/>.</summary>
    public static readonly TimeSpan MinPollingInterval = TimeSpan.FromMilliseconds(100);

    public static QueueHostSettings Default { get; } = new();

    /// <summary><c>batchSize</c>: messages fetched per poll. Default 16, from 1 to 32.</summary>
    public int BatchSize { get; init; } = DefaultBatchSize;

    /// <summary>
    /// <c>newBatchThreshold</c>: the next batch is fetched once this many or fewer messages are still being processed.
    /// Null means the default, <see cref="GetNewBatchThreshold"/>.
    /// </summary>
    public int? NewBatchThreshold { get; init; }

    /// <summary><c>maxPollingInterval</c>: the longest wait between polls of an empty queue. Default 1 min, at least 100 ms.</summary>
    public TimeSpan MaxPollingInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary><c>visibilityTimeout</c>: how long a message that failed stays invisible before its retry. Default 0.</summary>
    public TimeSpan VisibilityTimeout { get; init; } = TimeSpan.Zero;

    /// <summary><c>maxDequeueCount</c>: failed attempts before a message goes to the poison queue. Default 5.</summary>
    public int MaxDequeueCount { get; init; } = 5;

    /// <summary><c>messageEncoding</c>: base64 (default) or none.</summary>
    public QueueMessageBodyEncoding MessageEncoding { get; init; } = QueueMessageBodyEncoding.Base64;

    /// <summary>
    /// The threshold in force: the configured one, else half the batch size times the processor count, where the
    /// processor count is 1 on the Consumption plan (<c>WEBSITE_SKU=Dynamic</c>), as in the extension.
    /// </summary>
    public int GetNewBatchThreshold(AppSettings settings, int processorCount)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (NewBatchThreshold is { } configured)
        {
            return configured;
        }

        var dynamicSku = string.Equals(settings.Get("WEBSITE_SKU"), "Dynamic", StringComparison.OrdinalIgnoreCase);
        return BatchSize / 2 * (dynamicSku ? 1 : processorCount);
    }

    /// <summary>Reads the <c>extensions.queues</c> object; throws <see cref="FunctionsHostException"/> naming a bad key.</summary>
    public static QueueHostSettings Parse(JsonElement queues)
    {
        if (queues.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("extensions.queues", "must be an object");
        }

        var settings = Default;
        foreach (var property in queues.EnumerateObject())
        {
            var key = "extensions.queues." + property.Name;
            var value = property.Value;
            settings = property.Name.ToUpperInvariant() switch
            {
                "BATCHSIZE" => settings with { BatchSize = ReadInt(value, key, 1, MaxBatchSize) },
                "NEWBATCHTHRESHOLD" => settings with { NewBatchThreshold = ReadInt(value, key, 0, int.MaxValue) },
                "MAXPOLLINGINTERVAL" => settings with { MaxPollingInterval = ReadTimeSpan(value, key, MinPollingInterval) },
                "VISIBILITYTIMEOUT" => settings with { VisibilityTimeout = ReadTimeSpan(value, key, TimeSpan.Zero) },
                "MAXDEQUEUECOUNT" => settings with { MaxDequeueCount = ReadInt(value, key, 1, int.MaxValue) },
                "MESSAGEENCODING" => settings with { MessageEncoding = ReadEncoding(value, key) },
                _ => settings, // e.g. maxDequeueCount's siblings the local host does not emulate
            };
        }

        return settings;
    }

    private static int ReadInt(JsonElement value, string key, int min, int max)
    {
        var parsed = value.ValueKind switch
        {
            JsonValueKind.Number when value.TryGetInt32(out var number) => number,
            JsonValueKind.String when int.TryParse(value.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture,
                out var number) => number,
            _ => (int?)null,
        };
        var upper = max == int.MaxValue ? "any higher value" : max.ToString(CultureInfo.InvariantCulture);
        return parsed is { } result && result >= min && result <= max
            ? result
            : throw Invalid(key, string.Create(CultureInfo.InvariantCulture,
                $"must be a whole number from {min} to {upper}; it is {value.GetRawText()}"));
    }

    private static TimeSpan ReadTimeSpan(JsonElement value, string key, TimeSpan min)
    {
        TimeSpan parsed = default;
        var ok = value.ValueKind == JsonValueKind.String
            && TimeSpan.TryParse(value.GetString(), CultureInfo.InvariantCulture, out parsed);
        return ok && parsed >= min
            ? parsed
            : throw Invalid(key, string.Create(CultureInfo.InvariantCulture,
                $"must be a duration such as \"00:00:30\" of at least {min}; it is {value.GetRawText()}"));
    }

    private static QueueMessageBodyEncoding ReadEncoding(JsonElement value, string key) =>
        value.ValueKind == JsonValueKind.String && Enum.TryParse<QueueMessageBodyEncoding>(value.GetString(), ignoreCase: true,
            out var encoding) && Enum.IsDefined(encoding)
            ? encoding
            : throw Invalid(key, $"must be \"base64\" or \"none\"; it is {value.GetRawText()}");

    private static FunctionsHostException Invalid(string key, string problem) => new($"host.json: {key} {problem}.");
}
