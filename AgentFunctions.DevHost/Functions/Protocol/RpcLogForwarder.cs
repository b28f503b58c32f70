using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions.Protocol;

/// <summary>
/// Writes the worker's RpcLog messages to the host's loggers, under the worker's own category and level, as the Functions
/// host shows them on its console.
/// </summary>
internal sealed partial class RpcLogForwarder(ILoggerFactory loggerFactory)
{
    /// <summary>Category used when the worker sends none.</summary>
    internal const string DefaultCategory = "Worker";

    private readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    public void Forward(RpcLog log)
    {
        ArgumentNullException.ThrowIfNull(log);

        var level = ToLogLevel(log.Level);
        // Custom metrics are telemetry, not log lines.
        if (level == LogLevel.None || log.LogCategory == RpcLog.Types.RpcLogCategory.CustomMetric)
        {
            return;
        }

        var category = string.IsNullOrEmpty(log.Category) ? DefaultCategory : log.Category;
        var logger = _loggers.GetOrAdd(category, loggerFactory.CreateLogger);
        if (!logger.IsEnabled(level))
        {
            return;
        }

        var message = log.Exception is { } exception
            ? $"{log.Message} ({exception.Type}: {exception.Message})"
            : log.Message;
        if (string.IsNullOrEmpty(log.InvocationId))
        {
            LogWorkerMessage(logger, level, message);
        }
        else
        {
            LogWorkerInvocationMessage(logger, level, log.InvocationId, message);
        }
    }

    internal static LogLevel ToLogLevel(RpcLog.Types.Level level) => level switch
    {
        RpcLog.Types.Level.Trace => LogLevel.Trace,
        RpcLog.Types.Level.Debug => LogLevel.Debug,
        RpcLog.Types.Level.Information => LogLevel.Information,
        RpcLog.Types.Level.Warning => LogLevel.Warning,
        RpcLog.Types.Level.Error => LogLevel.Error,
        RpcLog.Types.Level.Critical => LogLevel.Critical,
        _ => LogLevel.None,
    };

    [LoggerMessage(EventId = 1220, EventName = "WorkerLog", Message = "{WorkerMessage}")]
    private static partial void LogWorkerMessage(ILogger logger, LogLevel level, string workerMessage);

    [LoggerMessage(EventId = 1221, EventName = "WorkerInvocationLog", Message = "[{InvocationId}] {WorkerMessage}")]
    private static partial void LogWorkerInvocationMessage(ILogger logger, LogLevel level, string invocationId,
        string workerMessage);
}
