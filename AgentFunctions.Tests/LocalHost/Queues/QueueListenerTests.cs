using System.Collections.Concurrent;
using AgentFunctions.DevHost.Functions.Queues;
using AgentFunctions.Tests.LocalHost.Storage;
using Microsoft.Extensions.Logging;
using static AgentFunctions.Tests.LocalHost.Queues.QueueTestSupport;

namespace AgentFunctions.Tests.LocalHost.Queues;

/// <summary>The queue trigger's message rules against a real Azurite, each rule in a test of its own.</summary>
public sealed class QueueListenerTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Listen_Base64Message_PassesDecodedTextAsStringInput()
    {
        var queueName = AzuriteFixture.NewQueueName();
        await SendRawAsync(azurite, queueName, Base64("héllo, queue"));
        var invoker = new FakeInvoker();

        var (listeners, _) = Start(azurite, Function(queueName), invoker);
        await using var _ = listeners;
        var invocation = await invoker.NextAsync();

        invocation.Input.Single().Name.Should().Be("message");
        invocation.Data.String.Should().Be("héllo, queue");
        invocation.QueueTrigger.Should().Be("héllo, queue");
    }

    [Fact]
    public async Task Listen_FunctionSucceeds_DeletesTheMessage()
    {
        var queueName = AzuriteFixture.NewQueueName();
        var queue = await SendRawAsync(azurite, queueName, Base64("done"));
        var invoker = new FakeInvoker();

        var (listeners, _) = Start(azurite, Function(queueName), invoker);
        await using var _ = listeners;
        await invoker.NextAsync();

        await EventuallyAsync(async () => await CountAsync(queue) == 0, "the message is deleted");
        invoker.Invocations.Should().ContainSingle();
    }

    [Fact]
    public async Task Listen_MessageNotBase64_MovesItToPoisonWithoutInvoking()
    {
        var queueName = AzuriteFixture.NewQueueName();
        var queue = await SendRawAsync(azurite, queueName, "not base64 at all!");
        var invoker = new FakeInvoker();

        var (listeners, _) = Start(azurite, Function(queueName), invoker);
        await using var _ = listeners;
        var poison = azurite.Queue(queueName + "-poison");
        await EventuallyAsync(async () => (await PeekAllAsync(poison)).Length == 1, "the message is in the poison queue");

        (await PeekAllAsync(poison)).Single().MessageText.Should().Be("not base64 at all!");
        (await CountAsync(queue)).Should().Be(0);
        invoker.Invocations.Should().BeEmpty();
        azurite.Logs.Collector.GetSnapshot().Should().Contain(record => record.Id.Name == "QueueMessageNotBase64");
    }

    [Fact]
    public async Task Listen_FunctionFails_MessageVisibleAgainAfterVisibilityTimeoutWithDequeueCountPlusOne()
    {
        var queueName = AzuriteFixture.NewQueueName();
        await SendRawAsync(azurite, queueName, Base64("retry me"));
        var invoker = new FakeInvoker();
        var attempts = 0;
        invoker.Handler = (_, _) => Task.FromResult(Interlocked.Increment(ref attempts) > 1);
        var settings = FastSettings with { VisibilityTimeout = TimeSpan.FromSeconds(1) };

        var (listeners, _) = Start(azurite, Function(queueName), invoker, settings);
        await using var _ = listeners;
        var first = await invoker.NextAsync();
        var second = await invoker.NextAsync();

        first.DequeueCount.Should().Be(1);
        second.DequeueCount.Should().Be(2);
        second.Data.String.Should().Be("retry me");
        // Released at once, the retry would come with the next poll, within about 200 ms.
        (second.StartedAt - first.StartedAt).Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(700));
    }

    [Fact]
    public async Task Listen_FailsMaxDequeueCountTimes_MovesSameBodyToPoisonQueueAndRemovesIt()
    {
        var queueName = AzuriteFixture.NewQueueName();
        var wireText = Base64("{\"step\":3}");
        var queue = await SendRawAsync(azurite, queueName, wireText);
        var invoker = new FakeInvoker { Handler = (_, _) => Task.FromResult(false) };
        var settings = FastSettings with { MaxDequeueCount = 3 };

        var (listeners, _) = Start(azurite, Function(queueName), invoker, settings);
        await using var _ = listeners;
        var poison = azurite.Queue(queueName + "-poison");
        await EventuallyAsync(async () => (await PeekAllAsync(poison)).Length == 1, "the message is in the poison queue");

        (await PeekAllAsync(poison)).Single().MessageText.Should().Be(wireText);
        (await CountAsync(queue)).Should().Be(0);
        invoker.Invocations.Select(invocation => invocation.DequeueCount).Should().Equal(1, 2, 3);
        azurite.Logs.Collector.GetSnapshot().Should().Contain(record => record.Id.Name == "QueueMessageMovedToPoison");
    }

    [Fact]
    public async Task Listen_DequeueCountAlreadyAboveMax_MovesToPoisonWithoutInvoking()
    {
        var queueName = AzuriteFixture.NewQueueName();
        var queue = await SendRawAsync(azurite, queueName, Base64("crashed host"));
        // A host that received the message and died before reporting: dequeue count 1, message visible again.
        var received = (await queue.ReceiveMessageAsync(TimeSpan.FromSeconds(30))).Value;
        await queue.UpdateMessageAsync(received.MessageId, received.PopReceipt, visibilityTimeout: TimeSpan.Zero);
        var invoker = new FakeInvoker();
        var settings = FastSettings with { MaxDequeueCount = 1 };

        var (listeners, _) = Start(azurite, Function(queueName), invoker, settings);
        await using var _ = listeners;
        var poison = azurite.Queue(queueName + "-poison");
        await EventuallyAsync(async () => (await PeekAllAsync(poison)).Length == 1, "the message is in the poison queue");

        invoker.Invocations.Should().BeEmpty();
        (await CountAsync(queue)).Should().Be(0);
    }

    [Fact]
    public async Task Listen_BatchSize_CapsInFlightInvocations()
    {
        var queueName = AzuriteFixture.NewQueueName();
        for (var i = 0; i < 6; i++)
        {
            await SendRawAsync(azurite, queueName, Base64($"m{i}"));
        }

        using var release = new SemaphoreSlim(0);
        var invoker = new FakeInvoker { Handler = async (_, token) => { await release.WaitAsync(token); return true; } };
        var settings = FastSettings with { BatchSize = 2, NewBatchThreshold = 0 };

        var (listeners, listener) = Start(azurite, Function(queueName), invoker, settings);
        await using var _ = listeners;
        await invoker.NextAsync();
        await invoker.NextAsync();

        (await invoker.NoneWithinAsync(TimeSpan.FromMilliseconds(600))).Should().BeTrue("no third message may start");
        listener.InFlightCount.Should().Be(2);
        release.Release(6);
        await EventuallyAsync(() => Task.FromResult(invoker.Invocations.Count == 6), "all six ran");
        invoker.MaxConcurrent.Should().Be(2);
    }

    [Fact]
    public async Task Listen_InFlightDropsToNewBatchThreshold_FetchesNextBatch()
    {
        var queueName = AzuriteFixture.NewQueueName();
        for (var i = 0; i < 4; i++)
        {
            await SendRawAsync(azurite, queueName, Base64($"m{i}"));
        }

        // Each invocation runs until the test completes its message's gate.
        var gates = new ConcurrentDictionary<string, TaskCompletionSource>();
        TaskCompletionSource Gate(string message) => gates.GetOrAdd(message, _ => new TaskCompletionSource());
        var invoker = new FakeInvoker
        {
            Handler = async (invocation, token) =>
            {
                await Gate(invocation.Data.String).Task.WaitAsync(token);
                return true;
            },
        };
        var settings = FastSettings with { BatchSize = 2, NewBatchThreshold = 1 };

        var (listeners, listener) = Start(azurite, Function(queueName), invoker, settings);
        await using var _ = listeners;
        var first = await invoker.NextAsync();
        await invoker.NextAsync();
        (await invoker.NoneWithinAsync(TimeSpan.FromMilliseconds(500))).Should().BeTrue("2 in flight is above the threshold of 1");

        Gate(first.Data.String).SetResult();
        await invoker.NextAsync();
        await invoker.NextAsync();

        listener.InFlightCount.Should().Be(3, "one of the first batch and the whole second batch: batch size + threshold");
        foreach (var gate in gates.Values)
        {
            gate.TrySetResult();
        }
    }

    [Fact]
    public async Task Listen_EmptyQueue_BacksOffExponentiallyAndResetsWhenAMessageArrives()
    {
        var queueName = AzuriteFixture.NewQueueName();
        var queue = azurite.Queue(queueName);
        await queue.CreateAsync();
        var invoker = new FakeInvoker();
        // Without jitter: waits of 100, 200, 400, 800, 1000, 1000 ms.
        var tuning = new QueueListenerTuning { NextUnitRandom = () => 0.5 };
        var settings = FastSettings with { MaxPollingInterval = TimeSpan.FromSeconds(1) };

        var (listeners, listener) = Start(azurite, Function(queueName), invoker, settings, tuning: tuning);
        await using var _ = listeners;
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var idlePolls = listener.PollCount;
        await queue.SendMessageAsync(Base64("wake up"));
        await invoker.NextAsync(TimeSpan.FromSeconds(3));
        var pollsAtMessage = listener.PollCount;
        await Task.Delay(TimeSpan.FromSeconds(1));

        // Polls at 0, 0.1, 0.3, 0.7, 1.5 and 2.5 s: 2.5 s of fixed 100 ms polling would have made 25.
        idlePolls.Should().BeInRange(3, 8);
        // After the reset the waits start at 100 ms again (100 + 200 + 400): at least 3 polls in 1 s; at the cap, 1.
        (listener.PollCount - pollsAtMessage).Should().BeGreaterThanOrEqualTo(3);
        azurite.Logs.Collector.GetSnapshot().Should().Contain(record => record.Id.Name == "QueueBackoffReset");
    }

    [Fact]
    public async Task Listen_QueueMissing_KeepsPollingWithoutErrorAndServesItOnceCreated()
    {
        var queueName = AzuriteFixture.NewQueueName();
        var invoker = new FakeInvoker();

        var (listeners, listener) = Start(azurite, Function(queueName), invoker);
        await using var _ = listeners;
        await EventuallyAsync(() => Task.FromResult(listener.PollCount >= 2), "the listener polled the missing queue");
        await SendRawAsync(azurite, queueName, Base64("late"));
        var invocation = await invoker.NextAsync();

        invocation.Data.String.Should().Be("late");
        azurite.Logs.Collector.GetSnapshot().Should().NotContain(record => record.Id.Name == "QueuePollFailed"
            && record.Message.Contains(queueName, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Listen_OutputBindingOfThisHostWritesToTheQueue_WakesTheListenerEarly()
    {
        var queueName = AzuriteFixture.NewQueueName();
        await azurite.Queue(queueName).CreateAsync();
        var wakeSignals = new QueueWakeSignals();
        var invoker = new FakeInvoker();
        // An idle listener whose back-off has reached 5 s; without the wake-up it would not poll again for seconds.
        var settings = FastSettings with { MaxPollingInterval = TimeSpan.FromSeconds(5) };
        var tuning = new QueueListenerTuning { NextUnitRandom = () => 0.5 };
        var (listeners, listener) = Start(azurite, Function(queueName), invoker, settings, tuning: tuning,
            wakeSignals: wakeSignals);
        await using var _ = listeners;
        await EventuallyAsync(() => Task.FromResult(listener.PollCount >= 6), "the back-off reached its cap", TimeSpan.FromSeconds(15));
        var writer = new QueueOutputWriter(azurite.Connections, azurite.Settings, QueueHostSettings.Default, wakeSignals,
            azurite.Loggers.CreateLogger<QueueOutputWriter>());
        var producer = TestFunctions.Create("Producer",
            "{\"name\":\"$return\",\"type\":\"queue\",\"direction\":\"Out\",\"queueName\":\"" + queueName + "\"}");
        var written = DateTimeOffset.UtcNow;

        await writer.WriteAsync(producer, Returning(producer, new() { String = "made here" }), CancellationToken.None);
        var invocation = await invoker.NextAsync();

        invocation.Data.String.Should().Be("made here");
        (invocation.StartedAt - written).Should().BeLessThan(TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Listen_FunctionRunsLongerThanHalfTheVisibility_RenewsItSoTheMessageIsNotDeliveredTwice()
    {
        var queueName = AzuriteFixture.NewQueueName();
        var queue = await SendRawAsync(azurite, queueName, Base64("slow"));
        var invoker = new FakeInvoker { Handler = async (_, token) => { await Task.Delay(TimeSpan.FromSeconds(3.5), token); return true; } };
        // A 2-second receive visibility: renewed every second while the 3.5-second function runs.
        var tuning = new QueueListenerTuning { ReceiveVisibilityTimeout = TimeSpan.FromSeconds(2) };

        var (listeners, listener) = Start(azurite, Function(queueName), invoker, tuning: tuning);
        await using var _ = listeners;
        await invoker.NextAsync();
        await EventuallyAsync(async () => await CountAsync(queue) == 0, "the message is deleted", TimeSpan.FromSeconds(10));

        invoker.Invocations.Should().ContainSingle("a renewed message never became visible to the next poll");
        listener.RenewalCount.Should().BeGreaterThanOrEqualTo(2);
    }

    [Fact]
    public async Task Listen_MessageEncodingNone_PassesWireTextAsIs()
    {
        var queueName = AzuriteFixture.NewQueueName();
        await SendRawAsync(azurite, queueName, "plain text, not base64");
        var invoker = new FakeInvoker();
        var settings = FastSettings with { MessageEncoding = QueueMessageBodyEncoding.None };

        var (listeners, _) = Start(azurite, Function(queueName), invoker, settings);
        await using var _ = listeners;
        var invocation = await invoker.NextAsync();

        invocation.Data.String.Should().Be("plain text, not base64");
    }

    [Fact]
    public async Task Listen_PocoParameterAndMessageNotJson_CountsAsFailureWithoutInvoking()
    {
        var queueName = AzuriteFixture.NewQueueName();
        await SendRawAsync(azurite, queueName, Base64("not json"));
        var invoker = new FakeInvoker();
        var settings = FastSettings with { MaxDequeueCount = 1 };

        var (listeners, _) = Start(azurite, Function(queueName, dataType: ""), invoker, settings);
        await using var _ = listeners;
        var poison = azurite.Queue(queueName + "-poison");
        await EventuallyAsync(async () => (await PeekAllAsync(poison)).Length == 1, "the message is in the poison queue");

        invoker.Invocations.Should().BeEmpty();
        azurite.Logs.Collector.GetSnapshot().Should().Contain(record => record.Id.Name == "QueueMessageBindingFailed");
    }

    [Fact]
    public async Task Listen_PocoParameterAndJsonMessage_SendsJson()
    {
        var queueName = AzuriteFixture.NewQueueName();
        await SendRawAsync(azurite, queueName, Base64("{\"runId\":\"r1\",\"step\":2}"));
        var invoker = new FakeInvoker();

        var (listeners, _) = Start(azurite, Function(queueName, dataType: ""), invoker);
        await using var _ = listeners;
        var invocation = await invoker.NextAsync();

        invocation.Data.Json.Should().Be("{\"runId\":\"r1\",\"step\":2}");
    }

    [Fact]
    public async Task Listen_BinaryParameter_SendsDecodedBytes()
    {
        var queueName = AzuriteFixture.NewQueueName();
        byte[] body = [0, 1, 2, 250, 255];
        await SendRawAsync(azurite, queueName, Convert.ToBase64String(body));
        var invoker = new FakeInvoker();

        var (listeners, _) = Start(azurite, Function(queueName, dataType: "Binary"), invoker);
        await using var _ = listeners;
        var invocation = await invoker.NextAsync();

        invocation.Data.Bytes.ToByteArray().Should().Equal(body);
        invocation.QueueTrigger.Should().BeNull("a body that is not UTF-8 has no QueueTrigger text");
    }

    [Fact]
    public async Task Listen_QueueNameFromSetting_ListensToTheResolvedQueue()
    {
        var queueName = AzuriteFixture.NewQueueName();
        await SendRawAsync(azurite, queueName, Base64("resolved"));
        var invoker = new FakeInvoker();
        var settings = azurite.SettingsWith(new Dictionary<string, string> { ["Steps__QueueName"] = queueName.ToUpperInvariant() });

        var (listeners, listener) = Start(azurite, Function("%Steps:QueueName%"), invoker, appSettings: settings);
        await using var _ = listeners;
        var invocation = await invoker.NextAsync();

        listener.QueueName.Should().Be(queueName, "the resolved name is lower-cased as queue names must be");
        invocation.Data.String.Should().Be("resolved");
    }

    [Fact]
    public async Task Listen_PoisonQueueFunctionFails_LeavesMessageInvisibleInsteadOfRetryingAtOnce()
    {
        var queueName = AzuriteFixture.NewQueueName() + "-poison";
        var queue = await SendRawAsync(azurite, queueName, Base64("already poison"));
        var invoker = new FakeInvoker { Handler = (_, _) => Task.FromResult(false) };
        var settings = FastSettings with { MaxDequeueCount = 1 };

        var (listeners, _) = Start(azurite, Function(queueName, name: "StepPoison"), invoker, settings);
        await using var _ = listeners;
        await invoker.NextAsync();

        (await invoker.NoneWithinAsync(TimeSpan.FromMilliseconds(800))).Should().BeTrue();
        (await CountAsync(queue)).Should().Be(1, "the message stays, invisible, in its queue");
        (await PeekAllAsync(queue)).Should().BeEmpty();
        (await azurite.Queue(queueName + "-poison").ExistsAsync()).Value.Should().BeFalse();
    }

    [Fact]
    public async Task Listen_Message_NeverLogsItsBodyAtInformationOrAbove()
    {
        var queueName = AzuriteFixture.NewQueueName();
        const string Body = "secret-looking-body-7f3a";
        await SendRawAsync(azurite, queueName, Base64(Body));
        await SendRawAsync(azurite, queueName, Body);
        var invoker = new FakeInvoker { Handler = (_, _) => Task.FromResult(false) };
        var settings = FastSettings with { MaxDequeueCount = 1 };

        var (listeners, _) = Start(azurite, Function(queueName), invoker, settings);
        await using (listeners)
        {
            var poison = azurite.Queue(queueName + "-poison");
            await EventuallyAsync(async () => (await PeekAllAsync(poison)).Length == 2, "both messages are in the poison queue");
        }

        azurite.Logs.Collector.GetSnapshot()
            .Where(record => record.Level >= Microsoft.Extensions.Logging.LogLevel.Information)
            .Should().NotContain(record => record.Message.Contains(Body, StringComparison.Ordinal)
                || record.Message.Contains(Base64(Body), StringComparison.Ordinal));
    }
}
