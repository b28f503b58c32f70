using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Xml.Linq;

namespace AgentFunctions.Tests.Infrastructure;

/// <summary>Output of one Bicep CLI run.</summary>
internal sealed record BicepResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Everything the CLI printed, trimmed: empty when it had nothing to report.</summary>
    public string Diagnostics => (StandardOutput + StandardError).Trim();
}

/// <summary>
/// The Bicep CLI that the test project downloads from NuGet (a <c>PackageDownload</c> in AgentFunctions.Tests.csproj).
/// Every command is run with <c>--no-restore</c>: a restore asks aka.ms for the public module index, and these tests
/// must not reach anything beyond this machine.
/// </summary>
internal sealed class BicepCli
{
    private const string PackageId = "Azure.Bicep.CommandLine.linux-x64";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private BicepCli(string executablePath, string version)
    {
        ExecutablePath = executablePath;
        Version = version;
    }

    public string ExecutablePath { get; }

    public string Version { get; }

    /// <summary>Finds the CLI in the NuGet package folder, or throws with the steps that put it there.</summary>
    public static BicepCli Locate(string repositoryRoot)
    {
        var version = ReadPinnedVersion(repositoryRoot);
        var packagesRoot = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var executable = Path.Combine(packagesRoot, PackageId.ToLowerInvariant(), version, "tools", "bicep");

        if (!OperatingSystem.IsLinux() || RuntimeInformation.OSArchitecture != Architecture.X64)
        {
            throw new InvalidOperationException(
                $"The infrastructure tests run the linux-x64 Bicep CLI ({PackageId} {version}); this machine is " +
                $"{RuntimeInformation.OSDescription} {RuntimeInformation.OSArchitecture}. Run them on Linux x64 (as CI does).");
        }

        if (!File.Exists(executable))
        {
            throw new InvalidOperationException(
                $"The Bicep CLI was not found at '{executable}'. It comes from the PackageDownload of {PackageId} " +
                $"{version} in AgentFunctions.Tests.csproj: run 'dotnet restore AgentFunctions.sln' (or 'dotnet test', " +
                "which restores first) with access to the NuGet feed. If NUGET_PACKAGES points elsewhere, the tests " +
                "look there.");
        }

        EnsureExecutable(executable);
        return new BicepCli(executable, version);
    }

    public async Task<BicepResult> RunAsync(params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(ExecutablePath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start '{ExecutablePath}'.");
        var standardOutput = process.StandardOutput.ReadToEndAsync();
        var standardError = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException(
                $"'bicep {string.Join(' ', arguments)}' did not finish within {Timeout.TotalSeconds:0} s.");
        }

        return new BicepResult(process.ExitCode, await standardOutput.ConfigureAwait(false),
            await standardError.ConfigureAwait(false));
    }

    private static string ReadPinnedVersion(string repositoryRoot)
    {
        var projectFile = Path.Combine(repositoryRoot, "AgentFunctions.Tests", "AgentFunctions.Tests.csproj");
        var download = XDocument.Load(projectFile).Descendants("PackageDownload")
            .SingleOrDefault(item =>
                string.Equals((string?)item.Attribute("Include"), PackageId, StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidOperationException($"{projectFile} has no PackageDownload of {PackageId}.");

        // PackageDownload takes an exact version only: [x.y.z].
        return ((string?)download.Attribute("Version") ?? string.Empty).Trim('[', ']');
    }

    private static void EnsureExecutable(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        const UnixFileMode executeBits = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        var mode = File.GetUnixFileMode(path);
        if ((mode & UnixFileMode.UserExecute) == 0)
        {
            // NuGet extracts files without their execute bit on some systems.
            File.SetUnixFileMode(path, mode | executeBits);
        }
    }
}
