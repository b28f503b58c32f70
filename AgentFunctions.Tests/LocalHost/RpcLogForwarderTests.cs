using AgentFunctions.DevHost.Functions.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AgentFunctions.Tests.LocalHost;

public sealed class RpcLogForwarderTests : IDisposable
{
    private readonly FakeLoggerProvider _logs = new();
    private readonly ILoggerFactory _factory;

    public RpcLogForwarderTests() =>
        _factory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(_logs));

    public void Dispose()
    {
        _factory.Dispose();
        _logs.Dispose();
    }

    [Fact]
    public void Forward_UserLogWithInvocation_KeepsCategoryLevelAndInvocationId()
    {
        new RpcLogForwarder(_factory).Forward(new RpcLog
        {
            Category = "Function.Health.User",
            Level = RpcLog.Types.Level.Warning,
            Message = "slow answer",
            InvocationId = "inv-9",
        });

        var record = _logs.Collector.LatestRecord;
        record.Category.Should().Be("Function.Health.User");
        record.Level.Should().Be(LogLevel.Warning);
        record.Id.Name.Should().Be("WorkerInvocationLog");
        record.Message.Should().Be("[inv-9] slow answer");
    }

    [Fact]
    public void Forward_NoCategoryWithException_UsesWorkerCategoryAndNamesException()
    {
        new RpcLogForwarder(_factory).Forward(new RpcLog
        {
            Level = RpcLog.Types.Level.Error,
            Message = "failed",
            Exception = new RpcException { Type = "System.TimeoutException", Message = "took too long" },
        });

        var record = _logs.Collector.LatestRecord;
        record.Category.Should().Be(RpcLogForwarder.DefaultCategory);
        record.Id.Name.Should().Be("WorkerLog");
        record.Message.Should().Be("failed (System.TimeoutException: took too long)");
    }

    [Fact]
    public void Forward_CustomMetricOrLevelNone_IsNotLogged()
    {
        var forwarder = new RpcLogForwarder(_factory);

        forwarder.Forward(new RpcLog { LogCategory = RpcLog.Types.RpcLogCategory.CustomMetric, Message = "metric" });
        forwarder.Forward(new RpcLog { Level = RpcLog.Types.Level.None, Message = "nothing" });

        _logs.Collector.Count.Should().Be(0);
    }

    [Theory]
    [InlineData(RpcLog.Types.Level.Trace, LogLevel.Trace)]
    [InlineData(RpcLog.Types.Level.Debug, LogLevel.Debug)]
    [InlineData(RpcLog.Types.Level.Information, LogLevel.Information)]
    [InlineData(RpcLog.Types.Level.Critical, LogLevel.Critical)]
    public void ToLogLevel_WorkerLevel_MapsOneToOne(RpcLog.Types.Level level, LogLevel expected) =>
        RpcLogForwarder.ToLogLevel(level).Should().Be(expected);
}
