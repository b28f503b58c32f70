using AgentFunctions.Runs;

namespace AgentFunctions.Tests.Runs;

public sealed class ScheduleOccurrencesTests
{
    [Theory]
    [InlineData("0 0 6 * * *", "2026-12-04T06:00:00.3", "2026-12-04T06:00:00")]
    [InlineData("0 0 6 * * *", "2026-12-04T05:59:59.9", "2026-12-04T06:00:00")]
    [InlineData("0 0 6 * * *", "2026-12-04T05:59:58", "2026-12-03T06:00:00")]
    [InlineData("*/5 * * * * *", "2026-12-04T10:00:07.2", "2026-12-04T10:00:05")]
    [InlineData("30 9 * * 1", "2026-12-04T12:00:00", "2026-11-30T09:30:00")]
    [InlineData("0 0 0 1 1 *", "2026-12-04T12:00:00", "2026-01-01T00:00:00")]
    public void LatestAtOrBefore_FiringTime_MapsToItsScheduledOccurrence(string expression, string firedAt, string expected)
    {
        var schedule = ScheduleOccurrences.TryParse(expression)!;

        var occurrence = ScheduleOccurrences.LatestAtOrBefore(schedule, DateTime.Parse(firedAt, System.Globalization.CultureInfo.InvariantCulture));

        occurrence.Should().Be(DateTime.Parse(expected, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("every morning")]
    [InlineData("0 0 25 * * *")]
    [InlineData("00:05:00")]
    public void TryParse_NotNcrontab_ReturnsNull(string expression) =>
        ScheduleOccurrences.TryParse(expression).Should().BeNull();
}
