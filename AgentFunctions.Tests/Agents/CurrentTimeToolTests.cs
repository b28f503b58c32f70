using System.Text.Json;
using AgentFunctions.Agents.Tools;
using Microsoft.Extensions.Time.Testing;

namespace AgentFunctions.Tests.Agents;

public sealed class CurrentTimeToolTests
{
    private readonly CurrentTimeTool _tool = new(new FakeTimeProvider(new DateTimeOffset(2026, 7, 1, 12, 30, 0, TimeSpan.Zero)));

    [Theory]
    [InlineData("{}", "2026-07-01T12:30:00Z")]
    [InlineData("""{"timeZone": "UTC"}""", "2026-07-01T12:30:00Z")]
    [InlineData("""{"timeZone": "Europe/Paris"}""", "2026-07-01T14:30:00+02:00")]
    [InlineData("""{"timeZone": "America/New_York"}""", "2026-07-01T08:30:00-04:00")]
    public void Invoke_TimeZone_ReturnsTimeFromTheAppClockInThatZone(string arguments, string expected)
    {
        using var document = JsonDocument.Parse(arguments);

        _tool.Invoke(document.RootElement).Should().Be(expected);
    }

    [Theory]
    [InlineData("""{"timeZone": "Mars/Olympus_Mons"}""", "Unknown time zone")]
    [InlineData("""{"timeZone": "America"}""", "Unknown time zone")]
    [InlineData("""{"timeZone": "Etc"}""", "Unknown time zone")]
    [InlineData("""{"timeZone": "../../etc/passwd"}""", "Unknown time zone")]
    [InlineData("""{"timeZone": 5}""", "non-empty string")]
    [InlineData("""{"timeZone": "  "}""", "non-empty string")]
    public void Invoke_BadTimeZone_ThrowsToolArgumentException(string arguments, string reason)
    {
        using var document = JsonDocument.Parse(arguments);

        var act = () => _tool.Invoke(document.RootElement);

        act.Should().Throw<ToolArgumentException>().WithMessage($"*{reason}*");
    }
}
