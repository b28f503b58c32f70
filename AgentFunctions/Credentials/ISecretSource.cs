namespace AgentFunctions.Credentials;

/// <summary>Reads the current version of one named secret.</summary>
public interface ISecretSource
{
    /// <summary>A name for logs and operator messages, e.g. the secret name and vault; never the value.</summary>
    string Description { get; }

    /// <summary>Reads the current version. Failures surface as <see cref="SecretSourceException"/>.</summary>
    Task<SecretSnapshot> ReadAsync(CancellationToken cancellationToken);
}
