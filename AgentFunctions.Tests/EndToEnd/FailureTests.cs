using System.Net;
using System.Text.Json;
using AgentFunctions.DevHost.Doubles;

namespace AgentFunctions.Tests.EndToEnd;

/// <summary>
/// When the vault, the identity or Azure OpenAI fails, callers get 502 or 503 with a retry hint and no secret, and the
/// operator's log says what to check. Each test starts its own local host so its failures touch nobody else.
/// </summary>
public sealed class FailureTests
{
    private const string InvokePath = "api/agents/assistant/invoke";
    private const string Input = """{"input": "hello"}""";

    [Fact]
    public async Task Invoke_VaultDownOnColdStart_Answers503WithRetryAfterAndHealthSaysUnhealthy()
    {
        await using var fixture = await StartAsync();
        fixture.Host.Azure.KeyVault.Faults.FailNext(1000, 503);

        var (response, problem) = await fixture.PostAsync(InvokePath, Input);
        var (health, healthBody) = await fixture.GetAsync("api/health");

        ProblemAssertions.AssertProblem(response, problem, HttpStatusCode.ServiceUnavailable, "key-unavailable");
        response.Headers.RetryAfter!.Delta.Should().BePositive();
        health.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        healthBody.Should().Contain("\"status\":\"Unhealthy\"");
        fixture.Logs.Collector.GetSnapshot().Should().Contain(r => r.Message.Contains("No usable key", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Invoke_IdentityLacksRoleOnSecret_Answers503AndLogTellsOperatorWhichRole()
    {
        await using var fixture = await StartAsync();
        var azure = fixture.Host.Azure;
        azure.KeyVault.RoleAssignments.Revoke(azure.AppIdentity.ObjectId, AzureRoles.KeyVaultSecretsUser,
            azure.KeyVault.SecretResourceId(LocalAzure.OpenAIKeySecretName));

        var (response, problem) = await fixture.PostAsync(InvokePath, Input);

        ProblemAssertions.AssertProblem(response, problem, HttpStatusCode.ServiceUnavailable, "key-unavailable");
        problem.Should().NotContain("Key Vault Secrets User", "the caller is not the operator");
        fixture.Logs.Collector.GetSnapshot().Should().Contain(r =>
            r.Message.Contains("'Key Vault Secrets User' role on the secret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Invoke_VaultFailsAfterKeyWasRead_KeepsServingWithLastGoodKey()
    {
        await using var fixture = await StartAsync(new Dictionary<string, string>
        {
            ["KeyCache__TimeToLive"] = "00:00:10",
            ["KeyCache__RefreshAhead"] = "00:00:01",
            ["KeyCache__JitterRatio"] = "0",
        });
        (await fixture.PostAsync(InvokePath, Input)).Response.StatusCode.Should().Be(HttpStatusCode.OK);
        fixture.Host.Azure.KeyVault.Faults.FailNext(1000, 503);

        await Task.Delay(TimeSpan.FromSeconds(11));
        var (response, _) = await fixture.PostAsync(InvokePath, Input);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        fixture.Logs.Collector.GetSnapshot().Should().Contain(r => r.Message.Contains("past its time to live", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Invoke_ModelFailsOrThrottles_Answers502Or503WithRetryHint()
    {
        await using var fixture = await StartAsync();
        var openAI = fixture.Host.Azure.OpenAI;

        openAI.Faults.FailNext(4, 500);
        var (failed, failedProblem) = await fixture.PostAsync(InvokePath, Input);
        openAI.Faults.FailNext(4, 429, TimeSpan.FromMilliseconds(1));
        var (throttled, throttledProblem) = await fixture.PostAsync(InvokePath, Input);
        var (recovered, _) = await fixture.PostAsync(InvokePath, Input);

        ProblemAssertions.AssertProblem(failed, failedProblem, HttpStatusCode.BadGateway, "model-unavailable");
        ProblemAssertions.AssertProblem(throttled, throttledProblem, HttpStatusCode.ServiceUnavailable, "model-throttled");
        throttled.Headers.RetryAfter!.Delta.Should().BePositive();
        recovered.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Invoke_ModelNeverAnswersInTime_Answers502ModelUnavailableWithRetryHint()
    {
        await using var fixture = await StartAsync(new Dictionary<string, string> { ["AzureOpenAI__NetworkTimeout"] = "00:00:01" });
        fixture.Host.Azure.OpenAI.Faults.DelayNext(8, TimeSpan.FromSeconds(3));

        var (response, problem) = await fixture.PostAsync(InvokePath, Input);

        ProblemAssertions.AssertProblem(response, problem, HttpStatusCode.BadGateway, "model-unavailable");
        response.Headers.RetryAfter!.Delta.Should().BePositive();
    }

    [Fact]
    public async Task Invoke_KeyRegeneratedWithoutVaultUpdate_Answers502KeyRejectedAndDoesNotLoop()
    {
        await using var fixture = await StartAsync();
        var azure = fixture.Host.Azure;
        (await fixture.PostAsync(InvokePath, Input)).Response.StatusCode.Should().Be(HttpStatusCode.OK);
        azure.OpenAI.RegenerateKey(KeyName.Key1);

        var (response, problem) = await fixture.PostAsync(InvokePath, Input);

        ProblemAssertions.AssertProblem(response, problem, HttpStatusCode.BadGateway, "key-rejected");
        azure.KeyVault.SecretReadCount(LocalAzure.OpenAIKeySecretName).Should().Be(2);
        azure.OpenAI.Requests.Count(r => r.StatusCode == 401).Should().Be(1, "the same version is not sent again once refused");
    }

    private static async Task<DisposableFixture> StartAsync(IReadOnlyDictionary<string, string>? appSettings = null)
    {
        var fixture = new DisposableFixture(appSettings ?? new Dictionary<string, string>());
        await fixture.InitializeAsync();
        return fixture;
    }

    private sealed class DisposableFixture(IReadOnlyDictionary<string, string> appSettings) : LocalHostFixture, IAsyncDisposable
    {
        protected override IReadOnlyDictionary<string, string> AppSettings => appSettings;

        async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
    }
}
