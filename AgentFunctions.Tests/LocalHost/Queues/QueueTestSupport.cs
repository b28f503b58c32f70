using System.Text;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Protocol;
using AgentFunctions.DevHost.Functions.Queues;
using AgentFunctions.Tests.LocalHost.Storage;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace AgentFunctions.Tests.LocalHost.Queues;

/// <summary>Queue-triggered functions shaped as Worker 2.52 reports them, and small helpers over Azurite.</summary>
internal static class QueueTestSupport
{
    /// <summary>Short enough that an idle listener polls often; the 1-minute default would make tests wait.</summary>
    public static readonly QueueHostSettings FastSettings = new() { MaxPollingInterval = TimeSpan.FromMilliseconds(200) };

    /// <summary>A queue trigger binding; <paramref name="extra"/> is spliced into the JSON object (e.g. "dataType").</summary>
    public static LoadedFunction Function(string queueName, string dataType = "String", string name = "ProcessStep",
        string? extra = null)
    {
        var dataTypeProperty = dataType.Length == 0 ? string.Empty : $",\"dataType\":\"{dataType}\"";
        var trigger = "{\"name\":\"message\",\"type\":\"queueTrigger\",\"direction\":\"In\",\"queueName\":\"" + queueName + "\"" +
            dataTypeProperty + (extra is null ? string.Empty : "," + extra) + "}";
        return TestFunctions.Create(name, trigger);
    }

    public static (TriggerListeners Listeners, QueueListener Listener) Start(AzuriteFixture azurite, LoadedFunction function,
        FakeInvoker invoker, QueueHostSettings? settings = null, AppSettings? appSettings = null,
        QueueListenerTuning? tuning = null, QueueWakeSignals? wakeSignals = null)
    {
        var context = new TriggerListenerContext(appSettings ?? azurite.Settings, settings ?? FastSettings, invoker,
            azurite.Connections, wakeSignals ?? new QueueWakeSignals(), null, azurite.Loggers, TimeProvider.System)
        {
            ProcessorCount = 1,
            QueueTuning = tuning ?? QueueListenerTuning.Default,
        };
        var listeners = TriggerListeners.Start([function], context);
        return (listeners, listeners.QueueListeners.Single());
    }

    public static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    /// <summary>Creates the queue and sends <paramref name="wireText"/> exactly as given.</summary>
    public static async Task<QueueClient> SendRawAsync(AzuriteFixture azurite, string queueName, string wireText)
    {
        var queue = azurite.Queue(queueName);
        await queue.CreateIfNotExistsAsync();
        await queue.SendMessageAsync(wireText);
        return queue;
    }

    /// <summary>Every message in the queue, read without taking them (peek shows at most 32).</summary>
    public static async Task<PeekedMessage[]> PeekAllAsync(QueueClient queue)
    {
        if (!await queue.ExistsAsync())
        {
            return [];
        }

        return (await queue.PeekMessagesAsync(32)).Value;
    }

    /// <summary>Approximate count including invisible messages.</summary>
    public static async Task<int> CountAsync(QueueClient queue) =>
        await queue.ExistsAsync() ? (await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount : 0;

    /// <summary>Polls <paramref name="condition"/> every 50 ms until it holds, failing after <paramref name="timeout"/>.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!await condition())
        {
            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>A successful invocation result, as the worker answers one.</summary>
    public static InvocationResult Returning(LoadedFunction function, TypedData? returnValue,
        params (string Name, TypedData Data)[] outputs)
    {
        var response = new InvocationResponse
        {
            InvocationId = Guid.NewGuid().ToString(),
            Result = new StatusResult { Status = StatusResult.Types.Status.Success },
            ReturnValue = returnValue,
        };
        foreach (var (name, data) in outputs)
        {
            response.OutputData.Add(new ParameterBinding { Name = name, Data = data });
        }

        return new InvocationResult(function.Name, response);
    }
}
