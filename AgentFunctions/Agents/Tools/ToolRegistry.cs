using System.Collections.Frozen;
using System.Text.Json;
using OpenAI.Chat;

namespace AgentFunctions.Agents.Tools;

/// <summary>The built-in tools an agent catalog may name. Catalog entries cannot add tools of their own.</summary>
public sealed class ToolRegistry
{
    private readonly FrozenDictionary<string, IAgentTool> _tools;
    private readonly FrozenDictionary<string, ChatTool> _definitions;

    public ToolRegistry(IEnumerable<IAgentTool> tools)
    {
        _tools = tools.ToFrozenDictionary(tool => tool.Name, StringComparer.Ordinal);
        _definitions = _tools.Values.ToFrozenDictionary(
            tool => tool.Name,
            tool => ChatTool.CreateFunctionTool(tool.Name, tool.Description, tool.ParametersSchema),
            StringComparer.Ordinal);
    }

    public IReadOnlyCollection<string> Names => _tools.Keys;

    public bool Contains(string name) => _tools.ContainsKey(name);

    public ChatTool GetDefinition(string name) => _definitions[name];

    /// <summary>
    /// Runs a tool call and returns what goes back to the model: the result, or an error line the model can act on.
    /// An agent may only call the tools its catalog entry names.
    /// </summary>
    public string Invoke(IReadOnlyCollection<string> allowedTools, string name, BinaryData arguments)
    {
        if (!allowedTools.Contains(name) || !_tools.TryGetValue(name, out var tool))
        {
            return $"error: no tool named '{name}' is available to this agent.";
        }

        try
        {
            using var document = JsonDocument.Parse(arguments.ToMemory(), new JsonDocumentOptions { MaxDepth = 16 });
            return tool.Invoke(document.RootElement);
        }
        catch (JsonException)
        {
            return "error: the arguments are not valid JSON.";
        }
        catch (ToolArgumentException exception)
        {
            return "error: " + exception.Message;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // A tool fault must not end the run: the model hears that the tool failed and may try otherwise.
            return $"error: the tool '{name}' failed ({exception.GetType().Name}).";
        }
    }
}
