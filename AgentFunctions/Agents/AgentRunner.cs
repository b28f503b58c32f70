using AgentFunctions.Agents.Tools;
using AgentFunctions.Model;
using Microsoft.Extensions.Logging;
using OpenAI.Chat;

namespace AgentFunctions.Agents;

/// <summary>The outcome of one agent run: its answer, how many model calls it took and the tokens they used.</summary>
public sealed record AgentRunResult(string Agent, string Output, int Steps, int PromptTokens, int CompletionTokens);

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
    public async Task<AgentRunResult> RunAsync(AgentDefinition agent, string input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(input);

        List<ChatMessage> messages = [new SystemChatMessage(agent.Instructions), new UserChatMessage(input)];
        var options = new ChatCompletionOptions();
        foreach (string tool in agent.Tools)
        {
            options.Tools.Add(tools.GetDefinition(tool));
        }

        int promptTokens = 0;
        int completionTokens = 0;
        for (int step = 1; step <= agent.MaxSteps; step++)
        {
            var completion = await model.CompleteAsync(agent.Deployment, messages, options, cancellationToken).ConfigureAwait(false);
            promptTokens += completion.Usage?.InputTokenCount ?? 0;
            completionTokens += completion.Usage?.OutputTokenCount ?? 0;

            if (completion.ToolCalls.Count == 0)
            {
                string output = string.Concat(completion.Content.Select(part => part.Text));
                LogAgentAnswered(logger, agent.Name, step, completion.FinishReason);
                return new AgentRunResult(agent.Name, output, step, promptTokens, completionTokens);
            }

            messages.Add(new AssistantChatMessage(completion));
            foreach (var call in completion.ToolCalls)
            {
                // Tool names are the app's own; arguments and results are model content and stay out of the logs.
                LogToolCalled(logger, agent.Name, step, call.FunctionName);
                messages.Add(new ToolChatMessage(call.Id, tools.Invoke(agent.Tools, call.FunctionName, call.FunctionArguments)));
            }
        }

        LogStepLimitReached(logger, agent.Name, agent.MaxSteps);
        throw new AgentStepLimitException(agent.Name, agent.MaxSteps);
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
}
