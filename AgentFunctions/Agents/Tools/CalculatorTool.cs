using System.Globalization;
using System.Text.Json;

namespace AgentFunctions.Agents.Tools;

/// <summary>
/// Evaluates an arithmetic expression with + - * /, parentheses, unary minus and decimal numbers. A small parser of its
/// own rather than any general evaluator, so that nothing but arithmetic can ever run.
/// </summary>
public sealed class CalculatorTool : IAgentTool
{
    public const string ToolName = "calculate";
    public const int MaxExpressionLength = 256;
    private const int MaxNesting = 32;

    public string Name => ToolName;

    public string Description => "Evaluates an arithmetic expression using + - * / and parentheses, e.g. (17 + 25) * 2.";

    public BinaryData ParametersSchema { get; } = BinaryData.FromString("""
        {
          "type": "object",
          "properties": {
            "expression": { "type": "string", "description": "The expression, e.g. (17 + 25) * 2." }
          },
          "required": ["expression"],
          "additionalProperties": false
        }
        """);

    public string Invoke(JsonElement arguments)
    {
        if (arguments.ValueKind != JsonValueKind.Object || !arguments.TryGetProperty("expression", out var expression)
            || expression.ValueKind != JsonValueKind.String)
        {
            throw new ToolArgumentException("calculate needs an object with a string property 'expression'.");
        }

        double result = Evaluate(expression.GetString()!);
        return result.ToString("G15", CultureInfo.InvariantCulture);
    }

    public static double Evaluate(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        if (expression.Length > MaxExpressionLength)
        {
            throw new ToolArgumentException($"The expression is longer than {MaxExpressionLength} characters.");
        }

        var parser = new Parser(expression);
        double value = parser.ParseExpression(0);
        parser.SkipSpaces();
        if (!parser.AtEnd)
        {
            throw new ToolArgumentException($"Unexpected '{parser.Current}' at position {parser.Position + 1}.");
        }

        return double.IsFinite(value) ? value : throw new ToolArgumentException("The result is not a finite number (division by zero?).");
    }

    private ref struct Parser(string text)
    {
        private readonly string _text = text;
        private int _position;

        public readonly bool AtEnd => _position >= _text.Length;

        public readonly int Position => _position;

        public readonly char Current => _text[_position];

        public void SkipSpaces()
        {
            while (!AtEnd && char.IsWhiteSpace(Current))
            {
                _position++;
            }
        }

        // expression := term (('+' | '-') term)*
        public double ParseExpression(int depth)
        {
            double value = ParseTerm(depth);
            while (true)
            {
                SkipSpaces();
                if (AtEnd || (Current != '+' && Current != '-'))
                {
                    return value;
                }

                char op = Current;
                _position++;
                double right = ParseTerm(depth);
                value = op == '+' ? value + right : value - right;
            }
        }

        // term := factor (('*' | '/') factor)*
        private double ParseTerm(int depth)
        {
            double value = ParseFactor(depth);
            while (true)
            {
                SkipSpaces();
                if (AtEnd || (Current != '*' && Current != '/'))
                {
                    return value;
                }

                char op = Current;
                _position++;
                double right = ParseFactor(depth);
                value = op == '*' ? value * right : value / right;
            }
        }

        // factor := '-' factor | '(' expression ')' | number
        private double ParseFactor(int depth)
        {
            if (depth > MaxNesting)
            {
                throw new ToolArgumentException($"The expression nests deeper than {MaxNesting} levels.");
            }

            SkipSpaces();
            if (AtEnd)
            {
                throw new ToolArgumentException("The expression ends where a number was expected.");
            }

            if (Current == '-')
            {
                _position++;
                return -ParseFactor(depth + 1);
            }

            if (Current == '(')
            {
                _position++;
                double inner = ParseExpression(depth + 1);
                SkipSpaces();
                if (AtEnd || Current != ')')
                {
                    throw new ToolArgumentException("A '(' is not closed.");
                }

                _position++;
                return inner;
            }

            int start = _position;
            while (!AtEnd && (char.IsAsciiDigit(Current) || Current == '.'))
            {
                _position++;
            }

            if (start == _position)
            {
                throw new ToolArgumentException($"Unexpected '{Current}' at position {_position + 1}.");
            }

            return double.TryParse(_text.AsSpan(start, _position - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture,
                out double number)
                ? number
                : throw new ToolArgumentException($"'{_text[start.._position]}' is not a number.");
        }
    }
}
