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
    public void Redact_KeylessMode_LeavesTextAlone()
    {
        new SecretRedactor(null).Redact("nothing to hide").Should().Be("nothing to hide");
    }
}
