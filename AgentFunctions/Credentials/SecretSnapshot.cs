namespace AgentFunctions.Credentials;

/// <summary>One version of the secret as read from the vault. Immutable, so a cache hit can hand out the same instance.</summary>
public sealed class SecretSnapshot(string value, string version, DateTimeOffset readAt)
{
    /// <summary>The secret value. Never log it, put it in an exception, or return it over HTTP.</summary>
    public string Value { get; } = value;

    /// <summary>The vault's version id of this value; safe to log.</summary>
    public string Version { get; } = version;

    /// <summary>When this value was read from the vault.</summary>
    public DateTimeOffset ReadAt { get; } = readAt;

    /// <summary>Keeps the value out of anything that formats the object.</summary>
    public override string ToString() => $"secret version {Version} read at {ReadAt:O}";
}
