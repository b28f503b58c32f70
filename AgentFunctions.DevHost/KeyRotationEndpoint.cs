using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using AgentFunctions.DevHost.Doubles;
using AgentFunctions.DevHost.Functions.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost;

/// <summary>
/// <c>POST /_devhost/rotate-key?retireAfterSeconds=N</c>: the operator's three steps on the local Azure (a new key in the
/// account, a new secret version in the vault, the old key regenerated after the wait). A rotation belongs to the host,
/// not to the HTTP request that asked for it: a caller that hangs up during the wait leaves it running to the end, and
/// only <see cref="DisposeAsync"/> (the host stopping) cancels it, which <see cref="LocalAzure"/> logs.
/// </summary>
internal sealed partial class KeyRotationEndpoint : IAsyncDisposable
{
    /// <summary>The route, beside the functions on the same port.</summary>
    public const string Path = "/_devhost/rotate-key";

    /// <summary>The longest wait between publishing the new key and retiring the old one: one hour.</summary>
    public const int MaxRetireAfterSeconds = 3600;

    private readonly LocalAzure _azure;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    // Read once: requests that arrive after disposal, before the front end stops, still see it cancelled.
    private readonly CancellationToken _hostStopping;
    private readonly ConcurrentDictionary<Task, bool> _running = new();
    private int _disposed;

    public KeyRotationEndpoint(LocalAzure azure, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(azure);
        ArgumentNullException.ThrowIfNull(logger);
        _azure = azure;
        _logger = logger;
        _hostStopping = _stopping.Token;
    }

    public void Map(IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapPost(Path, HandleAsync);
    }

    /// <summary>Cancels the rotations still waiting and returns once each has ended.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        // Each rotation logs its own failure; here only its end matters.
        await Task.WhenAll(_running.Keys).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        string? wait = context.Request.Query["retireAfterSeconds"];
        int seconds = 0;
        if (wait is not null && (!int.TryParse(wait, NumberStyles.Integer, CultureInfo.InvariantCulture, out seconds)
            || seconds is < 0 or > MaxRetireAfterSeconds))
        {
            await ProblemResponse.WriteAsync(context, StatusCodes.Status400BadRequest, "Invalid retireAfterSeconds",
                $"retireAfterSeconds must be a whole number from 0 to {MaxRetireAfterSeconds}.").ConfigureAwait(false);
            return;
        }

        var rotation = Track(RotateAsync(TimeSpan.FromSeconds(seconds)));
        KeyRotationSummary? summary;
        try
        {
            summary = await rotation.WaitAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            LogCallerGone(_logger, seconds);
            return;
        }

        if (summary is null)
        {
            await ProblemResponse.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Local host stopping",
                "The local host is stopping, so the key rotation was cancelled; the log says which key still works.")
                .ConfigureAwait(false);
            return;
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(context.Response.Body, new
        {
            publishedKey = summary.PublishedKey.ToString(),
            secretName = summary.SecretName,
            newSecretVersion = summary.NewSecretVersion,
            retiredKey = summary.RetiredKey.ToString(),
            retiredKeyRegenerated = summary.RetiredKeyRegenerated,
        }, cancellationToken: context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The rotation, under the host's lifetime only; null when the host stopping cancelled it.</summary>
    private async Task<KeyRotationSummary?> RotateAsync(TimeSpan retireAfter)
    {
        try
        {
            var summary = await _azure.RotateOpenAIKeyAsync(retireAfter, cancellationToken: _hostStopping)
                .ConfigureAwait(false);
            LogRotated(_logger, summary.PublishedKey, summary.NewSecretVersion, summary.RetiredKey);
            return summary;
        }
        catch (OperationCanceledException) when (_hostStopping.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception exception) when (exception is InvalidOperationException or Azure.RequestFailedException)
        {
            // Logged here as well, since the caller may have gone; the request that is still there gets a 500.
            LogRotationFailed(_logger, exception.Message);
            throw;
        }
    }

    private Task<T> Track<T>(Task<T> rotation)
    {
        _running.TryAdd(rotation, true);
        _ = rotation.ContinueWith(ended => _running.TryRemove(ended, out _), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return rotation;
    }

    [LoggerMessage(EventId = 2000, EventName = "KeyRotated", Level = LogLevel.Information,
        Message = "Rotated the Azure OpenAI key: {PublishedKey} is now secret version {Version}; {RetiredKey} was regenerated.")]
    private static partial void LogRotated(ILogger logger, KeyName publishedKey, string version, KeyName retiredKey);

    [LoggerMessage(EventId = 2002, EventName = "KeyRotationCallerGone", Level = LogLevel.Information,
        Message = "The caller of the key rotation hung up; the rotation goes on and retires the old key " +
            "{RetireAfterSeconds} s after publishing the new one.")]
    private static partial void LogCallerGone(ILogger logger, int retireAfterSeconds);

    [LoggerMessage(EventId = 2003, EventName = "KeyRotationFailed", Level = LogLevel.Error,
        Message = "The key rotation failed: {Reason}")]
    private static partial void LogRotationFailed(ILogger logger, string reason);
}
