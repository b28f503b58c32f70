using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;
using AgentFunctions.Agents.Tools;

namespace AgentFunctions.Agents;

/// <summary>
/// The agents this app serves, read once at start-up from a JSON file the operator edits. A catalog that does not
/// validate stops the app with a message naming the file and the entry, rather than failing requests later.
/// </summary>
public sealed class AgentCatalog
{
    public const int MaxStepsCeiling = 20;
    private const int MaxNameLength = 64;

    private readonly FrozenDictionary<string, AgentDefinition> _agents;

    private AgentCatalog(IEnumerable<AgentDefinition> agents) =>
        _agents = agents.ToFrozenDictionary(agent => agent.Name, StringComparer.OrdinalIgnoreCase);

    public IReadOnlyCollection<AgentDefinition> Agents => _agents.Values;

    public bool TryGet(string name, out AgentDefinition agent) => _agents.TryGetValue(name, out agent!);

    public static AgentCatalog Load(string path, ToolRegistry tools, string? defaultDeployment)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"The agent catalog '{path}' does not exist (setting Agents:CatalogPath).");
        }

        return Parse(File.ReadAllText(path), path, tools, defaultDeployment);
    }

    public static AgentCatalog Parse(string json, string source, ToolRegistry tools, string? defaultDeployment)
    {
        ArgumentNullException.ThrowIfNull(tools);
        CatalogDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(json, CatalogJsonContext.Default.CatalogDocument);
        }
        catch (JsonException exception)
        {
            throw new InvalidOperationException($"The agent catalog '{source}' is not a valid catalog document: {exception.Message}", exception);
        }

        if (document?.Agents is not { Count: > 0 } entries)
        {
            throw new InvalidOperationException($"The agent catalog '{source}' must have a non-empty 'agents' array.");
        }

        var agents = new List<AgentDefinition>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int index = 0; index < entries.Count; index++)
        {
            var entry = entries[index];
            string where = $"The agent catalog '{source}', entry {index} ('{entry?.Name}')";
            if (entry is null)
            {
                throw new InvalidOperationException($"{where}: is null.");
            }

            if (!IsValidName(entry.Name))
            {
                throw new InvalidOperationException(
                    $"{where}: 'name' must be 1 to {MaxNameLength} lower-case letters, digits or dashes; it is used in the URL.");
            }

            if (!names.Add(entry.Name!))
            {
                throw new InvalidOperationException($"{where}: the name is used twice.");
            }

            if (string.IsNullOrWhiteSpace(entry.Instructions))
            {
                throw new InvalidOperationException($"{where}: 'instructions' is required.");
            }

            string? deployment = string.IsNullOrWhiteSpace(entry.Deployment) ? defaultDeployment : entry.Deployment;
            if (string.IsNullOrWhiteSpace(deployment))
            {
                throw new InvalidOperationException(
                    $"{where}: names no 'deployment' and AzureOpenAI:DefaultDeployment is not set.");
            }

            var toolNames = entry.Tools ?? [];
            foreach (string? tool in toolNames)
            {
                if (tool is null || !tools.Contains(tool))
                {
                    throw new InvalidOperationException(
                        $"{where}: unknown tool '{tool}'. Available tools: {string.Join(", ", tools.Names.Order(StringComparer.Ordinal))}.");
                }
            }

            int maxSteps = entry.MaxSteps ?? 5;
            if (maxSteps < 1 || maxSteps > MaxStepsCeiling)
            {
                throw new InvalidOperationException($"{where}: 'maxSteps' must be between 1 and {MaxStepsCeiling}; it is {maxSteps}.");
            }

            agents.Add(new AgentDefinition(entry.Name!, entry.Description ?? string.Empty, entry.Instructions, deployment,
                toolNames.Distinct(StringComparer.Ordinal).ToArray()!, maxSteps));
        }

        return new AgentCatalog(agents);
    }

    private static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= MaxNameLength
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    internal sealed class CatalogDocument
    {
        public List<CatalogEntry?>? Agents { get; set; }
    }

    internal sealed class CatalogEntry
    {
        public string? Name { get; set; }

        public string? Description { get; set; }

        public string? Instructions { get; set; }

        public string? Deployment { get; set; }

        public List<string?>? Tools { get; set; }

        public int? MaxSteps { get; set; }
    }
}

[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(AgentCatalog.CatalogDocument))]
internal sealed partial class CatalogJsonContext : JsonSerializerContext;
