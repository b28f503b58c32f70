using System.Globalization;
using System.Text.Json;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Timers;
using AgentFunctions.Tests.LocalHost.Queues;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace AgentFunctions.Tests.LocalHost.Timers;

/// <summary>When the timer trigger fires and what it sends, on a fake clock; status lives in a temporary folder.</summary>
public sealed class TimerListenerTests : IDisposable
{
    private static readonly DateTimeOffset Noon = new(2026, 3, 4, 12, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _clock = new(Noon);
    private readonly FakeInvoker _invoker = new();
    private readonly DirectoryInfo _state = Directory.CreateTempSubdirectory("agentfunctions-timer-tests-");
    private readonly ScheduleStatusStore _store;

    public TimerListenerTests() => _store = new ScheduleStatusStore(_state.FullName, NullLogger.Instance);

    [Fact]
    public async Task Start_RunOnStartup_InvokesAtOnceWithIsPastDueFalse()
    {
        await using var listener = Start("0 0 * * * *", runOnStartup: true);

        var invocation = await _invoker.NextAsync();

        TimerInfo(invocation).GetProperty("IsPastDue").GetBoolean().Should().BeFalse();
        invocation.Input.Single().Name.Should().Be("timer");
        invocation.TriggerMetadata.Should().ContainKey("TimerTrigger");
    }

    [Fact]
    public async Task Start_NoRunOnStartup_WaitsForTheOccurrence()
    {
        await using var listener = Start("0 */5 * * * *");
        await WaitingForAsync(listener, Noon.AddMinutes(5));

        _clock.SetUtcNow(Noon.AddMinutes(4).AddSeconds(59));
        (await _invoker.NoneWithinAsync(TimeSpan.FromMilliseconds(300))).Should().BeTrue();
        _clock.SetUtcNow(Noon.AddMinutes(5));
        var invocation = await _invoker.NextAsync();

        var info = TimerInfo(invocation);
        info.GetProperty("IsPastDue").GetBoolean().Should().BeFalse();
        info.GetProperty("Schedule").GetProperty("AdjustForDST").GetBoolean().Should().BeTrue();
        info.GetProperty("ScheduleStatus").GetProperty("Next").GetDateTimeOffset().Should().Be(Noon.AddMinutes(5));
    }

    [Fact]
    public async Task Start_StoredNextIsPast_InvokesOnceWithIsPastDueAndTheStoredStatus()
    {
        var missed = new ScheduleStatus(Noon.AddHours(-2), Noon.AddHours(-1), Noon.AddHours(-2));
        await _store.WriteAsync("Tick", missed, CancellationToken.None);

        await using var listener = Start("0 0 * * * *");
        var invocation = await _invoker.NextAsync();

        var info = TimerInfo(invocation);
        info.GetProperty("IsPastDue").GetBoolean().Should().BeTrue();
        info.GetProperty("ScheduleStatus").GetProperty("Next").GetDateTimeOffset().Should().Be(Noon.AddHours(-1));
        info.GetProperty("ScheduleStatus").GetProperty("Last").GetDateTimeOffset().Should().Be(Noon.AddHours(-2));
        (await _invoker.NoneWithinAsync(TimeSpan.FromMilliseconds(300))).Should().BeTrue("a missed firing runs once");
    }

    [Fact]
    public async Task Start_StoredStatusFromAnotherSchedule_TakesTheNewScheduleAndIsNotPastDue()
    {
        // Written under a daily 06:00 schedule; the schedule is now every 5 minutes.
        var daily = new ScheduleStatus(Noon.AddDays(-1).AddHours(-6), Noon.AddHours(18), Noon.AddDays(-1).AddHours(-6));
        await _store.WriteAsync("Tick", daily, CancellationToken.None);

        await using var listener = Start("0 */5 * * * *");

        await WaitingForAsync(listener, Noon.AddMinutes(5));
        (await _invoker.NoneWithinAsync(TimeSpan.FromMilliseconds(300))).Should().BeTrue("a changed schedule is not a missed firing");
        (await _store.ReadAsync("Tick", CancellationToken.None))!.Next.Should().Be(Noon.AddMinutes(5));
    }

    [Fact]
    public async Task Start_StoredNextIsAheadUnderTheSameSchedule_KeepsIt()
    {
        // Hourly at :30, last fired 11:30, host restarted at noon: the stored 12:30 stands.
        var hourly = new ScheduleStatus(Noon.AddMinutes(-30), Noon.AddMinutes(30), Noon.AddMinutes(-30));
        await _store.WriteAsync("Tick", hourly, CancellationToken.None);

        await using var listener = Start("0 30 * * * *");

        await WaitingForAsync(listener, Noon.AddMinutes(30));
    }

    [Fact]
    public async Task Fire_Scheduled_PersistsStatusInTheHostsShape()
    {
        await using var listener = Start("0 */5 * * * *");
        await WaitingForAsync(listener, Noon.AddMinutes(5));

        _clock.SetUtcNow(Noon.AddMinutes(5));
        await _invoker.NextAsync();
        await QueueTestSupport.EventuallyAsync(async () =>
            (await _store.ReadAsync("Tick", CancellationToken.None))?.Last == Noon.AddMinutes(5), "the status is written");

        using var file = JsonDocument.Parse(await File.ReadAllTextAsync(_store.PathOf("Tick")));
        file.RootElement.EnumerateObject().Select(property => property.Name).Should().Equal("Last", "Next", "LastUpdated");
        file.RootElement.GetProperty("Next").GetDateTimeOffset().Should().Be(Noon.AddMinutes(10));
        file.RootElement.GetProperty("LastUpdated").GetDateTimeOffset().Should().Be(Noon.AddMinutes(5));
    }

    [Fact]
    public async Task Fire_InvocationOutlastsTheInterval_NeverOverlapsAndSkipsTheMissedOccurrences()
    {
        using var release = new SemaphoreSlim(0);
        _invoker.Handler = async (_, token) =>
        {
            await release.WaitAsync(token);
            return true;
        };
        await using var listener = Start("0 * * * * *");
        await WaitingForAsync(listener, Noon.AddMinutes(1));

        _clock.SetUtcNow(Noon.AddMinutes(1));
        await _invoker.NextAsync();
        _clock.SetUtcNow(Noon.AddMinutes(4).AddSeconds(30));
        (await _invoker.NoneWithinAsync(TimeSpan.FromMilliseconds(300))).Should().BeTrue("the first run has not finished");
        release.Release();
        (await _invoker.NoneWithinAsync(TimeSpan.FromMilliseconds(300))).Should().BeTrue(
            "the occurrences at 12:02, 12:03 and 12:04 fell inside the run and are skipped");
        await WaitingForAsync(listener, Noon.AddMinutes(5));
        _clock.SetUtcNow(Noon.AddMinutes(5));
        await _invoker.NextAsync();
        release.Release();

        _invoker.MaxConcurrent.Should().Be(1);
        _invoker.Invocations.Should().HaveCount(2);
    }

    [Fact]
    public async Task Start_ScheduleMoreFrequentThanAMinute_TurnsTheMonitorOffAndSendsNoStatus()
    {
        await using var listener = Start("*/10 * * * * *");
        await WaitingForAsync(listener, Noon.AddSeconds(10));

        _clock.SetUtcNow(Noon.AddSeconds(10));
        var invocation = await _invoker.NextAsync();

        listener.UsesMonitor.Should().BeFalse();
        TimerInfo(invocation).GetProperty("ScheduleStatus").ValueKind.Should().Be(JsonValueKind.Null);
        File.Exists(_store.PathOf("Tick")).Should().BeFalse();
    }

    [Fact]
    public async Task Start_UseMonitorFalse_SendsNoStatusAndIgnoresAStoredOne()
    {
        await _store.WriteAsync("Tick", new ScheduleStatus(Noon.AddHours(-2), Noon.AddHours(-1), Noon.AddHours(-2)),
            CancellationToken.None);

        await using var listener = Start("0 0 * * * *", useMonitor: false);
        await WaitingForAsync(listener, Noon.AddHours(1));
        _clock.SetUtcNow(Noon.AddHours(1));
        var invocation = await _invoker.NextAsync();

        var info = TimerInfo(invocation);
        info.GetProperty("IsPastDue").GetBoolean().Should().BeFalse();
        info.GetProperty("ScheduleStatus").ValueKind.Should().Be(JsonValueKind.Null);
    }

    [Fact]
    public async Task Fire_Always_SendsTimerTriggerAsTheLocalTime()
    {
        await using var listener = Start("0 0 * * * *", runOnStartup: true);

        var invocation = await _invoker.NextAsync();

        var text = invocation.TriggerMetadata["TimerTrigger"].String;
        DateTime.Parse(text, CultureInfo.InvariantCulture).Should().Be(Noon.UtcDateTime);
    }

    public void Dispose() => _state.Delete(recursive: true);

    private TimerListener Start(string schedule, bool runOnStartup = false, bool useMonitor = true)
    {
        var flags = $"\"RunOnStartup\":{(runOnStartup ? "true" : "false")},\"UseMonitor\":{(useMonitor ? "true" : "false")}";
        var function = TestFunctions.Create("Tick",
            $$"""{"name":"timer","type":"timerTrigger","direction":"In","schedule":"{{schedule}}",{{flags}}}""");
        var binding = TimerTriggerBinding.Create(function, AppSettings.Empty);
        var listener = new TimerListener(function, binding, _invoker, _store, NullLogger.Instance, _clock, TimeZoneInfo.Utc);
        listener.Start();
        return listener;
    }

    /// <summary>
    /// The fake clock may only move once the listener has picked the occurrence it waits for; moved earlier, the listener
    /// would compute its next occurrence from the moved clock and wait for a later one.
    /// </summary>
    private static Task WaitingForAsync(TimerListener listener, DateTimeOffset occurrence) =>
        QueueTestSupport.EventuallyAsync(() => Task.FromResult(listener.NextOccurrence == occurrence),
            $"the listener waits for {occurrence:O}");

    private static JsonElement TimerInfo(RecordedInvocation invocation)
    {
        using var document = JsonDocument.Parse(invocation.Data.Json);
        return document.RootElement.Clone();
    }
}
