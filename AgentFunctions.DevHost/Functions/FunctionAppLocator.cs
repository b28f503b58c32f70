using System.Reflection;

namespace AgentFunctions.DevHost.Functions;

/// <summary>Finds the AgentFunctions build output that MSBuild recorded into this assembly at build time.</summary>
internal static class FunctionAppLocator
{
    /// <summary>Key of the assembly metadata attribute written by AgentFunctions.DevHost.csproj.</summary>
    internal const string AppDirectoryMetadataKey = "AgentFunctions.AppDirectory";

    public static string GetDefaultAppDirectory()
    {
        var directory = ReadBuildMetadata(AppDirectoryMetadataKey);

        return string.IsNullOrEmpty(directory)
            ? throw new FunctionsHostException(
                $"This build of the local host does not record where the function app is built (assembly metadata " +
                $"'{AppDirectoryMetadataKey}' is missing). Rebuild with 'dotnet build AgentFunctions.sln' or set the app " +
                "directory explicitly.")
            : directory;
    }

    /// <summary>A value MSBuild recorded into this assembly (see AgentFunctions.DevHost.csproj), or null.</summary>
    internal static string? ReadBuildMetadata(string key) => typeof(FunctionAppLocator).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .FirstOrDefault(attribute => attribute.Key == key)?.Value;
}
