using AgentFunctions.Agents;
using AgentFunctions.Configuration;
using AgentFunctions.Runs;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentFunctions.Functions.Runs;

/// <summary>What a timer firing sends: the first step of the run it started, if it started one.</summary>
public sealed class ScheduledRunOutput
{
    [QueueOutput(RunQueues.Steps)]
    public string? FirstStep { get; init; }
}

/// <summary>
/// Starts the configured agent on the schedule in the <c>ScheduledRunSchedule</c> setting, through the same queue pipeline
/// as HTTP runs. The run id comes from the scheduled occurrence and the run is created only if absent, so one firing
/// (even delivered twice, or past due) never starts two runs.
/// </summary>
public sealed partial class ScheduledRunFunction(
    AgentCatalog catalog, IRunStore store, TimeProvider time, IOptions<ScheduledRunOptions> options, IConfiguration configuration,
    ILogger<ScheduledRunFunction> logger)
{
    [Function("ScheduledRun")]
    public async Task<ScheduledRunOutput> RunAsync(
        [TimerTrigger("%" + ScheduledRunOptions.ScheduleSettingName + "%")] TimerInfo timer,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(timer);
        var settings = options.Value;
        if (string.IsNullOrWhiteSpace(settings.Agent))
        {
            LogNothingScheduled(logger);
            return new ScheduledRunOutput();
        }

        if (!catalog.TryGet(settings.Agent, out var agent))
        {
            LogUnknownAgent(logger, settings.Agent);
            return new ScheduledRunOutput();
        }

        var schedule = ScheduleOccurrences.TryParse(configuration[ScheduledRunOptions.ScheduleSettingName] ?? string.Empty)!;
        var occurrence = ScheduleOccurrences.LatestAtOrBefore(schedule, time.GetLocalNow().DateTime);
        string runId = $"sched-{agent.Name}-{occurrence:yyyyMMdd'T'HHmmss}";
        var run = AgentRun.Create(runId, agent, settings.Input!, timer.IsPastDue ? "schedule (past due)" : "schedule", time.GetUtcNow());
        if (!await store.TryCreateAsync(run, cancellationToken).ConfigureAwait(false))
        {
            LogAlreadyStarted(logger, runId);
            return new ScheduledRunOutput();
        }

        LogStarted(logger, runId, agent.Name, timer.IsPastDue);
        return new ScheduledRunOutput { FirstStep = RunStepProcessor.NextMessage(runId, 1) };
    }

    [LoggerMessage(EventId = 1510, EventName = "ScheduledRunNotConfigured", Level = LogLevel.Information,
        Message = "The schedule fired, but ScheduledRun:Agent is empty, so no run was started.")]
    private static partial void LogNothingScheduled(ILogger logger);

    [LoggerMessage(EventId = 1511, EventName = "ScheduledRunUnknownAgent", Level = LogLevel.Error,
        Message = "The schedule fired, but ScheduledRun:Agent names '{Agent}', which is not in the catalog; no run was started.")]
    private static partial void LogUnknownAgent(ILogger logger, string agent);

    [LoggerMessage(EventId = 1512, EventName = "ScheduledRunAlreadyStarted", Level = LogLevel.Information,
        Message = "Run {RunId} for this occurrence exists already; this firing starts nothing.")]
    private static partial void LogAlreadyStarted(ILogger logger, string runId);

    [LoggerMessage(EventId = 1513, EventName = "ScheduledRunStarted", Level = LogLevel.Information,
        Message = "Started scheduled run {RunId} of agent {Agent} (past due: {IsPastDue}).")]
    private static partial void LogStarted(ILogger logger, string runId, string agent, bool isPastDue);
}
