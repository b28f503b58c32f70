using System.Globalization;
using NCrontab;

namespace AgentFunctions.DevHost.Functions.Timers;

/// <summary>
/// A timer trigger's schedule, as the Functions host reads it: an NCRONTAB expression with six fields
/// (<c>{second} {minute} {hour} {day} {month} {day-of-week}</c>) or five (no seconds), else a TimeSpan such as
/// <c>00:30:00</c> for a constant interval. Occurrences are wall-clock times of the host's time zone, so a daily 02:00
/// stays 02:00 across a daylight-saving change.
/// </summary>
internal abstract class TimerSchedule
{
    public abstract string Expression { get; }

    /// <summary>Parses a resolved schedule; throws <see cref="FunctionsHostException"/> naming <paramref name="what"/>.</summary>
    public static TimerSchedule Parse(string expression, string what)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var trimmed = expression.Trim();
        var fields = trimmed.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        if (fields is 5 or 6)
        {
            var cron = CrontabSchedule.TryParse(trimmed, new CrontabSchedule.ParseOptions { IncludingSeconds = fields == 6 });
            if (cron is not null)
            {
                return new CronTimerSchedule(trimmed, cron);
            }
        }
        else if (TimeSpan.TryParse(trimmed, CultureInfo.InvariantCulture, out var interval) && interval > TimeSpan.Zero)
        {
            return new ConstantTimerSchedule(trimmed, interval);
        }

        throw new FunctionsHostException(
            $"{what} is '{expression}', which is neither an NCRONTAB expression (6 fields with seconds, e.g. " +
            "\"0 */5 * * * *\", or 5 without) nor a positive TimeSpan such as \"00:30:00\".");
    }

    /// <summary>The first occurrence strictly after <paramref name="now"/>, as an instant.</summary>
    public abstract DateTimeOffset GetNextOccurrence(DateTimeOffset now, TimeZoneInfo timeZone);

    /// <summary>
    /// True when two consecutive occurrences lie less than a minute apart. The Functions host turns the schedule monitor
    /// off for such schedules: keeping status for them would cost a storage write every few seconds.
    /// </summary>
    public bool IsMoreFrequentThanOncePerMinute(DateTimeOffset now, TimeZoneInfo timeZone)
    {
        var first = GetNextOccurrence(now, timeZone);
        var second = GetNextOccurrence(first, timeZone);
        return second - first < TimeSpan.FromMinutes(1);
    }

    public override string ToString() => Expression;
}

/// <summary>An NCRONTAB schedule evaluated on the wall clock of a time zone.</summary>
internal sealed class CronTimerSchedule(string expression, CrontabSchedule schedule) : TimerSchedule
{
    public override string Expression { get; } = expression;

    public override DateTimeOffset GetNextOccurrence(DateTimeOffset now, TimeZoneInfo timeZone)
    {
        ArgumentNullException.ThrowIfNull(timeZone);
        var wallClock = TimeZoneInfo.ConvertTime(now, timeZone).DateTime;
        while (true)
        {
            wallClock = schedule.GetNextOccurrence(wallClock);
            var instant = ToInstant(wallClock, timeZone);
            // In the hour a clock falls back, a wall time can map to an instant already past; move on to the next one.
            if (instant > now)
            {
                return instant;
            }
        }
    }

    private static DateTimeOffset ToInstant(DateTime wallClock, TimeZoneInfo timeZone)
    {
        if (timeZone.IsInvalidTime(wallClock))
        {
            // Skipped by a spring-forward change: it fires as that wall time would have with the offset before the gap,
            // which is the first moment after the gap.
            var before = timeZone.GetUtcOffset(wallClock.AddHours(-3));
            return new DateTimeOffset(wallClock, before);
        }

        if (timeZone.IsAmbiguousTime(wallClock))
        {
            // Repeated by a fall-back change: the first of the two instants.
            return new DateTimeOffset(wallClock, timeZone.GetAmbiguousTimeOffsets(wallClock).Max());
        }

        return new DateTimeOffset(wallClock, timeZone.GetUtcOffset(wallClock));
    }
}

/// <summary>A constant interval from the moment the next occurrence is computed.</summary>
internal sealed class ConstantTimerSchedule(string expression, TimeSpan interval) : TimerSchedule
{
    public override string Expression { get; } = expression;

    public TimeSpan Interval { get; } = interval;

    public override DateTimeOffset GetNextOccurrence(DateTimeOffset now, TimeZoneInfo timeZone) => now + Interval;
}
