using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Metadata;
using AgentFunctions.DevHost.Functions.Protocol;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>Function metadata shaped like what the real worker reports, for tests that need no worker.</summary>
internal static class TestFunctions
{
    /// <summary>The Health function's raw bindings exactly as Worker 2.52 reported them in FunctionMetadataResponse.</summary>
    public const string HealthTrigger =
        """{"name":"request","type":"httpTrigger","direction":"In","authLevel":"Anonymous","methods":["get"],"route":"health"}""";

    public const string HttpReturn = """{"name":"$return","type":"http","direction":"Out"}""";

    public static LoadedFunction Create(string name, params string[] rawBindings) =>
        Create(name, HostJsonSettings.Default, rawBindings);

    public static LoadedFunction Create(string name, HostJsonSettings hostSettings, params string[] rawBindings)
    {
        var metadata = new RpcFunctionMetadata
        {
            Name = name,
            FunctionId = $"id-{name}",
            ScriptFile = "AgentFunctions.dll",
            EntryPoint = $"AgentFunctions.Functions.{name}.Run",
            Language = "dotnet-isolated",
        };
        metadata.RawBindings.AddRange(rawBindings);
        return FunctionMetadataParser.Parse(metadata, hostSettings);
    }

    public static LoadedFunction Health() => Create("Health", HealthTrigger, HttpReturn);
}
