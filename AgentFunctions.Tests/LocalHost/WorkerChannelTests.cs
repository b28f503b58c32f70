using System.Threading.Channels;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Protocol;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>The channel against an in-memory stream that plays the worker's part.</summary>
public sealed class WorkerChannelTests : IAsyncLifetime
{
    private const string WorkerId = "worker-1";

    private readonly InMemoryStream _stream = new();
    private readonly WorkerChannel _channel =
        new(WorkerId, new RpcLogForwarder(NullLoggerFactory.Instance), NullLogger<WorkerChannel>.Instance);

    private Task _running = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _running = _channel.RunStreamAsync(_stream, _stream, CancellationToken.None);
        await _stream.FromWorker(new StreamingMessage { StartStream = new StartStream { WorkerId = WorkerId } });
        await _channel.Connected.WaitAsync(TimeSpan.FromSeconds(5));
    }

    public async Task DisposeAsync()
    {
        _stream.EndFromWorker();
        await _running.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task LoadFunctionAsync_ResponsesOutOfOrder_EachLoadGetsItsOwnResponse()
    {
        var first = _channel.LoadFunctionAsync(new() { FunctionId = "f1", Name = "One" }, CancellationToken.None);
        var second = _channel.LoadFunctionAsync(new() { FunctionId = "f2", Name = "Two" }, CancellationToken.None);
        (await _stream.ToWorker()).FunctionLoadRequest.FunctionId.Should().Be("f1");
        (await _stream.ToWorker()).FunctionLoadRequest.Metadata.Name.Should().Be("Two");

        await _stream.FromWorker(LoadResponse("f2", "second"));
        await _stream.FromWorker(LoadResponse("f1", "first"));

        (await first.WaitAsync(TimeSpan.FromSeconds(5))).Result.Result.Should().Be("first");
        (await second.WaitAsync(TimeSpan.FromSeconds(5))).Result.Result.Should().Be("second");
    }

    [Fact]
    public async Task InvokeAsync_ContentlessMessageAndLogArriveFirst_StillGetsItsResponse()
    {
        var invocation = _channel.InvokeAsync(RpcMessages.Invocation("inv-1", "f1", [], []), CancellationToken.None);
        var sent = await _stream.ToWorker();

        await _stream.FromWorker(new StreamingMessage());
        await _stream.FromWorker(new StreamingMessage { RpcLog = new RpcLog { Message = "hello", InvocationId = "inv-1" } });
        await _stream.FromWorker(new StreamingMessage { InvocationResponse = new() { InvocationId = "inv-1" } });

        sent.InvocationRequest.TraceContext.Should().NotBeNull("the worker dereferences it without a check");
        (await invocation.WaitAsync(TimeSpan.FromSeconds(5))).InvocationId.Should().Be("inv-1");
    }

    [Fact]
    public async Task InvokeAsync_CallerCancels_SendsInvocationCancel()
    {
        using var cancellation = new CancellationTokenSource();
        var invocation = _channel.InvokeAsync(RpcMessages.Invocation("inv-2", "f1", [], []), cancellation.Token);
        await _stream.ToWorker();

        await cancellation.CancelAsync();

        await invocation.Invoking(task => task).Should().ThrowAsync<OperationCanceledException>();
        (await _stream.ToWorker()).InvocationCancel.InvocationId.Should().Be("inv-2");
    }

    [Fact]
    public async Task InvokeAsync_WorkerStreamEnds_FailsWithHostException()
    {
        var invocation = _channel.InvokeAsync(RpcMessages.Invocation("inv-3", "f1", [], []), CancellationToken.None);
        await _stream.ToWorker();

        _stream.EndFromWorker();

        await invocation.Invoking(task => task).Should().ThrowAsync<FunctionsHostException>()
            .WithMessage("*stream has closed*");
        await _channel.Disconnected.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task RunStreamAsync_StreamFromAnotherWorker_IsRejected()
    {
        var other = new WorkerChannel(
            "expected", new RpcLogForwarder(NullLoggerFactory.Instance), NullLogger<WorkerChannel>.Instance);
        var stream = new InMemoryStream();
        await stream.FromWorker(new StreamingMessage { StartStream = new StartStream { WorkerId = "someone-else" } });

        await other.RunStreamAsync(stream, stream, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        other.Connected.IsCompleted.Should().BeFalse();
    }

    private static StreamingMessage LoadResponse(string functionId, string marker) => new()
    {
        FunctionLoadResponse = new FunctionLoadResponse
        {
            FunctionId = functionId,
            Result = new StatusResult { Status = StatusResult.Types.Status.Success, Result = marker },
        },
    };

    private sealed class InMemoryStream : IAsyncStreamReader<StreamingMessage>, IServerStreamWriter<StreamingMessage>
    {
        private readonly Channel<StreamingMessage> _fromWorker = Channel.CreateUnbounded<StreamingMessage>();
        private readonly Channel<StreamingMessage> _toWorker = Channel.CreateUnbounded<StreamingMessage>();

        public StreamingMessage Current { get; private set; } = null!;

        public WriteOptions? WriteOptions { get; set; }

        public ValueTask FromWorker(StreamingMessage message) => _fromWorker.Writer.WriteAsync(message);

        public void EndFromWorker() => _fromWorker.Writer.TryComplete();

        public Task<StreamingMessage> ToWorker() => _toWorker.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (!await _fromWorker.Reader.WaitToReadAsync(cancellationToken))
            {
                return false;
            }

            Current = await _fromWorker.Reader.ReadAsync(cancellationToken);
            return true;
        }

        public Task WriteAsync(StreamingMessage message) => _toWorker.Writer.WriteAsync(message).AsTask();
    }
}
