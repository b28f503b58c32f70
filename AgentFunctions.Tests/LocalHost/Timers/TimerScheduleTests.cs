using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Timers;

namespace AgentFunctions.Tests.LocalHost.Timers;

/// <summary>How a timer trigger's schedule is read and when it fires next.</summary>
public sealed class TimerScheduleTests
{
    private static readonly TimeZoneInfo PlusTwo =
        TimeZoneInfo.CreateCustomTimeZone("Test+2", TimeSpan.FromHours(2), "Test+2", "Test+2");

    [Fact]
    public void GetNextOccurrence_SixFields_CountsSeconds()
    {
        var schedule = TimerSchedule.Parse("*/10 * * * * *", "test");

        var next = schedule.GetNextOccurrence(At("2026-03-04T12:00:03Z"), TimeZoneInfo.Utc);

        next.Should().Be(At("2026-03-04T12:00:10Z"));
    }

    [Fact]
    public void GetNextOccurrence_FiveFields_StartsAtMinutes()
    {
        var schedule = TimerSchedule.Parse("*/5 * * * *", "test");

        var next = schedule.GetNextOccurrence(At("2026-03-04T12:03:30Z"), TimeZoneInfo.Utc);

        next.Should().Be(At("2026-03-04T12:05:00Z"));
    }

    [Fact]
    public void GetNextOccurrence_TimeSpan_IsAConstantIntervalFromNow()
    {
        var schedule = TimerSchedule.Parse("00:30:00", "test");

        var next = schedule.GetNextOccurrence(At("2026-03-04T12:03:30Z"), TimeZoneInfo.Utc);

        schedule.Should().BeOfType<ConstantTimerSchedule>();
        next.Should().Be(At("2026-03-04T12:33:30Z"));
    }

    [Fact]
    public void GetNextOccurrence_Cron_FollowsTheWallClockOfTheTimeZone()
    {
        var schedule = TimerSchedule.Parse("0 0 2 * * *", "test");

        // 00:30 UTC is 02:30 at +02:00: today's 02:00 has passed there, so tomorrow's 02:00 local (00:00 UTC).
        var next = schedule.GetNextOccurrence(At("2026-03-04T00:30:00Z"), PlusTwo);

        next.Should().Be(At("2026-03-05T00:00:00Z"));
        next.Offset.Should().Be(TimeSpan.FromHours(2));
    }

    [Fact]
    public void GetNextOccurrence_DaylightSavingChange_KeepsTheWallClockTime()
    {
        if (!TimeZoneInfo.TryFindSystemTimeZoneById("Europe/Berlin", out var berlin))
        {
            return; // No time zone database on this machine.
        }

        var schedule = TimerSchedule.Parse("0 0 9 * * *", "test");

        // Clocks go forward on 29 March 2026: 09:00 is 08:00 UTC before and 07:00 UTC after.
        var before = schedule.GetNextOccurrence(At("2026-03-28T06:00:00Z"), berlin);
        var after = schedule.GetNextOccurrence(before, berlin);

        before.Should().Be(At("2026-03-28T08:00:00Z"));
        after.Should().Be(At("2026-03-29T07:00:00Z"));
    }

    [Theory]
    [InlineData("*/10 * * * * *", true)]
    [InlineData("00:00:30", true)]
    [InlineData("0 * * * * *", false)]
    [InlineData("0 */5 * * * *", false)]
    public void IsMoreFrequentThanOncePerMinute_Schedule_DecidesWhetherTheMonitorRuns(string expression, bool expected) =>
        TimerSchedule.Parse(expression, "test").IsMoreFrequentThanOncePerMinute(At("2026-03-04T12:00:00Z"), TimeZoneInfo.Utc)
            .Should().Be(expected);

    [Theory]
    [InlineData("every five minutes")]
    [InlineData("* * *")]
    [InlineData("-00:01:00")]
    public void Parse_NeitherCronNorTimeSpan_FailsNamingTheFunction(string expression)
    {
        var parse = () => TimerSchedule.Parse(expression, "The schedule of function 'Tick'");

        parse.Should().Throw<FunctionsHostException>().WithMessage("*'Tick'*NCRONTAB*");
    }

    [Theory]
    [InlineData("ScheduledRun__Schedule")]
    [InlineData("ScheduledRun:Schedule")]
    public void Create_ScheduleFromSetting_IsResolved(string settingName)
    {
        var function = TestFunctions.Create("ScheduledRun",
            """{"name":"timer","type":"timerTrigger","direction":"In","schedule":"%ScheduledRun:Schedule%",""" +
            "\"RunOnStartup\":true,\"UseMonitor\":false}");

        var binding = TimerTriggerBinding.Create(function, new AppSettings([new(settingName, "0 */15 * * * *")]));

        binding.Schedule.Expression.Should().Be("0 */15 * * * *");
        binding.RunOnStartup.Should().BeTrue();
        binding.UseMonitor.Should().BeFalse();
        binding.BindingName.Should().Be("timer");
    }

    [Fact]
    public void Create_FlagsAbsent_RunOnStartupOffAndMonitorOn()
    {
        var function = TestFunctions.Create("Tick", """{"name":"timer","type":"timerTrigger","direction":"In","schedule":"0 0 * * * *"}""");

        var binding = TimerTriggerBinding.Create(function, AppSettings.Empty);

        binding.RunOnStartup.Should().BeFalse();
        binding.UseMonitor.Should().BeTrue();
    }

    private static DateTimeOffset At(string text) => DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
}
