using System.Text.Json;

namespace AgentFunctions.Agents.Tools;

/// <summary>
/// A function the model may call. Tools are pure computations over their arguments: none reads environment variables,
/// configuration or files, or reaches the network, because the identity endpoint's secret header lives in the
/// environment and a prompt injection must find nothing to exfiltrate through a tool.
/// </summary>
public interface IAgentTool
{
    /// <summary>The name the model calls, e.g. <c>get_current_time</c>.</summary>
    string Name { get; }

    string Description { get; }

    /// <summary>The JSON schema of the arguments object.</summary>
    BinaryData ParametersSchema { get; }

    /// <summary>Runs the tool. Bad arguments throw <see cref="ToolArgumentException"/>, whose message goes back to the model.</summary>
    string Invoke(JsonElement arguments);
}

/// <summary>The model called a tool with arguments it cannot use; the message is returned to the model so it can correct itself.</summary>
public sealed class ToolArgumentException(string message) : Exception(message);
