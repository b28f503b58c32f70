using System.Collections.Concurrent;
using System.Globalization;
using AgentFunctions.DevHost.Functions.Metadata;
using AgentFunctions.DevHost.Functions.Storage;
using Azure;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions.Queues;

/// <summary>
/// Writes a function's <c>queue</c> output bindings after it returned successfully: each binding's value (from
/// output_data, or return_value for <c>$return</c>) is split into messages (<see cref="QueueOutputMessages"/>),
/// encoded per host.json's messageEncoding and sent to its queue (<c>%setting%</c> resolved, created if missing). A
/// listener of that queue in this host is woken at once.
/// </summary>
internal sealed partial class QueueOutputWriter(StorageConnections connections, AppSettings settings,
    QueueHostSettings queueSettings, QueueWakeSignals? wakeSignals, ILogger logger)
{
    public const string BindingType = "queue";

    private readonly ConcurrentDictionary<string, bool> _createdQueues = new(StringComparer.OrdinalIgnoreCase);

    public static IEnumerable<FunctionBinding> QueueOutputs(LoadedFunction function) => function.Bindings.Where(binding =>
        binding.IsOutput && string.Equals(binding.Type, BindingType, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Resolves and checks every queue output's queue name, so that a bad binding stops the host at start rather than
    /// failing the first invocation.
    /// </summary>
    public void Validate(LoadedFunction function)
    {
        ArgumentNullException.ThrowIfNull(function);
        foreach (var binding in QueueOutputs(function))
        {
            _ = ResolveQueueName(function, binding);
        }
    }

    /// <summary>Writes every queue output of a successful invocation; throws on the first write that fails.</summary>
    public async Task WriteAsync(LoadedFunction function, InvocationResult result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(result);
        foreach (var binding in QueueOutputs(function))
        {
            var value = binding.Name == "$return" ? result.ReturnValue : result.OutputData.GetValueOrDefault(binding.Name);
            if (value is null)
            {
                continue;
            }

            var messages = QueueOutputMessages.Split(value, binding.Name);
            if (messages.Count == 0)
            {
                continue;
            }

            var queueName = ResolveQueueName(function, binding);
            var queue = connections.GetQueueClient(binding.GetString("connection"), queueName);
            if (!_createdQueues.ContainsKey(queue.Uri.AbsoluteUri))
            {
                await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                _createdQueues[queue.Uri.AbsoluteUri] = true;
            }

            foreach (var message in messages)
            {
                await queue.SendMessageAsync(Encode(message), cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            LogWritten(logger, function.Name, messages.Count, queueName, binding.Name);
            wakeSignals?.Notify(queue.Uri);
        }
    }

    private string ResolveQueueName(LoadedFunction function, FunctionBinding binding)
    {
        var what = $"The queue name of output '{binding.Name}' of function '{function.Name}'";
        var raw = binding.GetString("queueName")
            ?? throw new FunctionsHostException($"{what} is missing from its queue binding.");
        return StorageConnections.NormalizeQueueName(settings.Resolve(raw, what), what);
    }

    private BinaryData Encode(BinaryData message) => queueSettings.MessageEncoding == QueueMessageBodyEncoding.Base64
        ? BinaryData.FromString(Convert.ToBase64String(message.ToMemory().Span))
        : message;

    [LoggerMessage(EventId = 1530, EventName = "QueueOutputWritten", Level = LogLevel.Debug,
        Message = "Function {FunctionName} wrote {MessageCount} messages to queue {QueueName} through output {BindingName}")]
    private static partial void LogWritten(ILogger logger, string functionName, int messageCount, string queueName,
        string bindingName);
}

/// <summary>
/// The invoker every trigger source uses: the function runs through the inner invoker, then its queue outputs are
/// written. A write that fails makes the invocation fail, as on the platform: HTTP answers 500 and a queue message is
/// retried per its rules.
/// </summary>
internal sealed partial class OutputBindingInvoker(IFunctionInvoker inner, QueueOutputWriter writer, ILogger logger)
    : IFunctionInvoker
{
    public async Task<InvocationResult> InvokeAsync(LoadedFunction function, IReadOnlyList<Protocol.ParameterBinding> inputData,
        IReadOnlyDictionary<string, Protocol.TypedData> triggerMetadata, CancellationToken cancellationToken)
    {
        var result = await inner.InvokeAsync(function, inputData, triggerMetadata, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return result;
        }

        try
        {
            await writer.WriteAsync(function, result, cancellationToken).ConfigureAwait(false);
            return result;
        }
        catch (Exception exception) when (exception is RequestFailedException or FunctionsHostException
            or HttpRequestException or IOException)
        {
            var reason = exception is RequestFailedException storage
                ? string.Create(CultureInfo.InvariantCulture, $"storage answered {storage.Status} {storage.ErrorCode}")
                : exception.Message;
            LogOutputFailed(logger, function.Name, result.InvocationId, reason);
            return result.AsHostFailure(exception.GetType().FullName ?? exception.GetType().Name,
                $"The function returned, but writing its queue output failed: {reason}");
        }
    }

    [LoggerMessage(EventId = 1531, EventName = "QueueOutputFailed", Level = LogLevel.Error,
        Message = "Function {FunctionName} (Id={InvocationId}) returned, but writing its queue output failed ({Reason}); " +
            "the invocation counts as failed")]
    private static partial void LogOutputFailed(ILogger logger, string functionName, string invocationId, string reason);
}
