using System.Net;
using AgentFunctions.DevHost;
using AgentFunctions.DevHost.Doubles;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Http;
using AgentFunctions.DevHost.Functions.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>
/// The operator's key rotation behind <c>POST /_devhost/rotate-key</c>, on a front end and doubles of its own, with the
/// wait before retiring the old key on a fake clock: the rotation belongs to the host, not to the request.
/// </summary>
public sealed class KeyRotationEndpointTests : IAsyncLifetime, IDisposable
{
    private const int RetireAfterSeconds = 600;

    private static readonly HttpClient Client = new();

    private readonly FakeLoggerProvider _logs = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private LocalAzure _azure = null!;
    private KeyRotationEndpoint _endpoint = null!;
    private HttpFrontEnd _frontEnd = null!;

    public KeyRotationEndpointTests() =>
        _loggerFactory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(_logs));

    public async Task InitializeAsync()
    {
        _azure = await LocalAzure.StartAsync(new LocalAzureOptions { TimeProvider = _time, LoggerFactory = _loggerFactory });
        _endpoint = new KeyRotationEndpoint(_azure, _loggerFactory.CreateLogger<KeyRotationEndpoint>());
        _frontEnd = await HttpFrontEnd.ListenAsync(port: 0, FunctionsHostOptions.DefaultMaxRequestBodySize, _loggerFactory,
            CancellationToken.None);
        _frontEnd.Serve([], new NoFunctions(), _endpoint.Map);
    }

    public async Task DisposeAsync()
    {
        await _endpoint.DisposeAsync();
        await _frontEnd.DisposeAsync();
        await _azure.DisposeAsync();
    }

    /// <summary>xUnit calls this after <see cref="DisposeAsync"/>: what remains is synchronous.</summary>
    public void Dispose()
    {
        _loggerFactory.Dispose();
        _logs.Dispose();
    }

    [Fact]
    public async Task Rotate_CallerHangsUpDuringTheWait_StillRetiresTheOldKeyAndLogsIt()
    {
        var inUse = _azure.OpenAI.GetKeys().Key1;
        using var hangUp = new CancellationTokenSource();
        var request = Client.PostAsync(RotateUri(RetireAfterSeconds), content: null, hangUp.Token);
        await WaitForLogAsync("OpenAIKeyPublished");

        await hangUp.CancelAsync();
        var hungUp = () => request;
        await hungUp.Should().ThrowAsync<OperationCanceledException>();
        await WaitForLogAsync("KeyRotationCallerGone");
        _time.Advance(TimeSpan.FromSeconds(RetireAfterSeconds));

        await WaitForLogAsync("KeyRotated");
        _logs.Collector.GetSnapshot().Should().Contain(record => record.Id.Name == "OpenAIKeyRetired");
        _azure.OpenAI.GetKeys().Key1.Should().NotBe(inUse, "the old key was regenerated, so its value no longer works");
        _azure.KeyVault.PeekCurrentValue(LocalAzure.OpenAIKeySecretName).Should().Be(_azure.OpenAI.GetKeys().Key2);
    }

    [Fact]
    public async Task DisposeAsync_RotationWaitingToRetire_CancelsItAndLogsThatTheOldKeyStillWorks()
    {
        var inUse = _azure.OpenAI.GetKeys().Key1;
        using var request = new HttpRequestMessage(HttpMethod.Post, RotateUri(RetireAfterSeconds));
        var response = Client.SendAsync(request);
        await WaitForLogAsync("OpenAIKeyPublished");

        await _endpoint.DisposeAsync();

        using var answered = await response;
        answered.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        _logs.Collector.GetSnapshot().Should().ContainSingle(record => record.Id.Name == "OpenAIKeyRotationCancelled")
            .Which.Message.Should().Contain("Key1").And.Contain("still works");
        _azure.OpenAI.GetKeys().Key1.Should().Be(inUse);
    }

    [Fact]
    public async Task Rotate_RetireAfterOutOfRange_Returns400Problem()
    {
        using var response = await Client.PostAsync(RotateUri(3601), content: null);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        _azure.KeyVault.GetVersionIds(LocalAzure.OpenAIKeySecretName).Should().ContainSingle("nothing was rotated");
    }

    private Uri RotateUri(int retireAfterSeconds) =>
        new(_frontEnd.BaseAddress, $"{KeyRotationEndpoint.Path.TrimStart('/')}?retireAfterSeconds={retireAfterSeconds}");

    private async Task WaitForLogAsync(string eventName)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!_logs.Collector.GetSnapshot().Any(record => record.Id.Name == eventName))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), timeout.Token);
        }
    }

    private sealed class NoFunctions : IFunctionInvoker
    {
        public Task<InvocationResult> InvokeAsync(LoadedFunction function, IReadOnlyList<ParameterBinding> inputData,
            IReadOnlyDictionary<string, TypedData> triggerMetadata, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("This front end serves no function.");
    }
}
