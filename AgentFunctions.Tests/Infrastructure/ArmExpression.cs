using System.Globalization;
using System.Text;

namespace AgentFunctions.Tests.Infrastructure;

/// <summary>A parsed ARM template language expression: the text between the brackets of "[...]".</summary>
internal abstract record ArmExpression
{
    /// <summary>True when a JSON string is an expression ("[...]") and not an escaped literal ("[[...").</summary>
    public static bool IsExpression(string text) =>
        text.Length >= 2 && text[0] == '[' && text[1] != '[' && text[^1] == ']';

    /// <summary>The literal a JSON string stands for when it is not an expression ("[[x]" means "[x]").</summary>
    public static string Unescape(string text) => text.StartsWith("[[", StringComparison.Ordinal) ? text[1..] : text;

    public static ArmExpression Parse(string bracketed)
    {
        if (!IsExpression(bracketed))
        {
            throw new FormatException($"Not an ARM expression: {bracketed}");
        }

        var parser = new Parser(bracketed[1..^1]);
        var expression = parser.ParseExpression();
        parser.ExpectEnd();
        return expression;
    }

    private sealed class Parser(string text)
    {
        private int _position;

        public ArmExpression ParseExpression()
        {
            var expression = ParsePrimary();
            while (true)
            {
                SkipWhitespace();
                if (TryConsume('.'))
                {
                    expression = new ArmMember(expression, ReadIdentifier());
                }
                else if (TryConsume('['))
                {
                    var index = ParseExpression();
                    Expect(']');
                    expression = new ArmIndex(expression, index);
                }
                else
                {
                    return expression;
                }
            }
        }

        public void ExpectEnd()
        {
            SkipWhitespace();
            if (_position != text.Length)
            {
                throw Error("end of expression");
            }
        }

        private ArmExpression ParsePrimary()
        {
            SkipWhitespace();
            if (_position >= text.Length)
            {
                throw Error("a value");
            }

            var current = text[_position];
            if (current == '\'')
            {
                return new ArmString(ReadString());
            }

            if (char.IsAsciiDigit(current) || current == '-')
            {
                var start = _position++;
                while (_position < text.Length && char.IsAsciiDigit(text[_position]))
                {
                    _position++;
                }

                return new ArmNumber(long.Parse(text.AsSpan(start, _position - start), CultureInfo.InvariantCulture));
            }

            // Function names may carry a namespace ("__bicep.name"), so dots belong to the name here.
            var name = ReadIdentifier(allowDots: true);
            SkipWhitespace();
            if (!TryConsume('('))
            {
                return name switch
                {
                    "true" => new ArmBoolean(true),
                    "false" => new ArmBoolean(false),
                    "null" => new ArmNull(),
                    _ => throw Error($"'(' after '{name}'"),
                };
            }

            var arguments = new List<ArmExpression>();
            SkipWhitespace();
            if (!TryConsume(')'))
            {
                do
                {
                    arguments.Add(ParseExpression());
                    SkipWhitespace();
                }
                while (TryConsume(','));
                Expect(')');
            }

            return new ArmCall(name, arguments);
        }

        private string ReadString()
        {
            Expect('\'');
            var value = new StringBuilder();
            while (true)
            {
                if (_position >= text.Length)
                {
                    throw Error("closing quote");
                }

                var current = text[_position++];
                if (current != '\'')
                {
                    value.Append(current);
                }
                else if (_position < text.Length && text[_position] == '\'')
                {
                    value.Append('\'');
                    _position++;
                }
                else
                {
                    return value.ToString();
                }
            }
        }

        private string ReadIdentifier(bool allowDots = false)
        {
            SkipWhitespace();
            var start = _position;
            while (_position < text.Length &&
                   (char.IsAsciiLetterOrDigit(text[_position]) || text[_position] is '_' or '$' ||
                    (allowDots && text[_position] == '.')))
            {
                _position++;
            }

            return _position > start ? text[start.._position] : throw Error("a name");
        }

        private void SkipWhitespace()
        {
            while (_position < text.Length && char.IsWhiteSpace(text[_position]))
            {
                _position++;
            }
        }

        private bool TryConsume(char expected)
        {
            if (_position < text.Length && text[_position] == expected)
            {
                _position++;
                return true;
            }

            return false;
        }

        private void Expect(char expected)
        {
            SkipWhitespace();
            if (!TryConsume(expected))
            {
                throw Error($"'{expected}'");
            }
        }

        private FormatException Error(string expected) =>
            new($"Expected {expected} at {_position} in ARM expression: {text}");
    }
}

internal sealed record ArmString(string Value) : ArmExpression;

internal sealed record ArmNumber(long Value) : ArmExpression;

internal sealed record ArmBoolean(bool Value) : ArmExpression;

internal sealed record ArmNull : ArmExpression;

internal sealed record ArmCall(string Name, IReadOnlyList<ArmExpression> Arguments) : ArmExpression;

internal sealed record ArmMember(ArmExpression Target, string Name) : ArmExpression;

internal sealed record ArmIndex(ArmExpression Target, ArmExpression Index) : ArmExpression;
