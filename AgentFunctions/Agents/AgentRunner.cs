using System.Text;
using AgentFunctions.Agents.Tools;
using AgentFunctions.Model;
using Microsoft.Extensions.Logging;
using OpenAI.Chat;

namespace AgentFunctions.Agents;

/// <summary>The outcome of one agent run: its answer, how many model calls it took and the tokens they used.</summary>
/// <remarks>The output is the model's text before the key filter, so the printed form of the record leaves it out.</remarks>
public sealed record AgentRunResult(string Agent, string Output, int Steps, int PromptTokens, int CompletionTokens)
{
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Agent = ").Append(Agent).Append(", Output = (").Append(Output.Length).Append(" characters), Steps = ")
            .Append(Steps).Append(", PromptTokens = ").Append(PromptTokens).Append(", CompletionTokens = ").Append(CompletionTokens);
        return true;
    }
}

/// <summary>What one step produced: the answer, or the messages (tool calls and their results) to carry into the next step.</summary>
/// <remarks>The answer and messages are the model's text before the key filter, so the printed form leaves them out.</remarks>
public sealed record AgentStepOutcome(string? Answer, IReadOnlyList<ConversationMessage> NewMessages, int PromptTokens, int CompletionTokens)
{
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Answered = ").Append(Answer is not null).Append(", NewMessages = ").Append(NewMessages.Count)
            .Append(", PromptTokens = ").Append(PromptTokens).Append(", CompletionTokens = ").Append(CompletionTokens);
        return true;
    }
}

/// <summary>The model kept calling tools and did not answer within the agent's step limit.</summary>
public sealed class AgentStepLimitException(string agent, int maxSteps)
    : Exception($"Agent '{agent}' did not produce an answer within its limit of {maxSteps} model calls.")
{
    public string Agent { get; } = agent;

    public int MaxSteps { get; } = maxSteps;
}

/// <summary>
/// Runs the tool-calling loop: the model answers or asks for tools, tool results go back, until an answer arrives or the
/// agent's step limit is reached. A step is one model call plus the tool calls it asked for.
/// </summary>
public sealed partial class AgentRunner(IChatModel model, ToolRegistry tools, ILogger<AgentRunner> logger)
{
    /// <summary>Runs the whole loop in one call, for a caller that waits for the answer.</summary>
    public async Task<AgentRunResult> RunAsync(AgentDefinition agent, string input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(input);

        var conversation = ConversationMessage.Start(agent, input).ToList();
        int promptTokens = 0;
        int completionTokens = 0;
        for (int step = 1; step <= agent.MaxSteps; step++)
        {
            var outcome = await ExecuteStepAsync(agent, conversation, step, cancellationToken).ConfigureAwait(false);
            promptTokens += outcome.PromptTokens;
            completionTokens += outcome.CompletionTokens;
            if (outcome.Answer is { } answer)
            {
                return new AgentRunResult(agent.Name, answer, step, promptTokens, completionTokens);
            }

            conversation.AddRange(outcome.NewMessages);
        }

        LogStepLimitReached(logger, agent.Name, agent.MaxSteps);
        throw new AgentStepLimitException(agent.Name, agent.MaxSteps);
    }

    /// <summary>
    /// One step: one model call and the tool calls it asks for. Returns the answer when the model gave one, otherwise
    /// the messages to append before the next step. The caller owns the step limit.
    /// </summary>
    public async Task<AgentStepOutcome> ExecuteStepAsync(AgentDefinition agent, IReadOnlyList<ConversationMessage> conversation, int step,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(conversation);

        var options = new ChatCompletionOptions();
        foreach (string tool in agent.Tools)
        {
            options.Tools.Add(tools.GetDefinition(tool));
        }

        var messages = conversation.Select(message => message.ToChatMessage()).ToList();
        var completion = await model.CompleteAsync(agent.Deployment, messages, options, cancellationToken).ConfigureAwait(false);
        int promptTokens = completion.Usage?.InputTokenCount ?? 0;
        int completionTokens = completion.Usage?.OutputTokenCount ?? 0;

        if (completion.ToolCalls.Count == 0)
        {
            LogAgentAnswered(logger, agent.Name, step, completion.FinishReason);
            string answer = string.Concat(completion.Content.Select(part => part.Text));
            return new AgentStepOutcome(answer, [], promptTokens, completionTokens);
        }

        var calls = completion.ToolCalls.Select(call => new ToolCallRecord(call.Id, call.FunctionName, call.FunctionArguments.ToString())).ToList();
        var newMessages = new List<ConversationMessage> { new(ConversationMessage.AssistantRole, null, calls) };
        foreach (var call in calls)
        {
            LogToolCall(agent, step, call.Name);
            string result = tools.Invoke(agent.Tools, call.Name, BinaryData.FromString(call.Arguments));
            newMessages.Add(new ConversationMessage(ConversationMessage.ToolRole, result, ToolCallId: call.Id));
        }

        return new AgentStepOutcome(null, newMessages, promptTokens, completionTokens);
    }

    // The name in a tool call is the model's text, so a prompt injection can make it a key: a name is logged only when it
    // is one of the registry's own. Arguments and results are model content and stay out of the logs altogether.
    private void LogToolCall(AgentDefinition agent, int step, string name)
    {
        if (!tools.Contains(name))
        {
            LogToolNotInRegistry(logger, agent.Name, step);
        }
        else if (!agent.Tools.Contains(name, StringComparer.Ordinal))
        {
            LogToolNotAllowed(logger, agent.Name, step, name);
        }
        else
        {
            LogToolCalled(logger, agent.Name, step, name);
        }
    }

    [LoggerMessage(EventId = 1300, EventName = "AgentAnswered", Level = LogLevel.Information,
        Message = "Agent {Agent} answered after {Steps} model calls (finish reason {FinishReason}).")]
    private static partial void LogAgentAnswered(ILogger logger, string agent, int steps, ChatFinishReason finishReason);

    [LoggerMessage(EventId = 1301, EventName = "ToolCalled", Level = LogLevel.Information,
        Message = "Agent {Agent} step {Step} called tool {Tool}.")]
    private static partial void LogToolCalled(ILogger logger, string agent, int step, string tool);

    [LoggerMessage(EventId = 1302, EventName = "AgentStepLimitReached", Level = LogLevel.Warning,
        Message = "Agent {Agent} reached its limit of {MaxSteps} model calls without an answer.")]
    private static partial void LogStepLimitReached(ILogger logger, string agent, int maxSteps);

    [LoggerMessage(EventId = 1303, EventName = "ToolNotInRegistry", Level = LogLevel.Warning,
        Message = "Agent {Agent} step {Step}: the model asked for a tool that is not in the registry; it was told no such tool is available.")]
    private static partial void LogToolNotInRegistry(ILogger logger, string agent, int step);

    [LoggerMessage(EventId = 1304, EventName = "ToolNotAllowed", Level = LogLevel.Warning,
        Message = "Agent {Agent} step {Step}: the model asked for tool {Tool}, which the agent's catalog entry does not list; it was not run.")]
    private static partial void LogToolNotAllowed(ILogger logger, string agent, int step, string tool);
}
