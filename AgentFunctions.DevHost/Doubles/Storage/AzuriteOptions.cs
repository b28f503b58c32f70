using System.Security.Cryptography.X509Certificates;
using AgentFunctions.DevHost.Functions;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>Settings for <see cref="AzuriteProcess"/>; each default is what the local host runs with.</summary>
internal sealed class AzuriteOptions
{
    /// <summary>Key of the assembly metadata attribute that records where the build installed Azurite.</summary>
    internal const string InstallDirectoryMetadataKey = "AgentFunctions.AzuriteDirectory";

    /// <summary>
    /// The folder whose <c>node_modules</c> holds Azurite (<c>tools/azurite</c> of the repository, installed by the
    /// DevHost build). Default: the folder this build recorded.
    /// </summary>
    public string InstallDirectory { get; init; } = GetDefaultInstallDirectory();

    /// <summary>The Node.js executable, looked up on PATH unless rooted. Default <c>node</c>.</summary>
    public string NodeExecutable { get; init; } = "node";

    /// <summary>
    /// A server certificate with its private key. When set, every service speaks HTTPS with it; when null, plain HTTP.
    /// </summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>
    /// Accept bearer tokens (<c>--oauth basic</c>), so clients can connect as an identity does in Azure. Needs
    /// <see cref="Certificate"/>: Azurite refuses bearer tokens over HTTP. Default false.
    /// </summary>
    public bool OAuth { get; init; }

    /// <summary>How long Azurite may take to listen on all three services and answer. Default 30 s.</summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Cap on the memory Azurite keeps message and blob content in, in megabytes. Default 256; Azurite's own default is
    /// half of the machine's memory.
    /// </summary>
    public int ExtentMemoryLimitMegabytes { get; init; } = 256;

    /// <summary>The folder this build recorded as Azurite's install folder.</summary>
    public static string GetDefaultInstallDirectory() =>
        FunctionAppLocator.ReadBuildMetadata(InstallDirectoryMetadataKey) is { Length: > 0 } directory
            ? directory
            : throw new FunctionsHostException(
                $"This build of the local host does not record where Azurite is installed (assembly metadata " +
                $"'{InstallDirectoryMetadataKey}' is missing). Rebuild with 'dotnet build AgentFunctions.sln'.");

    internal void Validate()
    {
        if (OAuth && Certificate is null)
        {
            throw new ArgumentException(
                $"{nameof(OAuth)} needs a {nameof(Certificate)}: Azurite accepts bearer tokens only over HTTPS.",
                nameof(OAuth));
        }

        if (Certificate is { HasPrivateKey: false })
        {
            throw new ArgumentException($"{nameof(Certificate)} must carry its private key.", nameof(Certificate));
        }

        if (StartupTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(
                nameof(StartupTimeout), StartupTimeout, $"{nameof(StartupTimeout)} must be a positive duration.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(ExtentMemoryLimitMegabytes, 16, nameof(ExtentMemoryLimitMegabytes));
        ArgumentException.ThrowIfNullOrWhiteSpace(InstallDirectory, nameof(InstallDirectory));
    }
}
