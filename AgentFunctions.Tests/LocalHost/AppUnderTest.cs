using AgentFunctions.DevHost;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.Tests.Doubles;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>Host options for the real AgentFunctions worker, configured against the process's shared doubles and Azurite.</summary>
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
        foreach (var (name, value) in LocalDevelopmentHost.CreateWorkerEnvironment(SharedLocalAzure.Instance, SharedLocalAzure.Storage, appSettings))
        {
            options.EnvironmentVariables[name] = value;
        }

        return options;
    }
}
