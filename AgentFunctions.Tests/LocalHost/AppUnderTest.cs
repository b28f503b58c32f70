using AgentFunctions.DevHost;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.Tests.Doubles;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>
/// Host options for the real AgentFunctions worker, configured against the process's shared doubles and shared Azurite,
/// so that queue and timer functions have the storage connections they have under <c>dotnet run</c>.
/// </summary>
internal static class AppUnderTest
{
    public static FunctionsHostOptions CreateHostOptions(long maxRequestBodySize = FunctionsHostOptions.DefaultMaxRequestBodySize,
        IReadOnlyDictionary<string, string>? appSettings = null)
    {
        var options = new FunctionsHostOptions
        {
            AppDirectory = FunctionsHostOptions.GetBuiltAppDirectory(),
            MaxRequestBodySize = maxRequestBodySize,
        };
        var environment = LocalDevelopmentHost.CreateWorkerEnvironment(SharedLocalAzure.Instance, SharedLocalStorage.Instance,
            appSettings);
        foreach (var (name, value) in environment)
        {
            options.EnvironmentVariables[name] = value;
        }

        return options;
    }
}
