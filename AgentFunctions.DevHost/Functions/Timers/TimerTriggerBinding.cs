using System.Text.Json;

namespace AgentFunctions.DevHost.Functions.Timers;

/// <summary>A function's <c>timerTrigger</c> binding with its schedule resolved and parsed.</summary>
/// <param name="UseMonitor">As configured (default true); the listener still turns it off for sub-minute schedules.</param>
internal sealed record TimerTriggerBinding(string BindingName, TimerSchedule Schedule, bool RunOnStartup, bool UseMonitor)
{
    public const string TriggerType = "timerTrigger";

    public static bool IsTimerTrigger(LoadedFunction function) =>
        string.Equals(function.TriggerType, TriggerType, StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads the trigger of a timer-triggered function; throws <see cref="FunctionsHostException"/> if unusable.</summary>
    public static TimerTriggerBinding Create(LoadedFunction function, AppSettings settings)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(settings);
        var trigger = function.Trigger is { } binding && IsTimerTrigger(function)
            ? binding
            : throw new ArgumentException($"Function '{function.Name}' is not timer-triggered.", nameof(function));

        var what = $"The schedule of function '{function.Name}'";
        var raw = trigger.GetString("schedule")
            ?? throw new FunctionsHostException($"{what} is missing from its timerTrigger binding.");
        var schedule = TimerSchedule.Parse(settings.Resolve(raw, what), what);
        return new TimerTriggerBinding(trigger.Name, schedule, ReadFlag(trigger, "runOnStartup", false),
            ReadFlag(trigger, "useMonitor", true));
    }

    private static bool ReadFlag(Metadata.FunctionBinding trigger, string name, bool defaultValue) =>
        trigger.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.String when bool.TryParse(value.GetString(), out var flag) => flag,
                _ => defaultValue,
            }
            : defaultValue;
}
