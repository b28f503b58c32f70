using AgentFunctions.Security;

namespace AgentFunctions.Tests.Security;

public sealed class SecretRedactorTests
{
    [Fact]
    public async Task Redact_TextWithCurrentAndPreviousKeys_RemovesBoth()
    {
        using var keys = await RotatedKeyCache.CreateAsync();
        var redactor = keys.CreateRedactor();

        string redacted = redactor.Redact(
            "old fake-key-one-0000000000000000000001, new FAKE-KEY-TWO-0000000000000000000002, and fake-key-two-0000000000000000000002.");

        redacted.Should().Be("old [redacted], new [redacted], and [redacted].");
    }

    [Fact]
    public async Task RedactIdentifier_ToolNameWithKey_KeepsToLettersDigitsUnderscoreAndDash()
    {
        using var keys = await RotatedKeyCache.CreateAsync();

        string redacted = keys.CreateRedactor().RedactIdentifier($"call_{RotatedKeyCache.CurrentKey}-{RotatedKeyCache.RetiredKey}");

        redacted.Should().Be("call_redacted-redacted");
    }

    [Fact]
    public async Task RedactJson_KeySpelledWithUnicodeEscapes_IsFoundAndRemoved()
    {
        using var keys = await RotatedKeyCache.CreateAsync();
        string current = RotatedKeyCache.CurrentKey;
        string escaped = string.Concat(current.Select(c => $"\\u{(int)c:x4}"));
        string arguments = $$"""{"expression": "{{escaped}}", "k\u0065y": "\u0066{{RotatedKeyCache.RetiredKey[1..]}}"}""";

        string redacted = keys.CreateRedactor().RedactJson(arguments);

        redacted.Should().Be("""{"expression":"[redacted]","key":"[redacted]"}""");
    }

    [Theory]
    [InlineData("""{"expression": "1 + 1"}""")]
    [InlineData("not json at all")]
    [InlineData("""{"half": "\u00""")]
    public async Task RedactJson_NoKeyInside_ReturnsTheTextAsItWas(string arguments)
    {
        using var keys = await RotatedKeyCache.CreateAsync();

        keys.CreateRedactor().RedactJson(arguments).Should().Be(arguments);
    }

    [Fact]
    public async Task RedactJson_NotJsonButHoldingKey_IsFilteredAsText()
    {
        using var keys = await RotatedKeyCache.CreateAsync();

        keys.CreateRedactor().RedactJson($"expression={RotatedKeyCache.CurrentKey}").Should().Be("expression=[redacted]");
    }

    [Fact]
    public void Redact_KeylessMode_LeavesTextAlone()
    {
        new SecretRedactor(null).Redact("nothing to hide").Should().Be("nothing to hide");
    }
}
