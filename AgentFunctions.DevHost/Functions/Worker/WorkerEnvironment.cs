using System.Text.RegularExpressions;

namespace AgentFunctions.DevHost.Functions.Worker;

/// <summary>Builds the worker's environment: the inherited one, cleaned, plus what the Functions host would set.</summary>
internal static partial class WorkerEnvironment
{
    // Each of these can point the worker's Azure SDK clients at a real endpoint, switch them to a real identity, ship
    // telemetry off the machine or route traffic through a proxy. A local run must not pick any of that up by accident
    // from the developer's shell; a caller that wants one (say a loopback proxy) sets it through the options.
    private static readonly string[] RemovedPrefixes =
    [
        "AZURE_", // Azure.Identity's AZURE_CLIENT_ID/TENANT_ID/CLIENT_SECRET/..., authority host, token credentials
        "MSI_",
        "IDENTITY_",
        "IMDS_",
        "APPLICATIONINSIGHTS_",
        "APPINSIGHTS_",
        "OTEL_EXPORTER_",
        "AzureWebJobs", // storage connection strings (but see FunctionDisabledSetting); AzureWebJobsScriptRoot is set below
        "ConnectionStrings__",
        "Functions__Worker__", // the host endpoint and worker id are the host's to give, on the command line
    ];

    private static readonly string[] RemovedNames = ["http_proxy", "https_proxy", "all_proxy", "no_proxy"];

    /// <summary>
    /// Returns the worker's environment and the names (never the values) of the inherited variables that were removed.
    /// </summary>
    public static (Dictionary<string, string> Variables, IReadOnlyList<string> RemovedNames) Build(
        IEnumerable<KeyValuePair<string, string?>> inherited, string appDirectory,
        IEnumerable<KeyValuePair<string, string>> overrides)
    {
        ArgumentNullException.ThrowIfNull(inherited);
        ArgumentNullException.ThrowIfNull(overrides);

        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        var removed = new List<string>();
        foreach (var (name, value) in inherited)
        {
            if (value is null)
            {
                continue;
            }

            if (IsRemoved(name))
            {
                removed.Add(name);
                continue;
            }

            variables[name] = value;
        }

        // FUNCTIONS_APPLICATION_DIRECTORY is the one the worker needs (to find its assembly and host.json); the rest are
        // what the Functions host and Core Tools set, which user code may read.
        var directory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(appDirectory));
        variables["FUNCTIONS_WORKER_DIRECTORY"] = directory;
        variables["FUNCTIONS_APPLICATION_DIRECTORY"] = directory;
        variables["AzureWebJobsScriptRoot"] = directory;
        variables["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated";
        variables["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development";

        foreach (var (name, value) in overrides)
        {
            variables[name] = value;
        }

        removed.Sort(StringComparer.Ordinal);
        return (variables, removed);
    }

    internal static bool IsRemoved(string name) =>
        RemovedNames.Contains(name, StringComparer.OrdinalIgnoreCase)
        || (RemovedPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            && !FunctionDisabledSetting().IsMatch(name)
            && !IsAppIdentitySetting(name));

    // The app's own Identity section (Identity__Source, Identity__ManagedIdentityClientId) starts like the platform's
    // IDENTITY_ENDPOINT and IDENTITY_HEADER, but those have one underscore and a section has two; it chooses among
    // identities the local doubles serve and points nothing anywhere else.
    private static bool IsAppIdentitySetting(string name) => name.StartsWith("Identity__", StringComparison.OrdinalIgnoreCase);

    // AzureWebJobs.<function>.Disabled, or AzureWebJobs__<function>__Disabled where a name cannot hold dots: it switches
    // one function off, as the Functions host honours it, and points nothing anywhere. The name is a function name as
    // the platform allows it (a letter, then letters, digits, '_' or '-'), so no storage setting fits the pattern.
    [GeneratedRegex(@"^AzureWebJobs(\.|__)[A-Za-z][A-Za-z0-9_-]{0,127}\1Disabled$", RegexOptions.IgnoreCase)]
    private static partial Regex FunctionDisabledSetting();
}
