using System.Diagnostics;
using System.Text.Json;
using AgentFunctions.DevHost;
using AgentFunctions.DevHost.Functions;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.Tests.EndToEnd;

/// <summary>Runs under failure, through the real worker and Azurite: poison after the last delivery, and a worker that dies.</summary>
public sealed class RunFailureTests
{
    [Fact]
    public async Task Run_StepFailsOnEveryDelivery_EndsFailedWithReasonAndMessageInPoisonQueue()
    {
        var fixture = new LocalHostFixture();
        await fixture.InitializeAsync();
        try
        {
            // A 400 is not retried by the SDK, so each delivery is one model call that fails.
            fixture.Host.Azure.OpenAI.Faults.FailNext(1000, 400);

            var (_, body) = await fixture.PostAsync("api/agents/assistant/runs", """{"input": "this step keeps failing"}""");
            string runId = JsonDocument.Parse(body).RootElement.GetProperty("runId").GetString()!;
            var run = await RunAssertions.WaitForStatusAsync(fixture, runId, "failed");
            var poison = fixture.Queue("agent-run-steps-poison");
            await RunAssertions.WaitUntilAsync(async () => (await poison.ExistsAsync()).Value
                && (await poison.PeekMessagesAsync(32)).Value.Any(m => m.Body.ToString().Contains(runId, StringComparison.Ordinal)),
                "the step message to reach the poison queue");

            run.GetProperty("reason").GetString().Should().Contain("Step 1 failed 5 times").And.Contain("poison queue")
                .And.Contain("Azure OpenAI refused the request (400).");
            run.GetProperty("lastError").GetString().Should().Be("Azure OpenAI refused the request (400).");
            var message = (await poison.PeekMessagesAsync(32)).Value.Single(m => m.Body.ToString().Contains(runId, StringComparison.Ordinal));
            message.Body.ToString().Should().Be($$"""{"runId":"{{runId}}","step":1}""");
            fixture.Host.Azure.OpenAI.Requests.Count(r => r.StatusCode == 400).Should().Be(5, "one model call per delivery");
            fixture.Captured.Should().Contain(text => text.Contains("RunStepFailedException", StringComparison.Ordinal))
                .And.NotContain(text => text.Contains("The server had an error while processing your request.", StringComparison.Ordinal),
                    "the worker logs a failed invocation's exception in full, so the service's own text must not be in it");
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task StartRun_StorageDown_Answers503WithRetryHintInsteadOfAcceptingTheRun()
    {
        var fixture = new LocalHostFixture();
        await fixture.InitializeAsync();
        try
        {
            fixture.Host.Storage.Kill();

            var (response, problem) = await fixture.PostAsync("api/agents/assistant/runs", """{"input": "hello"}""");

            response.StatusCode.Should().Be(System.Net.HttpStatusCode.ServiceUnavailable);
            response.Headers.RetryAfter!.Delta.Should().BePositive();
            problem.Should().Contain("\"code\":\"run-store-unavailable\"");
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task Run_WorkerKilledMidStep_NextWorkerCompletesTheRunExactlyOnce()
    {
        var fixture = new LocalHostFixture();
        await fixture.InitializeAsync();
        FunctionsHost? second = null;
        try
        {
            var azure = fixture.Host.Azure;
            azure.OpenAI.Faults.DelayNext(1, TimeSpan.FromSeconds(30));
            var (_, body) = await fixture.PostAsync("api/agents/assistant/runs", """{"input": "what is 2 * 21?"}""");
            string runId = JsonDocument.Parse(body).RootElement.GetProperty("runId").GetString()!;

            // The first step's model call is held by the account double; the worker dies while it waits.
            await RunAssertions.WaitUntilAsync(() => azure.OpenAI.Faults.Pending == 0, "step 1 to reach the model");
            Process.GetProcessById(fixture.Host.Functions.WorkerProcessId).Kill(entireProcessTree: true);
            await RunAssertions.WaitUntilAsync(() => fixture.Logs.Collector.GetSnapshot().Any(r => r.Id.Name == "QueueMessageRetryScheduled"),
                "the host to release the message of the dead worker");
            await fixture.Host.Functions.DisposeAsync();

            var options = new FunctionsHostOptions { AppDirectory = FunctionsHostOptions.GetBuiltAppDirectory() };
            foreach (var (name, value) in LocalDevelopmentHost.CreateWorkerEnvironment(azure, fixture.Host.Storage))
            {
                options.EnvironmentVariables[name] = value;
            }

            using var loggers = LoggerFactory.Create(logging => logging.AddProvider(fixture.Logs));
            second = await FunctionsHost.StartAsync(options, loggers);
            using var client = new HttpClient { BaseAddress = second.HttpBaseAddress };
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            JsonElement run;
            do
            {
                await Task.Delay(200);
                run = JsonDocument.Parse(await client.GetStringAsync(new Uri($"api/runs/{runId}", UriKind.Relative))).RootElement.Clone();
            }
            while (run.GetProperty("status").GetString() != "completed" && DateTime.UtcNow < deadline);

            run.GetProperty("status").GetString().Should().Be("completed");
            run.GetProperty("output").GetString().Should().Be("calculate returned 42.");
            run.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("step").GetInt32()).Should().Equal(1, 2);
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }

            await fixture.DisposeAsync();
        }
    }
}

/// <summary>A timer with a seconds-level schedule, through the real worker: each occurrence starts exactly one run.</summary>
public sealed class ScheduledRunTests(ScheduledRunTests.EveryFiveSecondsFixture fixture) : IClassFixture<ScheduledRunTests.EveryFiveSecondsFixture>
{
    [Fact]
    public async Task Timer_EveryFiveSeconds_StartsOneRunPerOccurrenceThatCompletes()
    {
        var container = fixture.RunStateContainer();
        var runIds = new List<string>();
        await RunAssertions.WaitUntilAsync(async () =>
        {
            runIds.Clear();
            if (!(await container.ExistsAsync()).Value)
            {
                return false;
            }

            var scheduled = container.GetBlobsAsync(
                Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, "sched-", CancellationToken.None);
            await foreach (var blob in scheduled)
            {
                runIds.Add(blob.Name[..^".json".Length]);
            }

            return runIds.Count >= 2;
        }, "two scheduled runs");

        runIds.Should().OnlyHaveUniqueItems().And.AllSatisfy(id => id.Should().MatchRegex(@"^sched-timekeeper-\d{8}T\d{6}$"));
        var seconds = runIds.Select(id => int.Parse(id[^2..], System.Globalization.CultureInfo.InvariantCulture));
        seconds.Should().OnlyContain(second => second % 5 == 0, "each run belongs to one occurrence of */5 seconds");
        var first = await RunAssertions.WaitForStatusAsync(fixture, runIds[0], "completed");
        first.GetProperty("trigger").GetString().Should().StartWith("schedule");
        first.GetProperty("output").GetString().Should().StartWith("get_current_time returned ");
    }

    public sealed class EveryFiveSecondsFixture : LocalHostFixture
    {
        protected override IReadOnlyDictionary<string, string> AppSettings => new Dictionary<string, string>
        {
            ["ScheduledRunSchedule"] = "*/5 * * * * *",
            ["ScheduledRun__Agent"] = "timekeeper",
            ["ScheduledRun__Input"] = "What time is it?",
        };
    }
}
