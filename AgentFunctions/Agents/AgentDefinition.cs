namespace AgentFunctions.Agents;

/// <summary>One agent as the operator describes it in the catalog.</summary>
public sealed record AgentDefinition(
    string Name,
    string Description,
    string Instructions,
    string Deployment,
    IReadOnlyList<string> Tools,
    int MaxSteps);
