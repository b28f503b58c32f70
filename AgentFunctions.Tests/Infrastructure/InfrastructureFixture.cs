using System.Text.Json.Nodes;

namespace AgentFunctions.Tests.Infrastructure;

/// <summary>The deployment choices the tests compile main.bicep for, each a small .bicepparam file.</summary>
internal static class Scenario
{
    /// <summary>Defaults: a new Azure OpenAI account whose key1 the deployment writes into the vault.</summary>
    public const string CreatedWithKey = "created-key";

    /// <summary>A new account in keyless mode: local auth off, an RBAC role instead of a key.</summary>
    public const string CreatedKeyless = "created-keyless";

    /// <summary>An existing endpoint whose key the operator passes once; the template writes it into the vault.</summary>
    public const string ExistingWithOperatorKey = "existing-operator-key";

    /// <summary>An existing endpoint, no key passed: the vault keeps the value it already holds.</summary>
    public const string ExistingKeepsVaultValue = "existing-kept-key";

    /// <summary>An existing endpoint in keyless mode.</summary>
    public const string ExistingKeyless = "existing-keyless";

    /// <summary>Every optional knob set: cache time to live, closed vault network, 4 GB instances.</summary>
    public const string Tuned = "tuned";

    public const string ExistingEndpoint = "https://contoso-agents.openai.azure.com/";

    /// <summary>Test stand-in for an operator's key: plainly not a key, so a leak of it is easy to spot.</summary>
    public const string OperatorKeyStandIn = "operator-supplied-test-value";

    public static readonly IReadOnlyDictionary<string, string> Parameters = new Dictionary<string, string>
    {
        [CreatedWithKey] = string.Empty,
        [CreatedKeyless] = "param openAiAuthentication = 'ManagedIdentity'",
        [ExistingWithOperatorKey] = $"""
            param openAiEndpoint = '{ExistingEndpoint}'
            param openAiDeploymentName = 'chat'
            param openAiApiKey = '{OperatorKeyStandIn}'
            """,
        [ExistingKeepsVaultValue] = $"""
            param openAiEndpoint = '{ExistingEndpoint}'
            param openAiDeploymentName = 'chat'
            """,
        [ExistingKeyless] = $"""
            param openAiEndpoint = '{ExistingEndpoint}'
            param openAiDeploymentName = 'chat'
            param openAiAuthentication = 'ManagedIdentity'
            """,
        [Tuned] = """
            param keyCacheTimeToLive = '00:02:00'
            param keyVaultPublicNetworkAccess = 'Disabled'
            param instanceMemoryMB = 4096
            """,
    };
}

/// <summary>
/// Compiles infra/main.bicep once for all infrastructure tests: bicep build, bicep lint, and bicep build-params for
/// every <see cref="Scenario"/>, all into a temporary folder that is deleted afterwards.
/// </summary>
public sealed class InfrastructureFixture : IAsyncLifetime
{
    private readonly Dictionary<string, IReadOnlyList<ArmResource>> _deployments = new(StringComparer.Ordinal);
    private string _workFolder = string.Empty;

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string InfraFolder { get; } = Path.Combine(RepositoryRoot, "infra");

    internal static string MainBicep => Path.Combine(InfraFolder, "main.bicep");

    internal BicepResult Build { get; private set; } = null!;

    internal BicepResult Lint { get; private set; } = null!;

    internal BicepResult BuildParams { get; private set; } = null!;

    /// <summary>The compiled ARM template (main.json).</summary>
    internal JsonObject Template { get; private set; } = null!;

    internal string TemplateText { get; private set; } = string.Empty;

    /// <summary>Every resource, in every module, for the scenario's parameters.</summary>
    internal IReadOnlyList<ArmResource> Deployment(string scenario) => _deployments[scenario];

    public async Task InitializeAsync()
    {
        var bicep = BicepCli.Locate(RepositoryRoot);
        _workFolder = Directory.CreateTempSubdirectory("agentfunctions-infra-").FullName;
        var templateFile = Path.Combine(_workFolder, "main.json");
        var parametersFolder = Path.Combine(_workFolder, "parameters");
        Directory.CreateDirectory(parametersFolder);

        // A .bicepparam file must name its template by relative path.
        var usingPath = Path.GetRelativePath(_workFolder, MainBicep).Replace('\\', '/');
        foreach (var (scenario, lines) in Scenario.Parameters)
        {
            await File.WriteAllTextAsync(Path.Combine(_workFolder, scenario + ".bicepparam"), $"""
                using '{usingPath}'

                param environmentName = 'ci'
                param location = 'eastus'
                {lines}
                """).ConfigureAwait(false);
        }

        // Three independent compilations; each CLI start costs about a second of JIT, so they run side by side.
        var build = bicep.RunAsync("build", MainBicep, "--no-restore", "--outfile", templateFile);
        var lint = bicep.RunAsync("lint", MainBicep, "--no-restore");
        var buildParams = bicep.RunAsync(
            "build-params", "--pattern", Path.Combine(_workFolder, "*.bicepparam"), "--no-restore", "--outdir", parametersFolder);
        Build = await build.ConfigureAwait(false);
        Lint = await lint.ConfigureAwait(false);
        BuildParams = await buildParams.ConfigureAwait(false);

        if (Build.ExitCode != 0 || BuildParams.ExitCode != 0)
        {
            throw new InvalidOperationException(
                "Bicep could not compile infra/main.bicep or the scenario parameters:\n" +
                $"{Build.Diagnostics}\n{BuildParams.Diagnostics}");
        }

        TemplateText = await File.ReadAllTextAsync(templateFile).ConfigureAwait(false);
        Template = JsonNode.Parse(TemplateText)!.AsObject();
        foreach (var scenario in Scenario.Parameters.Keys)
        {
            var parametersFile = await File.ReadAllTextAsync(Path.Combine(parametersFolder, scenario + ".json"))
                .ConfigureAwait(false);
            var parameters = ArmDeployment.ReadParameterFile(JsonNode.Parse(parametersFile)!.AsObject());
            _deployments[scenario] = ArmDeployment.Resources(Template, parameters);
        }
    }

    public Task DisposeAsync()
    {
        if (Directory.Exists(_workFolder))
        {
            Directory.Delete(_workFolder, recursive: true);
        }

        return Task.CompletedTask;
    }

    private static string FindRepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "AgentFunctions.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No AgentFunctions.sln above {AppContext.BaseDirectory}.");
    }
}

[CollectionDefinition(Name)]
public sealed class InfrastructureTestGroup : ICollectionFixture<InfrastructureFixture>
{
    public const string Name = "Infrastructure";
}
