using System.Text.Json;
using AgentFunctions.Composition;
using AgentFunctions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentFunctions.Tests.Configuration;

public sealed class SampleSettingsTests
{
    private static readonly Type[] OptionsTypes =
        [typeof(AzureOpenAIOptions), typeof(KeyVaultOptions), typeof(KeyCacheOptions), typeof(IdentityOptions), typeof(AgentsOptions),
         typeof(RunStateStorageOptions), typeof(ScheduledRunOptions)];

    private static readonly string RepositoryRoot = FindRepositoryRoot();

    [Fact]
    public void SampleSettings_ListEverySettingTheAppReads()
    {
        var values = ReadSampleValues();

        var expected = OptionsTypes.SelectMany(type => type.GetProperties()
            .Select(property => $"{type.GetField("SectionName")!.GetValue(null)}__{property.Name}"));

        values.Keys.Select(key => key.ToUpperInvariant()).Should().Contain(expected.Select(key => key.ToUpperInvariant()));
        values.Keys.Should().Contain(ScheduledRunOptions.ScheduleSettingName);
    }

    [Fact]
    public void SampleSettings_ValidateAsTheyStand()
    {
        var settings = ReadSampleValues().ToDictionary(pair => pair.Key.Replace("__", ":", StringComparison.Ordinal), pair => (string?)pair.Value);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        using var provider = new ServiceCollection().AddLogging().AddAgentFunctions(configuration).BuildServiceProvider();

        var act = () => provider.GetRequiredService<IStartupValidator>().Validate();

        act.Should().NotThrow();
    }

    [Fact]
    public void Readme_DocumentsEverySettingTheAppReads()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot, "README.md"));

        var documented = ReadSampleValues().Keys
            .Where(key => key.Contains("__", StringComparison.Ordinal) || key == ScheduledRunOptions.ScheduleSettingName);
        foreach (string key in documented)
        {
            readme.Should().Contain($"`{key}`", "README's settings table must have a row for every setting");
        }
    }

    [Fact]
    public void SampleSettings_HoldNoSecretLookingValue()
    {
        ReadSampleValues().Values.Should().NotContain(value =>
            value.Contains("AccountKey=", StringComparison.OrdinalIgnoreCase)
            || value.Contains("SharedAccessSignature", StringComparison.OrdinalIgnoreCase)
            || System.Text.RegularExpressions.Regex.IsMatch(value, "[A-Za-z0-9+/=]{32,}"));
        ReadSampleValues().Keys.Should().NotContain(key => key.Contains("ApiKey", StringComparison.OrdinalIgnoreCase));
    }

    private static Dictionary<string, string> ReadSampleValues()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot, "local.settings.sample.json")));
        return document.RootElement.GetProperty("Values").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "AgentFunctions.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (with AgentFunctions.sln) was not found above the test output.");
    }
}
