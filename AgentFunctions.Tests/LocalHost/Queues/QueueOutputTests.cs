using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Protocol;
using AgentFunctions.DevHost.Functions.Queues;
using AgentFunctions.Tests.LocalHost.Storage;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using static AgentFunctions.Tests.LocalHost.Queues.QueueTestSupport;

namespace AgentFunctions.Tests.LocalHost.Queues;

/// <summary>Queue output bindings written after an invocation, against a real Azurite: the fan-out rules one by one.</summary>
public sealed class QueueOutputTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Write_JsonArray_OneMessagePerElement()
    {
        var (function, queueName) = Producer();

        await WriteAsync(function, new TypedData { Json = """["a",{"step":2},3]""" });

        (await WireTextsAsync(queueName)).Should().Equal(Base64("a"), Base64("""{"step":2}"""), Base64("3"));
    }

    [Fact]
    public async Task Write_StringHoldingJsonArray_IsSplitToo()
    {
        var (function, queueName) = Producer();

        await WriteAsync(function, new TypedData { String = """ ["x","y"] """ });

        (await WireTextsAsync(queueName)).Should().Equal(Base64("x"), Base64("y"));
    }

    [Fact]
    public async Task Write_JsonObject_OneMessageWithTheObjectText()
    {
        var (function, queueName) = Producer();

        await WriteAsync(function, new TypedData { Json = """{"runId":"r1","step":1}""" });

        (await WireTextsAsync(queueName)).Should().Equal(Base64("""{"runId":"r1","step":1}"""));
    }

    [Fact]
    public async Task Write_PlainString_OneMessage()
    {
        var (function, queueName) = Producer();

        await WriteAsync(function, new TypedData { String = "[not json, just brackets" });

        (await WireTextsAsync(queueName)).Should().Equal(Base64("[not json, just brackets"));
    }

    [Fact]
    public async Task Write_Bytes_OneMessageWithTheBytes()
    {
        var (function, queueName) = Producer();
        byte[] body = [1, 2, 3, 254];

        await WriteAsync(function, new TypedData { Bytes = ByteString.CopyFrom(body) });

        (await WireTextsAsync(queueName)).Should().Equal(Convert.ToBase64String(body));
    }

    [Fact]
    public async Task Write_MessageEncodingNone_WritesTextAsIs()
    {
        var (function, queueName) = Producer();

        await WriteAsync(function, new TypedData { String = "as is" },
            settings: QueueHostSettings.Default with { MessageEncoding = QueueMessageBodyEncoding.None });

        (await WireTextsAsync(queueName)).Should().Equal("as is");
    }

    [Fact]
    public async Task Write_NamedOutputBesideHttpResult_WritesOnlyTheQueueOutput()
    {
        var queueName = AzuriteFixture.NewQueueName();
        var function = TestFunctions.Create("StartRun", TestFunctions.HealthTrigger,
            """{"name":"HttpResponse","type":"http","direction":"Out"}""",
            "{\"name\":\"Step\",\"type\":\"queue\",\"direction\":\"Out\",\"queueName\":\"" + queueName + "\"}");
        var result = Returning(function, null,
            ("HttpResponse", new TypedData { Http = new RpcHttp { StatusCode = "202" } }),
            ("Step", new TypedData { Json = """{"runId":"r9"}""" }));

        await CreateWriter().WriteAsync(function, result, CancellationToken.None);

        (await WireTextsAsync(queueName)).Should().Equal(Base64("""{"runId":"r9"}"""));
    }

    [Fact]
    public async Task Write_QueueNameFromSetting_CreatesTheResolvedQueue()
    {
        var queueName = AzuriteFixture.NewQueueName();
        var function = TestFunctions.Create("Producer", TestFunctions.HealthTrigger,
            """{"name":"$return","type":"queue","direction":"Out","queueName":"%RunSteps:Queue%"}""");
        var settings = azurite.SettingsWith(new Dictionary<string, string> { ["RunSteps:Queue"] = queueName });
        var writer = new QueueOutputWriter(azurite.Connections, settings, QueueHostSettings.Default, null,
            azurite.Loggers.CreateLogger<QueueOutputWriter>());

        await writer.WriteAsync(function, Returning(function, new TypedData { String = "one" }), CancellationToken.None);

        (await WireTextsAsync(queueName)).Should().Equal(Base64("one"));
    }

    [Fact]
    public async Task Invoke_FunctionSucceeds_OutputsAreWrittenAfterItReturns()
    {
        var (function, queueName) = Producer();
        var inner = new FakeInvoker { Response = _ => new InvocationResponse { ReturnValue = new TypedData { String = "after" } } };
        var queueSeenDuringRun = true;
        inner.Handler = async (_, token) =>
        {
            queueSeenDuringRun = await azurite.Queue(queueName).ExistsAsync(token);
            return true;
        };
        var invoker = new OutputBindingInvoker(inner, CreateWriter(), azurite.Loggers.CreateLogger<OutputBindingInvoker>());

        var result = await invoker.InvokeAsync(function, [], new Dictionary<string, TypedData>(), CancellationToken.None);

        result.Succeeded.Should().BeTrue();
        queueSeenDuringRun.Should().BeFalse("nothing is written while the function runs");
        (await WireTextsAsync(queueName)).Should().Equal(Base64("after"));
    }

    [Fact]
    public async Task Invoke_FunctionFails_WritesNothing()
    {
        var (function, queueName) = Producer();
        var inner = new FakeInvoker
        {
            Handler = (_, _) => Task.FromResult(false),
            Response = _ => new InvocationResponse { ReturnValue = new TypedData { String = "never" } },
        };
        var invoker = new OutputBindingInvoker(inner, CreateWriter(), azurite.Loggers.CreateLogger<OutputBindingInvoker>());

        var result = await invoker.InvokeAsync(function, [], new Dictionary<string, TypedData>(), CancellationToken.None);

        result.Succeeded.Should().BeFalse();
        (await azurite.Queue(queueName).ExistsAsync()).Value.Should().BeFalse();
    }

    [Fact]
    public async Task Invoke_OutputWriteFails_ReportsTheInvocationFailed()
    {
        var function = TestFunctions.Create("Producer", TestFunctions.HealthTrigger,
            """{"name":"$return","type":"queue","direction":"Out","queueName":"q","Connection":"Missing"}""");
        var inner = new FakeInvoker { Response = _ => new InvocationResponse { ReturnValue = new TypedData { String = "x" } } };
        var invoker = new OutputBindingInvoker(inner, CreateWriter(), azurite.Loggers.CreateLogger<OutputBindingInvoker>());

        var result = await invoker.InvokeAsync(function, [], new Dictionary<string, TypedData>(), CancellationToken.None);

        result.Status.Should().Be(InvocationStatus.Failed);
        result.ExceptionMessage.Should().Contain("queue output");
        azurite.Logs.Collector.GetSnapshot().Should().Contain(record => record.Id.Name == "QueueOutputFailed");
    }

    private static (LoadedFunction Function, string QueueName) Producer()
    {
        var queueName = AzuriteFixture.NewQueueName();
        var function = TestFunctions.Create("Producer", TestFunctions.HealthTrigger,
            "{\"name\":\"$return\",\"type\":\"queue\",\"direction\":\"Out\",\"queueName\":\"" + queueName + "\"}");
        return (function, queueName);
    }

    private QueueOutputWriter CreateWriter(QueueHostSettings? settings = null) =>
        new(azurite.Connections, azurite.Settings, settings ?? QueueHostSettings.Default, null,
            azurite.Loggers.CreateLogger<QueueOutputWriter>());

    private Task WriteAsync(LoadedFunction function, TypedData returnValue, QueueHostSettings? settings = null) =>
        CreateWriter(settings).WriteAsync(function, Returning(function, returnValue), CancellationToken.None);

    private async Task<string[]> WireTextsAsync(string queueName) =>
        [.. (await PeekAllAsync(azurite.Queue(queueName))).Select(message => message.MessageText)];
}
