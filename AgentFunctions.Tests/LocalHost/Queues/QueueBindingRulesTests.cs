using System.Text;
using System.Text.Json;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Metadata;
using AgentFunctions.DevHost.Functions.Queues;
using AgentFunctions.DevHost.Functions.Storage;
using Azure.Storage.Queues.Models;

namespace AgentFunctions.Tests.LocalHost.Queues;

/// <summary>The queue trigger's settings, binding shapes and connection rules that need no storage.</summary>
public sealed class QueueBindingRulesTests
{
    private static readonly DateTimeOffset Inserted = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public void Parse_NoQueuesSection_HasTheExtensionDefaults()
    {
        var settings = HostJsonSettings.Parse("""{"version":"2.0"}""").Queues;

        settings.BatchSize.Should().Be(16);
        settings.NewBatchThreshold.Should().BeNull();
        settings.MaxPollingInterval.Should().Be(TimeSpan.FromMinutes(1));
        settings.VisibilityTimeout.Should().Be(TimeSpan.Zero);
        settings.MaxDequeueCount.Should().Be(5);
        settings.MessageEncoding.Should().Be(QueueMessageBodyEncoding.Base64);
    }

    [Fact]
    public void Parse_QueuesSection_ReadsEverySetting()
    {
        var settings = HostJsonSettings.Parse("""
            {"extensions":{"queues":{"batchSize":4,"newBatchThreshold":1,"maxPollingInterval":"00:00:02",
              "visibilityTimeout":"00:00:30","maxDequeueCount":2,"messageEncoding":"none"}}}
            """).Queues;

        settings.Should().Be(new QueueHostSettings
        {
            BatchSize = 4,
            NewBatchThreshold = 1,
            MaxPollingInterval = TimeSpan.FromSeconds(2),
            VisibilityTimeout = TimeSpan.FromSeconds(30),
            MaxDequeueCount = 2,
            MessageEncoding = QueueMessageBodyEncoding.None,
        });
    }

    [Theory]
    [InlineData("""{"batchSize":33}""", "extensions.queues.batchSize")]
    [InlineData("""{"batchSize":0}""", "extensions.queues.batchSize")]
    [InlineData("""{"maxPollingInterval":"00:00:00.050"}""", "extensions.queues.maxPollingInterval")]
    [InlineData("""{"messageEncoding":"utf16"}""", "extensions.queues.messageEncoding")]
    [InlineData("""{"maxDequeueCount":0}""", "extensions.queues.maxDequeueCount")]
    public void Parse_OutOfRangeSetting_FailsNamingTheKey(string queues, string key)
    {
        var parse = () => HostJsonSettings.Parse("{\"extensions\":{\"queues\":" + queues + "}}");

        parse.Should().Throw<FunctionsHostException>().WithMessage($"*{key}*");
    }

    [Theory]
    [InlineData(16, null, 2, 16)]
    [InlineData(16, "Dynamic", 2, 8)]
    [InlineData(1, null, 4, 0)]
    public void GetNewBatchThreshold_NotConfigured_IsHalfTheBatchTimesProcessors(int batchSize, string? sku, int processors,
        int expected)
    {
        var settings = new QueueHostSettings { BatchSize = batchSize };
        var appSettings = new AppSettings(sku is null ? [] : [new("WEBSITE_SKU", sku)]);

        settings.GetNewBatchThreshold(appSettings, processors).Should().Be(expected);
    }

    [Fact]
    public void NextDelay_EmptyPolls_DoublesFrom100MillisecondsUpToTheMaximum()
    {
        var backoff = new PollingBackoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), () => 0.5);

        var delays = Enumerable.Range(0, 6).Select(_ => backoff.NextDelay().TotalMilliseconds).ToList();

        delays.Should().Equal(100, 200, 400, 800, 1000, 1000);
    }

    [Fact]
    public void NextDelay_AfterReset_StartsAgainAt100Milliseconds()
    {
        var backoff = new PollingBackoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), () => 0.5);
        backoff.NextDelay();
        backoff.NextDelay();

        var wasBackingOff = backoff.Reset();

        wasBackingOff.Should().BeTrue();
        backoff.NextDelay().Should().Be(TimeSpan.FromMilliseconds(100));
    }

    [Theory]
    [InlineData(0.0, 320)]
    [InlineData(0.999999, 480)]
    public void NextDelay_Randomized_StaysWithinTwentyPercent(double random, double expectedMilliseconds)
    {
        var backoff = new PollingBackoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1), () => random);
        backoff.NextDelay();
        backoff.NextDelay();

        backoff.NextDelay().TotalMilliseconds.Should().BeApproximately(expectedMilliseconds, 0.01);
    }

    [Theory]
    [InlineData("Steps__Queue")]
    [InlineData("Steps:Queue")]
    public void Resolve_PercentSetting_FindsEitherSpelling(string settingName)
    {
        var settings = new AppSettings([new(settingName, "Agent-Run-Steps")]);
        var function = QueueTestSupport.Function("%Steps:Queue%");

        var binding = QueueTriggerBinding.Create(function, settings);

        binding.QueueName.Should().Be("agent-run-steps");
    }

    [Fact]
    public void Resolve_SettingNotSet_FailsNamingTheSettingAndFunction()
    {
        var create = () => QueueTriggerBinding.Create(QueueTestSupport.Function("%Steps:Queue%"), AppSettings.Empty);

        create.Should().Throw<FunctionsHostException>().WithMessage("*ProcessStep*'Steps:Queue'*");
    }

    [Theory]
    [InlineData("String", nameof(QueueInputShape.String))]
    [InlineData("Binary", nameof(QueueInputShape.Bytes))]
    [InlineData("", nameof(QueueInputShape.Json))]
    public void Create_DataType_PicksTheInputShape(string dataType, string expected)
    {
        var binding = QueueTriggerBinding.Create(QueueTestSupport.Function("steps", dataType), AppSettings.Empty);

        binding.Shape.ToString().Should().Be(expected);
    }

    [Fact]
    public void Create_SupportsDeferredBinding_UsesModelBindingData()
    {
        var function = QueueTestSupport.Function("steps", "", extra: "\"properties\":{\"SupportsDeferredBinding\":\"True\"}");

        QueueTriggerBinding.Create(function, AppSettings.Empty).Shape.Should().Be(QueueInputShape.ModelBindingData);
    }

    [Fact]
    public void Create_ConnectionAndPoisonQueue_AreReadAsTheHostReadsThem()
    {
        var function = QueueTestSupport.Function("agent-run-steps", extra: "\"Connection\":\"RunStateStorage\"");

        var binding = QueueTriggerBinding.Create(function, AppSettings.Empty);

        binding.ConnectionName.Should().Be("RunStateStorage");
        binding.PoisonQueueName.Should().Be("agent-run-steps-poison");
        (binding with { QueueName = "agent-run-steps-poison" }).PoisonQueueName.Should().BeNull();
        (binding with { QueueName = new string('a', 60) }).PoisonQueueName.Should().BeNull("the name would pass 63 characters");
    }

    [Fact]
    public void Create_InvalidQueueName_FailsNamingTheFunction()
    {
        var create = () => QueueTriggerBinding.Create(QueueTestSupport.Function("bad_name"), AppSettings.Empty);

        create.Should().Throw<FunctionsHostException>().WithMessage("*ProcessStep*bad_name*");
    }

    [Fact]
    public void Build_AnyMessage_TriggerMetadataHasTheHostsKeysAndKinds()
    {
        var input = Build(QueueInputShape.String, "hello", dequeueCount: 3);

        var metadata = input.TriggerMetadata;
        metadata["QueueTrigger"].String.Should().Be("hello");
        metadata["DequeueCount"].Json.Should().Be("3");
        metadata["Id"].String.Should().Be("id-1");
        metadata["PopReceipt"].String.Should().Be("receipt-1");
        metadata["InsertionTime"].Json.Should().Be("\"2026-01-02T03:04:05+00:00\"");
        metadata["ExpirationTime"].Json.Should().Be("\"2026-01-09T03:04:05+00:00\"");
        metadata["NextVisibleTime"].Json.Should().Be("\"2026-01-02T03:14:05+00:00\"");
    }

    [Fact]
    public void Build_ModelBindingData_CarriesTheQueueMessageAsJson()
    {
        var input = Build(QueueInputShape.ModelBindingData, "payload", dequeueCount: 2);

        var data = input.Input!.Data.ModelBindingData;
        data.Source.Should().Be("AzureStorageQueues");
        data.ContentType.Should().Be("application/json");
        data.Version.Should().Be("1.0");
        using var content = JsonDocument.Parse(data.Content.Memory);
        content.RootElement.GetProperty("MessageText").GetString().Should().Be("payload");
        content.RootElement.GetProperty("MessageId").GetString().Should().Be("id-1");
        content.RootElement.GetProperty("DequeueCount").GetInt64().Should().Be(2);
    }

    [Fact]
    public void Build_JsonShapeWithJson_SendsTypedDataJson()
    {
        var input = Build(QueueInputShape.Json, """{"a":1}""");

        input.BindingError.Should().BeNull();
        input.Input!.Data.Json.Should().Be("""{"a":1}""");
    }

    [Fact]
    public void GetQueueServiceClient_EndpointOffThisMachine_IsRefused()
    {
        using var connections = new StorageConnections(new AppSettings(
        [
            new("AzureWebJobsStorage__queueServiceUri", "https://account.queue.core.windows.net"),
            new("AzureWebJobsStorage__credential", "managedidentity"),
        ]));

        var get = () => connections.GetQueueServiceClient(null);

        get.Should().Throw<FunctionsHostException>().WithMessage("*account.queue.core.windows.net*only to storage on this machine*");
    }

    [Fact]
    public void GetQueueServiceClient_ConnectionNotSet_NamesTheSettingsToAdd()
    {
        using var connections = new StorageConnections(AppSettings.Empty);

        var get = () => connections.GetQueueServiceClient("RunStateStorage");

        get.Should().Throw<FunctionsHostException>()
            .WithMessage("*RunStateStorage__queueServiceUri*RunStateStorage__credential=managedidentity*");
    }

    [Fact]
    public void GetQueueServiceClient_DevelopmentStorageConnectionString_PointsAtLocalAzurite()
    {
        using var connections = new StorageConnections(new AppSettings([new("AzureWebJobsStorage", "UseDevelopmentStorage=true")]));

        var client = connections.GetQueueServiceClient(null);

        client.Uri.IsLoopback.Should().BeTrue();
        client.AccountName.Should().Be("devstoreaccount1");
    }

    [Fact]
    public void GetQueueServiceClient_IdentityConnectionWithoutIdentityEndpoint_SaysWhatIsMissing()
    {
        using var connections = new StorageConnections(new AppSettings(
            [new("AzureWebJobsStorage__queueServiceUri", "https://127.0.0.1:10001/devstoreaccount1")]));

        var get = () => connections.GetQueueServiceClient(null);

        get.Should().Throw<FunctionsHostException>().WithMessage("*IDENTITY_ENDPOINT and IDENTITY_HEADER*");
    }

    [Fact]
    public void Start_FunctionDisabledBySetting_StartsNoListener()
    {
        var settings = new AppSettings([new("AzureWebJobs.ProcessStep.Disabled", "true")]);
        var function = QueueTestSupport.Function("steps");
        using var connections = new StorageConnections(settings);
        var context = new TriggerListenerContext(settings, QueueHostSettings.Default, new FakeInvoker(), connections,
            new QueueWakeSignals(), null, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, TimeProvider.System);

        var listeners = TriggerListeners.Start([function], context);

        listeners.QueueListeners.Should().BeEmpty();
        listeners.FailedFunctions.Should().BeEmpty("a disabled function is not even resolved");
    }

    [Theory]
    [InlineData("AzureWebJobs.ProcessStep.Disabled", "true", true)]
    [InlineData("AzureWebJobs__ProcessStep__Disabled", "1", true)]
    [InlineData("AzureWebJobs.ProcessStep.Disabled", "false", false)]
    [InlineData("AzureWebJobs.OtherFunction.Disabled", "true", false)]
    public void IsFunctionDisabled_Setting_IsHonoured(string name, string value, bool expected) =>
        new AppSettings([new(name, value)]).IsFunctionDisabled("ProcessStep").Should().Be(expected);

    [Fact]
    public async Task Start_ListenerCannotStart_OtherFunctionsStillStart()
    {
        var settings = AppSettings.Empty;
        using var connections = new StorageConnections(settings);
        var context = new TriggerListenerContext(settings, QueueHostSettings.Default, new FakeInvoker(), connections,
            new QueueWakeSignals(), null, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, TimeProvider.System);
        var timer = TestFunctions.Create("Tick", """{"name":"timer","type":"timerTrigger","direction":"In","schedule":"0 0 * * * *"}""");

        var listeners = TriggerListeners.Start([QueueTestSupport.Function("steps"), timer], context);

        listeners.FailedFunctions.Should().Equal("ProcessStep");
        listeners.TimerListeners.Should().ContainSingle();
        await listeners.StopAsync(TimeSpan.Zero);
    }

    private static QueueInvocationInput Build(QueueInputShape shape, string text, long dequeueCount = 1)
    {
        var binding = new QueueTriggerBinding("message", "steps", null, shape);
        var message = QueuesModelFactory.QueueMessage("id-1", "receipt-1", new BinaryData(text), dequeueCount,
            nextVisibleOn: Inserted.AddMinutes(10), insertedOn: Inserted, expiresOn: Inserted.AddDays(7));
        return QueueMessageInput.Build(binding, message, Encoding.UTF8.GetBytes(text), DateTimeOffset.UnixEpoch);
    }
}
