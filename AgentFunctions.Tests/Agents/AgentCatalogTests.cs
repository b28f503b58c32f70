using AgentFunctions.Agents;
using AgentFunctions.Agents.Tools;
using Microsoft.Extensions.Time.Testing;

namespace AgentFunctions.Tests.Agents;

public sealed class AgentCatalogTests
{
    private static readonly ToolRegistry Tools = new([new CurrentTimeTool(new FakeTimeProvider()), new CalculatorTool()]);

    [Fact]
    public void Load_ShippedCatalog_HasAUsefulAgentWithBothBuiltInTools()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "agents.json");

        var catalog = AgentCatalog.Load(path, Tools, defaultDeployment: "chat");

        catalog.TryGet("assistant", out var assistant).Should().BeTrue();
        assistant.Tools.Should().BeEquivalentTo([CurrentTimeTool.ToolName, CalculatorTool.ToolName]);
        assistant.Deployment.Should().Be("chat");
        assistant.MaxSteps.Should().BeInRange(2, AgentCatalog.MaxStepsCeiling);
    }

    [Fact]
    public void Parse_EntryWithOwnDeployment_KeepsItOverTheDefault()
    {
        var catalog = AgentCatalog.Parse("""{"agents":[{"name":"a","instructions":"x","deployment":"gpt-own"}]}""", "test", Tools, "chat");

        catalog.TryGet("A", out var agent).Should().BeTrue("names match case-insensitively in URLs");
        agent.Deployment.Should().Be("gpt-own");
        agent.MaxSteps.Should().Be(5);
        agent.Tools.Should().BeEmpty();
    }

    [Theory]
    [InlineData("not json", "not a valid catalog")]
    [InlineData("""{"agents":[]}""", "non-empty 'agents' array")]
    [InlineData("""{"agents":[{"name":"Bad Name","instructions":"x"}]}""", "'name' must be")]
    [InlineData("""{"agents":[{"name":"a","instructions":"x"},{"name":"a","instructions":"y"}]}""", "used twice")]
    [InlineData("""{"agents":[{"name":"a"}]}""", "'instructions' is required")]
    [InlineData("""{"agents":[{"name":"a","instructions":"x","tools":["read_env"]}]}""", "unknown tool 'read_env'")]
    [InlineData("""{"agents":[{"name":"a","instructions":"x","maxSteps":0}]}""", "'maxSteps' must be between 1 and 20")]
    [InlineData("""{"agents":[{"name":"a","instructions":"x","maxSteps":21}]}""", "'maxSteps' must be between 1 and 20")]
    [InlineData("""{"agents":[{"name":"a","instructions":"x","temperature":2}]}""", "not a valid catalog")]
    public void Parse_InvalidCatalog_ThrowsNamingTheFileAndProblem(string json, string reason)
    {
        var act = () => AgentCatalog.Parse(json, "agents.json", Tools, "chat");

        act.Should().Throw<InvalidOperationException>().WithMessage($"*agents.json*{reason}*");
    }

    [Fact]
    public void Parse_NoDeploymentAnywhere_ThrowsNamingTheSetting()
    {
        var act = () => AgentCatalog.Parse("""{"agents":[{"name":"a","instructions":"x"}]}""", "agents.json", Tools, null);

        act.Should().Throw<InvalidOperationException>().WithMessage("*AzureOpenAI:DefaultDeployment*");
    }

    [Fact]
    public void Load_MissingFile_ThrowsNamingTheSetting()
    {
        var act = () => AgentCatalog.Load("/nonexistent/agents.json", Tools, "chat");

        act.Should().Throw<InvalidOperationException>().WithMessage("*Agents:CatalogPath*");
    }
}
