using System.Text.Json;
using AgentFunctions.Agents.Tools;

namespace AgentFunctions.Tests.Agents;

public sealed class CalculatorToolTests
{
    [Theory]
    [InlineData("1 + 2", 3)]
    [InlineData("(17 + 25) * 2", 84)]
    [InlineData("2 + 3 * 4", 14)]
    [InlineData("10 / 4", 2.5)]
    [InlineData("-(3 - 5) * -2", -4)]
    [InlineData("  7.5*2 ", 15)]
    [InlineData("8 - 2 - 1", 5)]
    public void Evaluate_ValidExpression_ReturnsArithmeticResult(string expression, double expected) =>
        CalculatorTool.Evaluate(expression).Should().Be(expected);

    [Theory]
    [InlineData("", "ends where a number was expected")]
    [InlineData("2 +", "ends where a number was expected")]
    [InlineData("(1 + 2", "not closed")]
    [InlineData("1 + 2)", "Unexpected ')'")]
    [InlineData("2 ^ 3", "Unexpected '^'")]
    [InlineData("Environment.GetEnvironmentVariables()", "Unexpected 'E'")]
    [InlineData("1 / 0", "not a finite number")]
    [InlineData("1..2", "is not a number")]
    public void Evaluate_InvalidExpression_ThrowsToolArgumentExceptionSayingWhy(string expression, string reason)
    {
        var act = () => CalculatorTool.Evaluate(expression);

        act.Should().Throw<ToolArgumentException>().WithMessage($"*{reason}*");
    }

    [Fact]
    public void Evaluate_DeeplyNestedExpression_IsRefusedRatherThanOverflowingTheStack()
    {
        string nested = new string('(', 100) + "1" + new string(')', 100);

        var act = () => CalculatorTool.Evaluate(nested);

        act.Should().Throw<ToolArgumentException>().WithMessage("*nests deeper*");
    }

    [Fact]
    public void Evaluate_OverlongExpression_IsRefused()
    {
        var act = () => CalculatorTool.Evaluate(string.Join('+', Enumerable.Repeat("1", 200)));

        act.Should().Throw<ToolArgumentException>().WithMessage("*longer than 256*");
    }

    [Fact]
    public void Invoke_ArgumentsWithoutExpression_ThrowsToolArgumentException()
    {
        using var document = JsonDocument.Parse("""{"expr": "1+1"}""");

        var act = () => new CalculatorTool().Invoke(document.RootElement);

        act.Should().Throw<ToolArgumentException>().WithMessage("*'expression'*");
    }

    [Fact]
    public void Invoke_Expression_ReturnsInvariantCultureText()
    {
        using var document = JsonDocument.Parse("""{"expression": "1 / 8"}""");

        new CalculatorTool().Invoke(document.RootElement).Should().Be("0.125");
    }
}
