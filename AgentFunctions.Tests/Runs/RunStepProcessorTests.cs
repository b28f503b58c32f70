using System.Text.Json;
using AgentFunctions.Agents;
using AgentFunctions.Agents.Tools;
using AgentFunctions.Functions.Http;
using AgentFunctions.Functions.Runs;
using AgentFunctions.Model;
using AgentFunctions.Runs;
using AgentFunctions.Security;
using AgentFunctions.Tests.Security;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using OpenAI.Chat;

namespace AgentFunctions.Tests.Runs;

public sealed class RunStepProcessorTests
{
    private const int MaxDequeueCount = 5;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryRunStore _store = new();
    private readonly ScriptedModel _model = new();
    private readonly FakeLogCollector _logs = new();
    private readonly ToolRegistry _tools;
    private readonly AgentCatalog _catalog;
    private readonly RunStepProcessor _processor;

    public RunStepProcessorTests()
    {
        _tools = new ToolRegistry([new CurrentTimeTool(_time), new CalculatorTool()]);
        _catalog = AgentCatalog.Parse("""{"agents":[{"name":"assistant","instructions":"Be brief.","tools":["calculate"],"maxSteps":3}]}""",
            "test", _tools, "chat");
        _processor = CreateProcessor(new SecretRedactor(null));
    }

    public static TheoryData<string> RunIdsThatCannotNameARun => ["../x", "runs/abc", "abc def", "abc.json", new('a', RunIds.MaxLength + 1)];

    [Fact]
    public async Task ProcessAsync_ToolStepThenAnswer_AdvancesOneStepPerMessageAndCompletes()
    {
        string runId = await StartRunAsync();
        _model.Script.Enqueue(ToolCall("calculate", """{"expression":"6*7"}"""));
        _model.Script.Enqueue(Answer("It is 42."));

        var first = await _processor.ProcessAsync(Message(runId, 1), 1, MaxDequeueCount, default);
        var afterFirst = _store.Get(runId);
        var second = await _processor.ProcessAsync(first.NextStepMessage!, 1, MaxDequeueCount, default);
        var done = _store.Get(runId);

        first.NextStepMessage.Should().Be(Message(runId, 2));
        afterFirst.Status.Should().Be(RunStatus.Running);
        afterFirst.Steps.Single().ToolsCalled.Should().Equal("calculate");
        second.Should().Be(RunStepResult.Nothing);
        done.Status.Should().Be(RunStatus.Completed);
        done.Output.Should().Be("It is 42.");
        done.CompletedSteps.Should().Be(2);
        done.Conversation.Should().Contain(m => m.Role == ConversationMessage.ToolRole && m.Content == "42");
    }

    [Fact]
    public async Task ProcessAsync_SameMessageDeliveredTwice_SecondChangesNothingAndCallsNoModel()
    {
        string runId = await StartRunAsync();
        _model.Script.Enqueue(Answer("Done."));
        await _processor.ProcessAsync(Message(runId, 1), 1, MaxDequeueCount, default);
        int writes = _store.Writes;

        var again = await _processor.ProcessAsync(Message(runId, 1), 2, MaxDequeueCount, default);

        again.Should().Be(RunStepResult.Nothing);
        _store.Writes.Should().Be(writes);
        _model.Calls.Should().Be(1);
        _store.Get(runId).Output.Should().Be("Done.");
        _logs.GetSnapshot().Should().ContainSingle(r => r.Id.Name == "StepDuplicate");
    }

    [Fact]
    public async Task ProcessAsync_StepCommittedButNextMessageLost_RedeliveryReEnqueuesNextStep()
    {
        string runId = await StartRunAsync();
        _model.Script.Enqueue(ToolCall("calculate", """{"expression":"1+1"}"""));
        await _processor.ProcessAsync(Message(runId, 1), 1, MaxDequeueCount, default);

        // The worker died after committing step 1 and before its output binding sent step 2; the queue redelivers step 1.
        var redelivered = await _processor.ProcessAsync(Message(runId, 1), 2, MaxDequeueCount, default);

        redelivered.NextStepMessage.Should().Be(Message(runId, 2));
        _store.Get(runId).CompletedSteps.Should().Be(1);
        _model.Calls.Should().Be(1);
        _logs.GetSnapshot().Where(r => r.Id.Name is "StepDuplicate" or "StepDuplicateResent").Should().ContainSingle()
            .Which.Id.Name.Should().Be("StepDuplicateResent");
    }

    [Fact]
    public async Task ProcessAsync_TwoDeliveriesRaceOnOneStep_OnlyOneCommits()
    {
        string runId = await StartRunAsync();
        _model.Script.Enqueue(ToolCall("calculate", """{"expression":"1+1"}"""));
        _model.Script.Enqueue(ToolCall("calculate", """{"expression":"2+2"}"""));
        bool raced = false;
        _store.BeforeReplace = id =>
        {
            if (!raced)
            {
                raced = true;
                _processor.ProcessAsync(Message(runId, 1), 1, MaxDequeueCount, default).GetAwaiter().GetResult();
            }
        };

        var loser = await _processor.ProcessAsync(Message(runId, 1), 1, MaxDequeueCount, default);

        loser.Should().Be(RunStepResult.Nothing, "the delivery that committed first sends the next step");
        var run = _store.Get(runId);
        run.CompletedSteps.Should().Be(1);
        run.Steps.Should().ContainSingle();
        run.Conversation.Count(m => m.Role == ConversationMessage.ToolRole).Should().Be(1);
    }

    [Theory]
    [InlineData("not json at all", "not JSON")]
    [InlineData("""{"step": 1}""", "lacks a runId")]
    [InlineData("""{"runId": "abc", "step": 0}""", "lacks a runId or a step")]
    [InlineData("""{"runId": "no-such-run", "step": 1}""", "No run 'no-such-run' exists")]
    public async Task ProcessAsync_MalformedMessage_IsSetAsideWithReasonAndOriginalText(string message, string reason)
    {
        var result = await _processor.ProcessAsync(message, 1, MaxDequeueCount, default);

        result.NextStepMessage.Should().BeNull();
        using var rejected = JsonDocument.Parse(result.RejectedMessage!);
        rejected.RootElement.GetProperty("reason").GetString().Should().Contain(reason);
        rejected.RootElement.GetProperty("message").GetString().Should().Be(message);
        _model.Calls.Should().Be(0);
    }

    [Theory]
    [MemberData(nameof(RunIdsThatCannotNameARun))]
    public async Task ProcessAsync_RunIdThatCannotNameARun_IsSetAsideWithReasonWithoutReadingTheStore(string runId)
    {
        string message = Message(runId, 1);

        var result = await _processor.ProcessAsync(message, 1, MaxDequeueCount, default);

        result.NextStepMessage.Should().BeNull();
        using var rejected = JsonDocument.Parse(result.RejectedMessage!);
        rejected.RootElement.GetProperty("reason").GetString().Should().Contain("not a valid run id");
        rejected.RootElement.GetProperty("message").GetString().Should().Be(message);
        _store.Reads.Should().Be(0, "a name that cannot be a run's must not reach storage as a blob name");
    }

    [Fact]
    public async Task ProcessAsync_StepAheadOfRun_IsSetAside()
    {
        string runId = await StartRunAsync();

        var result = await _processor.ProcessAsync(Message(runId, 3), 1, MaxDequeueCount, default);

        result.RejectedMessage.Should().Contain("has completed 0 steps");
        _store.Get(runId).Status.Should().Be(RunStatus.Queued);
    }

    [Fact]
    public async Task ProcessAsync_MessageNamingTheKeyAsRunId_IsSetAsideWithTheKeyRemovedFromReasonTextAndLog()
    {
        using var keys = await RotatedKeyCache.CreateAsync();
        var processor = CreateProcessor(keys.CreateRedactor());
        string message = Message(RotatedKeyCache.CurrentKey, 1);

        var result = await processor.ProcessAsync(message, 1, MaxDequeueCount, default);

        result.RejectedMessage.Should().NotContain(RotatedKeyCache.CurrentKey);
        using var rejected = JsonDocument.Parse(result.RejectedMessage!);
        rejected.RootElement.GetProperty("reason").GetString().Should().Be("No run '[redacted]' exists.");
        rejected.RootElement.GetProperty("message").GetString().Should().Be(Message("[redacted]", 1));
        _logs.GetSnapshot().Should().ContainSingle(r => r.Id.Name == "StepMessageRejected")
            .Which.Message.Should().NotContain(RotatedKeyCache.CurrentKey);
    }

    [Fact]
    public async Task ProcessAsync_StepRightAfterCompletedRun_IsSetAsideWithReason()
    {
        string runId = await StartRunAsync(run => run with { Status = RunStatus.Completed, CompletedSteps = 2, Output = "It is 42." });

        var result = await _processor.ProcessAsync(Message(runId, 3), 1, MaxDequeueCount, default);

        using var rejected = JsonDocument.Parse(result.RejectedMessage!);
        rejected.RootElement.GetProperty("reason").GetString().Should()
            .Be($"Step 3 of run '{runId}' cannot run: the run has completed 2 steps and is Completed.");
        _model.Calls.Should().Be(0);
    }

    [Fact]
    public async Task ProcessAsync_StepBeyondCompletedRun_IsSetAsideWithReasonNotTakenForRedelivery()
    {
        string runId = await StartRunAsync(run => run with { Status = RunStatus.Completed, CompletedSteps = 2, Output = "It is 42." });
        var completed = _store.Get(runId);

        var result = await _processor.ProcessAsync(Message(runId, 7), 1, MaxDequeueCount, default);

        result.NextStepMessage.Should().BeNull();
        using var rejected = JsonDocument.Parse(result.RejectedMessage!);
        rejected.RootElement.GetProperty("reason").GetString().Should()
            .Be($"Step 7 of run '{runId}' cannot run: the run has completed 2 steps and is Completed.");
        _store.Get(runId).Should().BeSameAs(completed);
        _model.Calls.Should().Be(0);
        _logs.GetSnapshot().Should().NotContain(r => r.Id.Name == "StepDuplicate", "step 7 was never delivered before");
    }

    [Fact]
    public async Task ProcessAsync_FailingStepDeliveredAfterRunFailed_ChangesNothingAndSaysTheRunFinished()
    {
        string runId = await StartRunAsync();
        _model.Failure = new ModelCallException("Azure OpenAI answered 500.", 500, null);
        await FluentActions.Awaiting(() => _processor.ProcessAsync(Message(runId, 1), MaxDequeueCount, MaxDequeueCount, default))
            .Should().ThrowAsync<RunStepFailedException>();
        var failed = _store.Get(runId);

        // An operator sends the message back from the poison queue after the run was marked failed.
        var result = await _processor.ProcessAsync(Message(runId, 1), 1, MaxDequeueCount, default);

        result.Should().Be(RunStepResult.Nothing);
        _store.Get(runId).Should().BeSameAs(failed);
        _model.Calls.Should().Be(1);
        var logged = _logs.GetSnapshot().Where(r => r.Id.Name is "StepAfterRunFinished" or "StepDuplicate").Should().ContainSingle().Subject;
        logged.Id.Name.Should().Be("StepAfterRunFinished");
        logged.Message.Should().Be($"Run {runId} step 1 arrived after the run finished: it is Failed after 0 steps, so nothing changes.");
    }

    [Fact]
    public async Task ProcessAsync_StepFailsThenSucceeds_StatusShowsCallerSafeLastErrorOnlyWhileRetried()
    {
        string runId = await StartRunAsync();
        _model.Failure = new ModelCallException("Azure OpenAI at https://fake-account.openai.test answered 503.", 503, null);
        await FluentActions.Awaiting(() => _processor.ProcessAsync(Message(runId, 1), 1, MaxDequeueCount, default))
            .Should().ThrowAsync<RunStepFailedException>();
        var whileRetried = StatusOf(_store.Get(runId));
        _model.Failure = null;
        _model.Script.Enqueue(Answer("Done."));

        await _processor.ProcessAsync(Message(runId, 1), 2, MaxDequeueCount, default);

        whileRetried.GetProperty("status").GetString().Should().Be("queued");
        whileRetried.GetProperty("lastError").GetString().Should().Be("Azure OpenAI failed or could not be reached.");
        StatusOf(_store.Get(runId)).TryGetProperty("lastError", out _).Should().BeFalse("the step committed, so no error is current");
    }

    [Fact]
    public async Task ProcessAsync_ModelPutsKeysIntoToolCall_NeitherKeyReachesRunStateStatusOrLogs()
    {
        using var keys = await RotatedKeyCache.CreateAsync();
        var processor = CreateProcessor(keys.CreateRedactor());
        string runId = await StartRunAsync();
        const string current = RotatedKeyCache.CurrentKey;
        const string retired = RotatedKeyCache.RetiredKey;
        _model.Script.Enqueue(ToolCall(current, $$"""{"expression":"{{current}}","before":"{{retired}}"}""", callId: $"call_{current}"));
        _model.Script.Enqueue(Answer("That tool does not exist."));

        var first = await processor.ProcessAsync(Message(runId, 1), 1, MaxDequeueCount, default);
        await processor.ProcessAsync(first.NextStepMessage!, 1, MaxDequeueCount, default);

        var run = _store.Get(runId);
        run.Status.Should().Be(RunStatus.Completed);
        string stored = JsonSerializer.Serialize(run, RunJsonContext.Default.AgentRun);
        string status = JsonSerializer.Serialize(GetRunFunction.ToStatusResponse(run), HttpJsonContext.Default.RunStatusResponse);
        var logged = _logs.GetSnapshot().SelectMany(r => (r.StructuredState?.Select(p => p.Value ?? string.Empty) ?? [])
            .Append(r.Message).Append(r.Exception?.ToString() ?? string.Empty));
        new[] { stored, status }.Concat(logged).Should().AllSatisfy(text =>
            text.Should().NotContainEquivalentOf(current).And.NotContainEquivalentOf(retired));
        run.Steps[0].ToolsCalled.Should().Equal(SecretRedactor.IdentifierReplacement);
        run.Conversation.Should().Contain(m => m.Role == ConversationMessage.ToolRole
            && m.Content == "error: no tool named '[redacted]' is available to this agent.");
        _logs.GetSnapshot().Should().ContainSingle(r => r.Id.Name == "ToolNotInRegistry");
        var resent = _model.Requests[1].OfType<AssistantChatMessage>().Single().ToolCalls.Single();
        resent.FunctionName.Should().MatchRegex("^[a-zA-Z0-9_-]+$", "Azure OpenAI refuses a tool call named otherwise");
        resent.FunctionArguments.ToString().Should().Be("""{"expression":"[redacted]","before":"[redacted]"}""");
    }

    [Fact]
    public async Task ProcessAsync_ToolCallIdCarryingKey_StillPairsWithItsResultOnTheNextStep()
    {
        using var keys = await RotatedKeyCache.CreateAsync();
        var processor = CreateProcessor(keys.CreateRedactor());
        string runId = await StartRunAsync();
        _model.Script.Enqueue(ToolCall("calculate", """{"expression":"6*7"}""", callId: $"call_{RotatedKeyCache.CurrentKey}"));
        _model.Script.Enqueue(Answer("It is 42."));

        var first = await processor.ProcessAsync(Message(runId, 1), 1, MaxDequeueCount, default);
        await processor.ProcessAsync(first.NextStepMessage!, 1, MaxDequeueCount, default);

        var secondStep = _model.Requests[1];
        var call = secondStep.OfType<AssistantChatMessage>().Single().ToolCalls.Single();
        call.Id.Should().Be("call_redacted");
        call.FunctionArguments.ToString().Should().Be("""{"expression":"6*7"}""");
        secondStep.OfType<ToolChatMessage>().Single().ToolCallId.Should().Be(call.Id);
    }

    [Fact]
    public async Task ProcessAsync_ModelFailsBeforeLastDelivery_RecordsErrorAndRethrowsForRetry()
    {
        string runId = await StartRunAsync();
        _model.Failure = new ModelCallException("Azure OpenAI answered 500.", 500, null);

        var act = () => _processor.ProcessAsync(Message(runId, 1), 1, MaxDequeueCount, default);

        var thrown = (await act.Should().ThrowAsync<RunStepFailedException>()).Which;
        thrown.Message.Should().Be($"Run {runId} step 1 failed on delivery 1: ModelCallException: Azure OpenAI answered 500.");
        thrown.InnerException.Should().BeNull("the worker logs an invocation's exception with its inner ones, unfiltered");
        var run = _store.Get(runId);
        run.Status.Should().Be(RunStatus.Queued);
        run.LastError.Should().Be("Azure OpenAI failed or could not be reached.");
    }

    [Fact]
    public async Task ProcessAsync_FailureTextHoldsKey_ThrowsToTheHostWithTheKeyRemovedAndNoInnerException()
    {
        using var keys = await RotatedKeyCache.CreateAsync();
        var processor = CreateProcessor(keys.CreateRedactor());
        string runId = await StartRunAsync();
        _model.Failure = new ModelCallException($"Azure OpenAI answered 400: bad key {RotatedKeyCache.CurrentKey}.", 400, null,
            new InvalidOperationException($"inner service text {RotatedKeyCache.RetiredKey}"));

        var act = () => processor.ProcessAsync(Message(runId, 1), 1, MaxDequeueCount, default);

        var thrown = (await act.Should().ThrowAsync<RunStepFailedException>()).Which;
        thrown.ToString().Should().Contain("Azure OpenAI answered 400: bad key [redacted].")
            .And.NotContain(RotatedKeyCache.CurrentKey).And.NotContain(RotatedKeyCache.RetiredKey).And.NotContain("inner service text");
    }

    [Fact]
    public async Task ProcessAsync_ModelFailsOnLastDelivery_MarksRunFailedWithReasonAndRethrowsForPoison()
    {
        string runId = await StartRunAsync();
        _model.Failure = new ModelCallException("Azure OpenAI answered 500.", 500, null);

        var act = () => _processor.ProcessAsync(Message(runId, 1), MaxDequeueCount, MaxDequeueCount, default);

        await act.Should().ThrowAsync<RunStepFailedException>();
        var run = _store.Get(runId);
        run.Status.Should().Be(RunStatus.Failed);
        run.FailureReason.Should().Contain("failed 5 times").And.Contain("poison queue").And.Contain("Azure OpenAI failed or could not be reached.")
            .And.NotContain("answered 500", "service and exception text stays in the operator's log");
    }

    [Fact]
    public async Task ProcessAsync_StepLimitReachedWithoutAnswer_FailsRunWithReason()
    {
        string runId = await StartRunAsync();
        for (int i = 0; i < 3; i++)
        {
            _model.Script.Enqueue(ToolCall("calculate", """{"expression":"1+1"}"""));
        }

        string? message = Message(runId, 1);
        while (message is not null)
        {
            message = (await _processor.ProcessAsync(message, 1, MaxDequeueCount, default)).NextStepMessage;
        }

        var run = _store.Get(runId);
        run.Status.Should().Be(RunStatus.Failed);
        run.FailureReason.Should().Contain("limit of 3 model calls");
        _model.Calls.Should().Be(3);
    }

    /// <param name="state">Puts the new run into the state a test starts from; by default it stays queued.</param>
    private async Task<string> StartRunAsync(Func<AgentRun, AgentRun>? state = null)
    {
        _catalog.TryGet("assistant", out var agent);
        var run = AgentRun.Create(Guid.NewGuid().ToString("N"), agent, "what is 6*7?", "http", _time.GetUtcNow());
        (await _store.TryCreateAsync(state?.Invoke(run) ?? run, default)).Should().BeTrue();
        return run.RunId;
    }

    private RunStepProcessor CreateProcessor(SecretRedactor redactor) =>
        new(_store, _catalog, new AgentRunner(_model, _tools, new FakeLogger<AgentRunner>(_logs)), redactor, _time,
            new FakeLogger<RunStepProcessor>(_logs));

    private static string Message(string runId, int step) => RunStepProcessor.NextMessage(runId, step);

    private static JsonElement StatusOf(AgentRun run) =>
        JsonDocument.Parse(JsonSerializer.Serialize(GetRunFunction.ToStatusResponse(run), HttpJsonContext.Default.RunStatusResponse))
            .RootElement.Clone();

    private static ChatCompletion Answer(string text) =>
        OpenAIChatModelFactory.ChatCompletion(id: "c", finishReason: ChatFinishReason.Stop, content: new ChatMessageContent(text),
            role: ChatMessageRole.Assistant);

    private static ChatCompletion ToolCall(string name, string arguments, string? callId = null) =>
        OpenAIChatModelFactory.ChatCompletion(id: "c", finishReason: ChatFinishReason.ToolCalls, role: ChatMessageRole.Assistant,
            toolCalls: [ChatToolCall.CreateFunctionToolCall(callId ?? $"call_{Guid.NewGuid():N}", name, BinaryData.FromString(arguments))]);

    private sealed class ScriptedModel : IChatModel
    {
        public Queue<ChatCompletion> Script { get; } = new();

        public Exception? Failure { get; set; }

        public int Calls => Requests.Count;

        /// <summary>The messages of each call, as the model would have received them.</summary>
        public List<IReadOnlyList<ChatMessage>> Requests { get; } = [];

        public Task<ChatCompletion> CompleteAsync(string deployment, IReadOnlyList<ChatMessage> messages, ChatCompletionOptions options,
            CancellationToken cancellationToken)
        {
            Requests.Add(messages.ToList());
            return Failure is not null ? Task.FromException<ChatCompletion>(Failure) : Task.FromResult(Script.Dequeue());
        }
    }
}
