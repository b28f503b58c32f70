using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>A function call the model asks for; <see cref="Arguments"/> is a JSON string, as on the wire.</summary>
internal sealed record ChatToolCall(string Id, string Name, string Arguments);

/// <summary>The model's answer: text with finish reason <c>stop</c>, or tool calls with <c>tool_calls</c>.</summary>
internal sealed record ChatReply(
    string? Content, IReadOnlyList<ChatToolCall> ToolCalls, string FinishReason, int PromptTokens, int CompletionTokens)
{
    // The content can repeat an API key (the injection rule), so the generated ToString, which would print it,
    // is replaced.
    public override string ToString() =>
        $"ChatReply {{ FinishReason = {FinishReason}, ToolCalls = {ToolCalls.Count} }}";
}

/// <summary>
/// The chat model behind the Azure OpenAI double: deterministic, so tests can predict every answer, and rich enough
/// to drive an agent through tool calls.
/// </summary>
/// <remarks>
/// Rules, applied to the request's messages in this order:
/// <list type="number">
/// <item>The last message has role <c>tool</c>: the answer combines the trailing tool messages in order as
/// "<c>&lt;tool name&gt; returned &lt;content&gt;.</c>", separated by a space, e.g. "get_current_time returned
/// 2026-12-04T15:00:00Z. calculate returned 42." The name comes from the assistant tool call whose id the message
/// answers. Finish reason <c>stop</c>.</item>
/// <item>The last user message contains "api key" or "your key" (any case), a simulated prompt injection: the answer
/// is "My key is &lt;the api-key header value of this request&gt;." ("My key is (none)." with a bearer token), so
/// tests can prove the app's output filter removes keys.</item>
/// <item>The last message has role <c>user</c> and tools are offered (and <c>tool_choice</c> is not "none"):
/// text containing "time" (any case) with a tool <c>get_current_time</c> offered calls it with
/// <c>{"timeZone":"UTC"}</c>; text containing an arithmetic expression (numbers joined by at least one of
/// <c>+ - * /</c>, parentheses allowed) with a tool <c>calculate</c> offered calls it with
/// <c>{"expression":"&lt;expression&gt;"}</c>. Both can fire in one answer, time first. Content is null, finish
/// reason <c>tool_calls</c>, ids <c>call_&lt;n&gt;</c> from a counter that runs for the double's lifetime.</item>
/// <item>Otherwise the answer is "Echo: &lt;last user text&gt;".</item>
/// </list>
/// Usage: prompt tokens are the whitespace-separated words of every message's text; completion tokens are the words of
/// the answer, or the number of tool calls.
/// </remarks>
internal static partial class DeterministicChatModel
{
    public const string TimeToolName = "get_current_time";
    public const string CalculatorToolName = "calculate";

    public static ChatReply Reply(
        JsonArray messages, IReadOnlySet<string> offeredTools, string? apiKey, Func<string> nextToolCallId)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(offeredTools);
        ArgumentNullException.ThrowIfNull(nextToolCallId);
        var promptTokens = messages.Sum(message => CountWords(TextOf(message)));

        if (RoleOf(messages[^1]) == "tool")
        {
            return Answer(CombineToolResults(messages), promptTokens);
        }

        var lastUser = messages.LastOrDefault(message => RoleOf(message) == "user");
        var lastUserText = lastUser is null ? string.Empty : TextOf(lastUser);
        if (lastUserText.Contains("api key", StringComparison.OrdinalIgnoreCase) ||
            lastUserText.Contains("your key", StringComparison.OrdinalIgnoreCase))
        {
            return Answer($"My key is {apiKey ?? "(none)"}.", promptTokens);
        }

        if (RoleOf(messages[^1]) == "user" && offeredTools.Count > 0)
        {
            var calls = new List<ChatToolCall>();
            if (offeredTools.Contains(TimeToolName) &&
                lastUserText.Contains("time", StringComparison.OrdinalIgnoreCase))
            {
                calls.Add(new ChatToolCall(nextToolCallId(), TimeToolName, """{"timeZone":"UTC"}"""));
            }

            if (offeredTools.Contains(CalculatorToolName) &&
                ArithmeticExpression().Match(lastUserText) is { Success: true } match)
            {
                var arguments = new JsonObject { ["expression"] = match.Value.Trim() }.ToJsonString(DoubleHttp.Json);
                calls.Add(new ChatToolCall(nextToolCallId(), CalculatorToolName, arguments));
            }

            if (calls.Count > 0)
            {
                return new ChatReply(null, calls, "tool_calls", promptTokens, calls.Count);
            }
        }

        return Answer($"Echo: {lastUserText}", promptTokens);
    }

    /// <summary>The names of the function tools a request offers; empty when <c>tool_choice</c> is "none".</summary>
    public static IReadOnlySet<string> OfferedTools(JsonObject request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request["tool_choice"] is JsonValue choice && choice.TryGetValue<string>(out var text) && text == "none")
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }

        return (request["tools"] as JsonArray ?? [])
            .Select(tool => StringOf(Member(Member(tool, "function"), "name")))
            .OfType<string>()
            .ToHashSet(StringComparer.Ordinal);
    }

    private static ChatReply Answer(string content, int promptTokens) =>
        new(content, [], "stop", promptTokens, CountWords(content));

    private static string CombineToolResults(JsonArray messages)
    {
        var firstTool = messages.Count;
        while (firstTool > 0 && RoleOf(messages[firstTool - 1]) == "tool")
        {
            firstTool--;
        }

        var namesById = messages
            .Take(firstTool)
            .SelectMany(message => Member(message, "tool_calls") as JsonArray ?? [])
            .Select(call => (
                Id: StringOf(Member(call, "id")),
                Name: StringOf(Member(Member(call, "function"), "name"))))
            .Where(call => call.Id is not null && call.Name is not null)
            .GroupBy(call => call.Id!, StringComparer.Ordinal)
            .ToDictionary(group => group.Key, group => group.Last().Name!, StringComparer.Ordinal);

        var answer = new StringBuilder();
        for (var i = firstTool; i < messages.Count; i++)
        {
            var callId = StringOf(Member(messages[i], "tool_call_id"));
            var name = callId is not null && namesById.TryGetValue(callId, out var known)
                ? known
                : StringOf(Member(messages[i], "name")) ?? "tool";
            if (answer.Length > 0)
            {
                answer.Append(' ');
            }

            answer.Append(name).Append(" returned ").Append(TextOf(messages[i]).TrimEnd('.')).Append('.');
        }

        return answer.ToString();
    }

    private static string? RoleOf(JsonNode? message) => StringOf(Member(message, "role"));

    // Content is either a string or an array of parts, of which only the text parts carry words.
    private static string TextOf(JsonNode? message) => Member(message, "content") switch
    {
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        JsonArray parts => string.Join(' ', parts.Select(part => StringOf(Member(part, "text"))).OfType<string>()),
        _ => string.Empty,
    };

    // Requests come from anywhere; a member of something that is not an object is simply absent.
    private static JsonNode? Member(JsonNode? node, string name) => node is JsonObject value ? value[name] : null;

    private static string? StringOf(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    private static int CountWords(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    // Numbers (optionally in parentheses) joined by at least one operator: "(2 + 3) * 4", "6*7", "10 / 4".
    [GeneratedRegex(
        @"\(*\s*\d+(?:\.\d+)?\s*\)*(?:\s*[-+*/]\s*\(*\s*\d+(?:\.\d+)?\s*\)*)+",
        RegexOptions.CultureInvariant)]
    private static partial Regex ArithmeticExpression();
}
