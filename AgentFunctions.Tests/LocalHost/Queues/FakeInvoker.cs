using System.Collections.Concurrent;
using System.Threading.Channels;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Protocol;

namespace AgentFunctions.Tests.LocalHost.Queues;

/// <summary>One invocation the fake saw: what the worker would have received.</summary>
internal sealed record RecordedInvocation(LoadedFunction Function, IReadOnlyList<ParameterBinding> Input,
    IReadOnlyDictionary<string, TypedData> TriggerMetadata, DateTimeOffset StartedAt)
{
    public TypedData Data => Input.Single().Data;

    public long DequeueCount => long.Parse(TriggerMetadata["DequeueCount"].Json, System.Globalization.CultureInfo.InvariantCulture);

    public string? QueueTrigger => TriggerMetadata.TryGetValue("QueueTrigger", out var text) ? text.String : null;
}

/// <summary>
/// Stands in for the worker behind <see cref="IFunctionInvoker"/>: records every invocation, answers with what the test's
/// handler decides (success by default), and tracks how many run at once.
/// </summary>
internal sealed class FakeInvoker : IFunctionInvoker
{
    private readonly Channel<RecordedInvocation> _started = Channel.CreateUnbounded<RecordedInvocation>();
    private readonly ConcurrentQueue<RecordedInvocation> _all = new();
    private int _running;
    private int _maxRunning;

    /// <summary>Decides each invocation's outcome; may wait. Default: succeed at once.</summary>
    public Func<RecordedInvocation, CancellationToken, Task<bool>> Handler { get; set; } = (_, _) => Task.FromResult(true);

    /// <summary>Output data to return from successful invocations, by binding name.</summary>
    public Func<RecordedInvocation, InvocationResponse>? Response { get; set; }

    public IReadOnlyList<RecordedInvocation> Invocations => [.. _all];

    public int MaxConcurrent => Volatile.Read(ref _maxRunning);

    public int Running => Volatile.Read(ref _running);

    public async Task<InvocationResult> InvokeAsync(LoadedFunction function, IReadOnlyList<ParameterBinding> inputData,
        IReadOnlyDictionary<string, TypedData> triggerMetadata, CancellationToken cancellationToken)
    {
        var invocation = new RecordedInvocation(function, inputData, triggerMetadata, DateTimeOffset.UtcNow);
        var running = Interlocked.Increment(ref _running);
        InterlockedMax(ref _maxRunning, running);
        _all.Enqueue(invocation);
        _started.Writer.TryWrite(invocation);
        try
        {
            var succeeded = await Handler(invocation, cancellationToken);
            var response = Response?.Invoke(invocation) ?? new InvocationResponse();
            response.InvocationId = Guid.NewGuid().ToString();
            response.Result = new StatusResult
            {
                Status = succeeded ? StatusResult.Types.Status.Success : StatusResult.Types.Status.Failure,
                Exception = succeeded ? null : new RpcException { Type = "System.InvalidOperationException", Message = "test failure" },
            };
            return new InvocationResult(function.Name, response);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    /// <summary>The next invocation to start, waiting at most <paramref name="timeout"/> (default 10 s).</summary>
    public async Task<RecordedInvocation> NextAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        return await _started.Reader.ReadAsync(cancel.Token);
    }

    /// <summary>True if no invocation starts within <paramref name="wait"/>.</summary>
    public async Task<bool> NoneWithinAsync(TimeSpan wait)
    {
        using var cancel = new CancellationTokenSource(wait);
        try
        {
            await _started.Reader.WaitToReadAsync(cancel.Token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
