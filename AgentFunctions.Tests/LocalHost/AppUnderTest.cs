using AgentFunctions.DevHost;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.Tests.Doubles;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>Host options for the real AgentFunctions worker, configured against the process's shared doubles and Azurite.</summary>
internal static class AppUnderTest
{
    /// <param name="inheritedEnvironment">What the worker inherits in place of this process's environment (a shell).</param>
    public static FunctionsHostOptions CreateHostOptions(long maxRequestBodySize = FunctionsHostOptions.DefaultMaxRequestBodySize,
        IReadOnlyDictionary<string, string>? appSettings = null, IReadOnlyDictionary<string, string?>? inheritedEnvironment = null)
    {
        var options = new FunctionsHostOptions
        {
            AppDirectory = FunctionsHostOptions.GetBuiltAppDirectory(),
            MaxRequestBodySize = maxRequestBodySize,
            InheritedEnvironment = inheritedEnvironment,
        };
        foreach (var (name, value) in LocalDevelopmentHost.CreateWorkerEnvironment(SharedLocalAzure.Instance, SharedLocalAzure.Storage, appSettings))
        {
            options.EnvironmentVariables[name] = value;
        }

        return options;
    }
}
