using NCrontab;

namespace AgentFunctions.Runs;

/// <summary>Which scheduled occurrence a timer firing belongs to, so that one occurrence maps to exactly one run id.</summary>
public static class ScheduleOccurrences
{
    private static readonly TimeSpan[] SearchWindows =
        [TimeSpan.FromMinutes(1), TimeSpan.FromHours(1), TimeSpan.FromDays(1), TimeSpan.FromDays(32), TimeSpan.FromDays(400)];

    /// <summary>Parses 6 fields (with seconds) or 5 (without), as the Functions timer does; null when it is not NCRONTAB.</summary>
    public static CrontabSchedule? TryParse(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        bool withSeconds = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6;
        return CrontabSchedule.TryParse(expression, new CrontabSchedule.ParseOptions { IncludingSeconds = withSeconds });
    }

    /// <summary>
    /// The latest occurrence at or before <paramref name="firedAt"/> (plus a second of clock skew). Searches widening
    /// windows so that a schedule of every second costs as little as one of once a year.
    /// </summary>
    public static DateTime LatestAtOrBefore(CrontabSchedule schedule, DateTime firedAt)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var end = firedAt.AddSeconds(1);
        foreach (var window in SearchWindows)
        {
            DateTime? latest = null;
            foreach (var occurrence in schedule.GetNextOccurrences(firedAt - window, end))
            {
                latest = occurrence;
            }

            if (latest is { } found)
            {
                return found;
            }
        }

        return firedAt;
    }
}
