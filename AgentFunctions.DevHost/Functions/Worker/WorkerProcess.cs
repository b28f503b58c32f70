using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Functions.Worker;

/// <summary>
/// The worker's operating-system process: started with redirected output that goes to the logger line by line, and
/// killed with its whole process tree on disposal or when this process exits (see <see cref="WorkerProcessReaper"/>).
/// </summary>
internal sealed partial class WorkerProcess : IAsyncDisposable
{
    // The Functions host strips this marker from worker console lines; older workers prefix every line with it.
    private const string ConsoleLogPrefix = "LanguageWorkerConsoleLog";

    private static readonly TimeSpan ExitWaitAfterKill = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    private WorkerProcess(Process process, ILogger logger)
    {
        _process = process;
        _logger = logger;
    }

    /// <summary>Operating-system process id.</summary>
    public int Id { get; private set; }

    /// <summary>Completes with the exit code once the process has exited and its output has been read to the end.</summary>
    public Task<int> Exited => _exited.Task;

    public static WorkerProcess Start(WorkerLaunchSpec spec, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(logger);

        var startInfo = new ProcessStartInfo(spec.FileName)
        {
            WorkingDirectory = spec.WorkingDirectory,
            UseShellExecute = false,
            CreateNoWindow = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in spec.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // The spec holds the complete environment; nothing inherited may slip past its cleaning.
        startInfo.Environment.Clear();
        foreach (var (name, value) in spec.Environment)
        {
            startInfo.Environment[name] = value;
        }

        var process = new Process { StartInfo = startInfo };
        var worker = new WorkerProcess(process, logger);
        process.OutputDataReceived += (_, line) => worker.OnOutputLine(line.Data, isError: false);
        process.ErrorDataReceived += (_, line) => worker.OnOutputLine(line.Data, isError: true);
        try
        {
            process.Start();
        }
        catch (Win32Exception exception)
        {
            process.Dispose();
            throw new FunctionsHostException(
                $"Could not start the worker with '{spec.FileName}': {exception.Message}. Is the .NET SDK on PATH?", exception);
        }

        worker.Id = process.Id;
        WorkerProcessReaper.Track(worker);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        LogStarted(logger, worker.Id, spec.FileName);
        _ = worker.WatchExitAsync();
        return worker;
    }

    /// <summary>Kills the process tree if it still runs. Safe to call from any thread, any number of times.</summary>
    public void Kill()
    {
        if (_exited.Task.IsCompleted || Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        try
        {
            _process.Kill(entireProcessTree: true);
            LogKilled(_logger, Id);
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }
        catch (Win32Exception exception)
        {
            LogKillFailed(_logger, Id, exception.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            await _exited.Task.WaitAsync(ExitWaitAfterKill).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogExitWaitTimedOut(_logger, Id, ExitWaitAfterKill.TotalSeconds);
        }

        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            WorkerProcessReaper.Untrack(this);
            _process.Dispose();
        }
    }

    private async Task WatchExitAsync()
    {
        // Without a token this also waits for both output streams to reach their end, so no line is lost.
        await _process.WaitForExitAsync().ConfigureAwait(false);
        var exitCode = _process.ExitCode;
        WorkerProcessReaper.Untrack(this);
        LogExited(_logger, Id, exitCode);
        _exited.TrySetResult(exitCode);
    }

    private void OnOutputLine(string? line, bool isError)
    {
        if (string.IsNullOrEmpty(line))
        {
            return;
        }

        if (line.StartsWith(ConsoleLogPrefix, StringComparison.Ordinal))
        {
            line = line[ConsoleLogPrefix.Length..];
        }

        if (isError)
        {
            LogStandardError(_logger, Id, line);
        }
        else
        {
            LogStandardOutput(_logger, Id, line);
        }
    }

    [LoggerMessage(EventId = 1100, EventName = "WorkerStarted", Level = LogLevel.Information,
        Message = "Started the worker process {ProcessId} ({FileName})")]
    private static partial void LogStarted(ILogger logger, int processId, string fileName);

    [LoggerMessage(EventId = 1101, EventName = "WorkerStandardOutput", Level = LogLevel.Information,
        Message = "[worker {ProcessId}] {Line}")]
    private static partial void LogStandardOutput(ILogger logger, int processId, string line);

    [LoggerMessage(EventId = 1102, EventName = "WorkerStandardError", Level = LogLevel.Warning,
        Message = "[worker {ProcessId}] {Line}")]
    private static partial void LogStandardError(ILogger logger, int processId, string line);

    [LoggerMessage(EventId = 1103, EventName = "WorkerExited", Level = LogLevel.Information,
        Message = "The worker process {ProcessId} exited with code {ExitCode}")]
    private static partial void LogExited(ILogger logger, int processId, int exitCode);

    [LoggerMessage(EventId = 1104, EventName = "WorkerKilled", Level = LogLevel.Information,
        Message = "Killed the worker process {ProcessId} and its children")]
    private static partial void LogKilled(ILogger logger, int processId);

    [LoggerMessage(EventId = 1105, EventName = "WorkerKillFailed", Level = LogLevel.Error,
        Message = "Could not kill the worker process {ProcessId}: {Reason}")]
    private static partial void LogKillFailed(ILogger logger, int processId, string reason);

    [LoggerMessage(EventId = 1106, EventName = "WorkerExitWaitTimedOut", Level = LogLevel.Warning,
        Message = "The worker process {ProcessId} was killed but had not exited after {Seconds} s")]
    private static partial void LogExitWaitTimedOut(ILogger logger, int processId, double seconds);
}
