using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>
/// Azurite, the storage emulator, as a child process on 127.0.0.1: blob, queue and table services on free ports, data in
/// memory only (every run starts empty), telemetry off. Killed with its process tree on disposal or when this process
/// exits.
/// </summary>
/// <remarks>
/// Ports are chosen by the operating system (Azurite is asked for port 0) and read back from the lines Azurite prints
/// once each service listens, so two runs never race for a port. With a certificate every service speaks HTTPS, and
/// with <see cref="AzuriteOptions.OAuth"/> it accepts bearer tokens: Azurite's "basic" check reads the token's issuer
/// (it must start with <c>https://sts.windows.net/</c>), audience (<c>https://storage.azure.com</c>) and lifetime but
/// not its signature, so any well-formed token from the local tenant passes.
/// </remarks>
internal sealed partial class AzuriteProcess : IAsyncDisposable
{
    /// <summary>The account Azurite serves when <c>AZURITE_ACCOUNTS</c> is not set.</summary>
    public const string AccountName = "devstoreaccount1";

    private const int KeptOutputLines = 20;
    private static readonly TimeSpan ExitWaitAfterKill = TimeSpan.FromSeconds(10);
    private static readonly string[] Services = ["Blob", "Queue", "Table"];

    private readonly Process _process;
    private readonly ILogger _logger;
    private readonly DirectoryInfo _workDirectory;
    private readonly ConcurrentDictionary<string, Uri> _listening = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _lastLines = new();
    private readonly TaskCompletionSource _allListening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stopRequested;
    private int _disposed;

    private AzuriteProcess(Process process, DirectoryInfo workDirectory, bool usesHttps, ILogger logger)
    {
        _process = process;
        _workDirectory = workDirectory;
        UsesHttps = usesHttps;
        _logger = logger;
    }

    /// <summary>The executable started: the Node.js named in the options.</summary>
    public string FileName => _process.StartInfo.FileName;

    /// <summary>Every argument Azurite was started with, in order (the first is Azurite's script).</summary>
    public IReadOnlyList<string> Arguments => [.. _process.StartInfo.ArgumentList];

    /// <summary>Operating-system id of the Azurite process.</summary>
    public int ProcessId { get; private set; }

    /// <summary>True when the services speak HTTPS.</summary>
    public bool UsesHttps { get; }

    /// <summary><c>http(s)://127.0.0.1:&lt;port&gt;/devstoreaccount1</c>.</summary>
    public Uri BlobServiceUri => ServiceUri("Blob");

    /// <summary><c>http(s)://127.0.0.1:&lt;port&gt;/devstoreaccount1</c>.</summary>
    public Uri QueueServiceUri => ServiceUri("Queue");

    /// <summary><c>http(s)://127.0.0.1:&lt;port&gt;/devstoreaccount1</c>.</summary>
    public Uri TableServiceUri => ServiceUri("Table");

    /// <summary>
    /// Completes with the exit code once the process has exited: because it was stopped (<see cref="Kill"/>, disposal, the
    /// end of this process) or by itself, which is logged as an error.
    /// </summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>
    /// Starts Azurite and returns once all three services listen and the queue service answers a request. Fails with
    /// <see cref="FunctionsHostException"/> (after killing what it started) when Azurite is not installed, exits early
    /// or is not ready in time.
    /// </summary>
    public static async Task<AzuriteProcess> StartAsync(AzuriteOptions options, ILogger logger,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();

        var script = Path.Combine(options.InstallDirectory, "node_modules", "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(script))
        {
            throw new FunctionsHostException(
                $"Azurite is not installed: '{script}' does not exist. Build AgentFunctions.DevHost; its InstallAzurite " +
                $"target runs 'npm ci' in '{options.InstallDirectory}'.");
        }

        // Azurite writes nothing to disk with in-memory persistence, but its working folder and the TLS files must live
        // somewhere only this user can read, and go away with the process.
        var workDirectory = Directory.CreateTempSubdirectory("agentfunctions-azurite-");
        var startInfo = CreateStartInfo(options, script, workDirectory.FullName);
        var azurite = new AzuriteProcess(new Process { StartInfo = startInfo }, workDirectory, options.Certificate is not null,
            logger);
        try
        {
            azurite.Start();
            await azurite.WaitUntilReadyAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await azurite.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        LogStarted(logger, azurite.ProcessId, azurite.BlobServiceUri, azurite.QueueServiceUri, azurite.TableServiceUri);
        return azurite;
    }

    /// <summary>
    /// Identity-based connection settings for this Azurite under <paramref name="connectionName"/>, shaped as in Azure:
    /// <c>&lt;name&gt;__blobServiceUri</c>, <c>__queueServiceUri</c>, <c>__tableServiceUri</c> and
    /// <c>__credential=managedidentity</c>. No key and no connection string.
    /// </summary>
    public IReadOnlyDictionary<string, string> CreateIdentityConnectionSettings(string connectionName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [$"{connectionName}__blobServiceUri"] = BlobServiceUri.ToString(),
            [$"{connectionName}__queueServiceUri"] = QueueServiceUri.ToString(),
            [$"{connectionName}__tableServiceUri"] = TableServiceUri.ToString(),
            [$"{connectionName}__credential"] = "managedidentity",
        };
    }

    /// <summary>
    /// Kills the process tree if it still runs; the exit that follows is expected, not reported as a crash. Safe from any
    /// thread, any number of times.
    /// </summary>
    public void Kill()
    {
        Volatile.Write(ref _stopRequested, 1);
        if (_exited.Task.IsCompleted || Volatile.Read(ref _disposed) != 0 || ProcessId == 0)
        {
            return;
        }

        try
        {
            _process.Kill(entireProcessTree: true);
            LogKilled(_logger, ProcessId);
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }
        catch (Win32Exception exception)
        {
            LogKillFailed(_logger, ProcessId, exception.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        if (ProcessId != 0)
        {
            try
            {
                await _exited.Task.WaitAsync(ExitWaitAfterKill).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                LogExitWaitTimedOut(_logger, ProcessId, ExitWaitAfterKill.TotalSeconds);
            }
        }

        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        WorkerProcessReaper.Untrack(this);
        _process.Dispose();
        DeleteWorkDirectory();
    }

    private static ProcessStartInfo CreateStartInfo(AzuriteOptions options, string script, string workDirectory)
    {
        var startInfo = new ProcessStartInfo(options.NodeExecutable)
        {
            WorkingDirectory = workDirectory,
            UseShellExecute = false,
            CreateNoWindow = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };

        // Azurite must serve its one well-known account, and never reach out through a proxy the shell happens to set.
        foreach (var name in new[] { "AZURITE_ACCOUNTS", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NODE_OPTIONS" })
        {
            startInfo.Environment.Remove(name);
        }

        string[] arguments =
        [
            script,
            "--disableTelemetry",
            "--silent",
            "--inMemoryPersistence",
            // Azure.Storage.Queues 12.28 speaks service version 2026-10-06; Azurite 3.37 knows versions up to 2026-06-06
            // and would refuse every request. The operations the host uses are the same in both.
            "--skipApiVersionCheck",
            "--extentMemoryLimit", options.ExtentMemoryLimitMegabytes.ToString(CultureInfo.InvariantCulture),
            "--blobHost", "127.0.0.1", "--blobPort", "0",
            "--queueHost", "127.0.0.1", "--queuePort", "0",
            "--tableHost", "127.0.0.1", "--tablePort", "0",
        ];
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        if (options.Certificate is { } certificate)
        {
            var (certificatePath, keyPath) = WriteTlsFiles(certificate, workDirectory);
            startInfo.ArgumentList.Add("--cert");
            startInfo.ArgumentList.Add(certificatePath);
            startInfo.ArgumentList.Add("--key");
            startInfo.ArgumentList.Add(keyPath);
        }

        if (options.OAuth)
        {
            startInfo.ArgumentList.Add("--oauth");
            startInfo.ArgumentList.Add("basic");
        }

        return startInfo;
    }

    private static (string CertificatePath, string KeyPath) WriteTlsFiles(X509Certificate2 certificate, string directory)
    {
        var certificatePath = Path.Combine(directory, "server.pem");
        var keyPath = Path.Combine(directory, "server-key.pem");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());

        AsymmetricAlgorithm key = (AsymmetricAlgorithm?)certificate.GetECDsaPrivateKey()
            ?? certificate.GetRSAPrivateKey()
            ?? throw new ArgumentException("Azurite needs an ECDSA or RSA server certificate.", nameof(certificate));
        using (key)
        {
            // Readable by this user only, from the moment the file exists.
            var owner = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                owner.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var writer = new StreamWriter(keyPath, Encoding.ASCII, owner);
            writer.Write(key.ExportPkcs8PrivateKeyPem());
        }

        return (certificatePath, keyPath);
    }

    private void Start()
    {
        _process.OutputDataReceived += (_, line) => OnOutputLine(line.Data);
        _process.ErrorDataReceived += (_, line) => OnOutputLine(line.Data);
        try
        {
            _process.Start();
        }
        catch (Win32Exception exception)
        {
            throw new FunctionsHostException(
                $"Could not start Azurite with '{_process.StartInfo.FileName}': {exception.Message}. The local host needs " +
                "Node.js on PATH.", exception);
        }

        ProcessId = _process.Id;
        // On SIGTERM or a plain exit nobody disposes this object: kill Azurite and remove its key file all the same.
        WorkerProcessReaper.Track(this, () =>
        {
            Kill();
            DeleteWorkDirectory();
        });
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _ = WatchExitAsync();
    }

    private async Task WaitUntilReadyAsync(AzuriteOptions options, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.StartupTimeout);
        try
        {
            var finished = await Task.WhenAny(_allListening.Task, _exited.Task).WaitAsync(timeout.Token).ConfigureAwait(false);
            if (finished == _exited.Task)
            {
                throw new FunctionsHostException(string.Create(CultureInfo.InvariantCulture,
                    $"Azurite exited with code {_exited.Task.Result} before it listened. Its last output: {LastOutput()}"));
            }

            await ProbeQueueServiceAsync(options.Certificate, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new FunctionsHostException(string.Create(CultureInfo.InvariantCulture,
                $"Azurite was not ready within {options.StartupTimeout.TotalSeconds:0.#} s. Its last output: {LastOutput()}"));
        }
    }

    /// <summary>Any HTTP answer will do (an unauthenticated request gets 403): it proves the service handles requests.</summary>
    private async Task ProbeQueueServiceAsync(X509Certificate2? certificate, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { UseProxy = false };
        if (certificate is not null)
        {
            // Pinned: the probe trusts exactly the certificate Azurite was given, and nothing else.
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
                presented is not null && presented.GetRawCertData().AsSpan().SequenceEqual(certificate.RawDataMemory.Span);
        }

        using var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        using var response = await client.GetAsync(new Uri(QueueServiceUri + "?comp=list"), cancellationToken)
            .ConfigureAwait(false);
    }

    private void OnOutputLine(string? line)
    {
        if (string.IsNullOrEmpty(line))
        {
            return;
        }

        _lastLines.Enqueue(line);
        while (_lastLines.Count > KeptOutputLines && _lastLines.TryDequeue(out _))
        {
        }

        LogOutput(_logger, ProcessId, line);
        var match = ListeningLine().Match(line);
        if (match.Success && Uri.TryCreate(match.Groups["url"].Value, UriKind.Absolute, out var url))
        {
            _listening[match.Groups["service"].Value] = url;
            if (Services.All(_listening.ContainsKey))
            {
                _allListening.TrySetResult();
            }
        }
    }

    private async Task WatchExitAsync()
    {
        await _process.WaitForExitAsync().ConfigureAwait(false);
        var exitCode = _process.ExitCode;
        WorkerProcessReaper.Untrack(this);
        // Killed by this host (a failed start, a stop, a signal to this process) is the end it was meant to have.
        var stopped = Volatile.Read(ref _stopRequested) != 0 || WorkerProcessReaper.IsShuttingDown;
        if (stopped || !_allListening.Task.IsCompleted)
        {
            LogStopped(_logger, ProcessId, exitCode);
        }
        else
        {
            LogExitedUnexpectedly(_logger, ProcessId, exitCode);
        }

        _exited.TrySetResult(exitCode);
    }

    private void DeleteWorkDirectory()
    {
        try
        {
            _workDirectory.Delete(recursive: true);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Only a temporary folder with a throwaway certificate stays behind.
        }
    }

    private Uri ServiceUri(string service) => _listening.TryGetValue(service, out var url)
        ? new Uri(url.GetLeftPart(UriPartial.Authority) + "/" + AccountName)
        : throw new InvalidOperationException($"Azurite's {service} service is not listening.");

    private string LastOutput() => _lastLines.IsEmpty ? "(none)" : string.Join(" | ", _lastLines);

    [GeneratedRegex(@"Azurite (?<service>Blob|Queue|Table) service is successfully listening at (?<url>\S+)")]
    private static partial Regex ListeningLine();

    [LoggerMessage(EventId = 1600, EventName = "AzuriteStarted", Level = LogLevel.Information,
        Message = "Azurite started (process {ProcessId}): blob {BlobServiceUri}, queue {QueueServiceUri}, " +
            "table {TableServiceUri}")]
    private static partial void LogStarted(ILogger logger, int processId, Uri blobServiceUri, Uri queueServiceUri,
        Uri tableServiceUri);

    [LoggerMessage(EventId = 1601, EventName = "AzuriteOutput", Level = LogLevel.Debug,
        Message = "[azurite {ProcessId}] {Line}")]
    private static partial void LogOutput(ILogger logger, int processId, string line);

    [LoggerMessage(EventId = 1602, EventName = "AzuriteExited", Level = LogLevel.Error,
        Message = "Azurite (process {ProcessId}) exited unexpectedly with code {ExitCode}; the queues, blobs and tables " +
            "it held in memory are gone.")]
    private static partial void LogExitedUnexpectedly(ILogger logger, int processId, int exitCode);

    [LoggerMessage(EventId = 1603, EventName = "AzuriteKilled", Level = LogLevel.Debug,
        Message = "Killed Azurite (process {ProcessId}) and its children")]
    private static partial void LogKilled(ILogger logger, int processId);

    [LoggerMessage(EventId = 1604, EventName = "AzuriteKillFailed", Level = LogLevel.Error,
        Message = "Could not kill Azurite (process {ProcessId}): {Reason}")]
    private static partial void LogKillFailed(ILogger logger, int processId, string reason);

    [LoggerMessage(EventId = 1605, EventName = "AzuriteExitWaitTimedOut", Level = LogLevel.Warning,
        Message = "Azurite (process {ProcessId}) was killed but had not exited after {Seconds} s")]
    private static partial void LogExitWaitTimedOut(ILogger logger, int processId, double seconds);

    [LoggerMessage(EventId = 1606, EventName = "AzuriteStopped", Level = LogLevel.Debug,
        Message = "Azurite (process {ProcessId}) stopped with code {ExitCode}")]
    private static partial void LogStopped(ILogger logger, int processId, int exitCode);
}
