using System.Text.RegularExpressions;

namespace AgentFunctions.Tests.Infrastructure;

[Collection(InfrastructureTestGroup.Name)]
public sealed partial class BicepCompilationTests(InfrastructureFixture infra)
{
    [Fact]
    public void Build_MainTemplate_SucceedsWithoutDiagnostics()
    {
        infra.Build.ExitCode.Should().Be(0);
        infra.Build.Diagnostics.Should().BeEmpty("bicep build reports linter warnings too, and there should be none");
    }

    [Fact]
    public void Lint_MainTemplateAndModules_ReportsNothing()
    {
        infra.Lint.ExitCode.Should().Be(0);
        infra.Lint.Diagnostics.Should().BeEmpty();
    }

    [Fact]
    public void BuildParams_EveryScenario_MatchesTheTemplateParameters()
    {
        // build-params type-checks each value against main.bicep (allowed values, ranges, names).
        infra.BuildParams.ExitCode.Should().Be(0);
        infra.BuildParams.Diagnostics.Should().BeEmpty();
    }

    [Fact]
    public void Modules_All_AreLocalFilesThatExist()
    {
        var references = Directory.GetFiles(InfrastructureFixture.InfraFolder, "*.bicep", SearchOption.AllDirectories)
            .SelectMany(file => ModuleOrImportPath().Matches(File.ReadAllText(file))
                .Select(match => (File: file, Path: match.Groups["path"].Value)))
            .ToList();

        references.Should().HaveCountGreaterThan(10, "main.bicep calls a dozen modules");
        foreach (var (file, path) in references)
        {
            path.Should().NotContain(":", $"{file} must use local modules only (no registry such as br/public)");
            File.Exists(Path.Combine(Path.GetDirectoryName(file)!, path)).Should().BeTrue($"{file} refers to {path}");
        }
    }

    [Fact]
    public void RoleGuids_InBicepSources_AreDeclaredOnlyInRoleDefinitions()
    {
        var roleDefinitions = Path.Combine(InfrastructureFixture.InfraFolder, "core", "security", "role-definitions.bicep");

        var filesWithGuids = Directory.GetFiles(InfrastructureFixture.InfraFolder, "*.bicep", SearchOption.AllDirectories)
            .Where(file => GuidLiteral().IsMatch(File.ReadAllText(file)))
            .ToList();

        filesWithGuids.Should().Equal([roleDefinitions], "every role GUID is named once, in role-definitions.bicep");
    }

    [Fact]
    public void Tags_EveryTaggableResource_CarriesTheAzdEnvironmentName()
    {
        var tagged = infra.Deployment(Scenario.CreatedWithKey).Deployed()
            .Where(r => r.Json.ContainsKey("location") && r.Type != "Microsoft.Resources/deployments")
            .ToList();

        tagged.Should().NotBeEmpty();
        foreach (var resource in tagged)
        {
            var tags = resource.Evaluate("tags") as Dictionary<string, object?>;
            tags.Should().NotBeNull($"{resource} has a location and should be tagged");
            tags!.Should().ContainKey("azd-env-name").WhoseValue.Should().Be("ci", $"{resource} belongs to the azd environment");
        }
    }

    [GeneratedRegex(@"^\s*(?:module\s+\w+|import\s+.+\s+from)\s+'(?<path>[^']+)'", RegexOptions.Multiline)]
    private static partial Regex ModuleOrImportPath();

    [GeneratedRegex(@"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")]
    private static partial Regex GuidLiteral();
}
