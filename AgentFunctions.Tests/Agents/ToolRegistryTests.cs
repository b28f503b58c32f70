using AgentFunctions.Agents.Tools;
using Microsoft.Extensions.Time.Testing;

namespace AgentFunctions.Tests.Agents;

public sealed class ToolRegistryTests
{
    private readonly ToolRegistry _registry = new([new CurrentTimeTool(new FakeTimeProvider()), new CalculatorTool()]);

    [Fact]
    public void Names_AreExactlyTheHarmlessBuiltIns()
    {
        _registry.Names.Should().BeEquivalentTo(["get_current_time", "calculate"]);
    }

    [Fact]
    public void Invoke_ToolNotAllowedForAgent_ReturnsErrorToModelWithoutRunningIt()
    {
        string result = _registry.Invoke([CurrentTimeTool.ToolName], CalculatorTool.ToolName, BinaryData.FromString("""{"expression":"1+1"}"""));

        result.Should().Be("error: no tool named 'calculate' is available to this agent.");
    }

    [Fact]
    public void Invoke_ToolThrowsUnexpectedly_ReturnsErrorLineInsteadOfFailingTheRun()
    {
        var registry = new ToolRegistry([new FaultyTool()]);

        string result = registry.Invoke(["faulty"], "faulty", BinaryData.FromString("{}"));

        result.Should().Be("error: the tool 'faulty' failed (InvalidOperationException).");
    }

    [Theory]
    [InlineData("not json", "error: the arguments are not valid JSON.")]
    [InlineData("""{"expression":"1+"}""", "error: The expression ends where a number was expected.")]
    [InlineData("""{"expression":"6*7"}""", "42")]
    public void Invoke_Arguments_ReturnResultOrErrorForTheModel(string arguments, string expected)
    {
        _registry.Invoke([CalculatorTool.ToolName], CalculatorTool.ToolName, BinaryData.FromString(arguments)).Should().Be(expected);
    }

    private sealed class FaultyTool : IAgentTool
    {
        public string Name => "faulty";

        public string Description => "Always fails.";

        public BinaryData ParametersSchema { get; } = BinaryData.FromString("{}");

        public string Invoke(System.Text.Json.JsonElement arguments) => throw new InvalidOperationException("boom");
    }
}
