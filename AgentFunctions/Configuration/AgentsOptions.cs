namespace AgentFunctions.Configuration;

/// <summary>Where the agent catalog is and how large a request may be. Section <c>Agents</c>.</summary>
public sealed class AgentsOptions
{
    public const string SectionName = "Agents";

    public const int MaximumInputCharactersCeiling = 100_000;
    public const int MaximumRequestBytesCeiling = 4 * 1024 * 1024;

    /// <summary>The catalog file, absolute or relative to the app's folder. Default: <c>agents.json</c>.</summary>
    public string CatalogPath { get; set; } = "agents.json";

    /// <summary>The longest <c>input</c> accepted, in characters. Default: 8,000; allowed 1 to 100,000.</summary>
    public int MaxInputCharacters { get; set; } = 8_000;

    /// <summary>The largest request body accepted, in bytes. Default: 64 KiB; allowed 1 KiB to 4 MiB.</summary>
    public int MaxRequestBytes { get; set; } = 64 * 1024;
}
