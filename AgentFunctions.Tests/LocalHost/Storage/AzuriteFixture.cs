using AgentFunctions.DevHost.Doubles;
using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Storage;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AgentFunctions.Tests.LocalHost.Storage;

/// <summary>
/// One Azurite per test class, set up as the local host runs it: HTTPS with a local CA's certificate and
/// <c>--oauth basic</c>, reached through an identity-based connection whose tokens come from a managed-identity double
/// of the fixture's own (so no shared double's counters move). <see cref="Settings"/> holds exactly the app settings
/// the worker would get; <see cref="Connections"/> builds clients from them the way the host does.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime, IDisposable
{
    private readonly ILoggerFactory _loggerFactory;
    private LocalCertificateAuthority? _certificateAuthority;
    private ManagedIdentityDouble? _identity;

    public AzuriteFixture()
    {
        Logs = new FakeLoggerProvider();
        _loggerFactory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
    }

    public FakeLoggerProvider Logs { get; }

    internal ILoggerFactory Loggers => _loggerFactory;

    internal LocalTenant Tenant { get; } = new();

    internal AzuriteProcess Azurite { get; private set; } = null!;

    internal IReadOnlyDictionary<string, string> SettingValues { get; private set; } = new Dictionary<string, string>();

    internal AppSettings Settings { get; private set; } = AppSettings.Empty;

    internal StorageConnections Connections { get; private set; } = null!;

    internal ManagedIdentityDouble Identity => _identity!;

    /// <summary>The app settings plus <paramref name="extra"/>, for a test that needs one more setting.</summary>
    internal AppSettings SettingsWith(IReadOnlyDictionary<string, string> extra) =>
        new(SettingValues.Concat(extra).GroupBy(pair => pair.Key).Select(group => group.Last()));

    /// <summary>A queue name no other test of the class uses.</summary>
    public static string NewQueueName(string prefix = "q") => $"{prefix}-{Guid.NewGuid().ToString("N")[..16]}";

    /// <summary>A raw client (no SDK encoding): what is on the wire is what a test sees.</summary>
    internal QueueClient Queue(string name) => Connections.GetQueueClient(null, name);

    public async Task InitializeAsync()
    {
        _certificateAuthority = new LocalCertificateAuthority();
        var bundle = _certificateAuthority.WriteTrustBundle();
        _identity = await ManagedIdentityDouble.StartAsync(Tenant, LocalPrincipal.Create("test app"),
            ["https://storage.azure.com"], _loggerFactory.CreateLogger<ManagedIdentityDouble>());
        Azurite = await AzuriteProcess.StartAsync(
            new AzuriteOptions { Certificate = _certificateAuthority.ServerCertificate, OAuth = true },
            _loggerFactory.CreateLogger<AzuriteProcess>());

        var values = new Dictionary<string, string>(Azurite.CreateIdentityConnectionSettings("AzureWebJobsStorage"))
        {
            ["IDENTITY_ENDPOINT"] = _identity.Endpoint.ToString(),
            ["IDENTITY_HEADER"] = _identity.IdentityHeader,
            ["SSL_CERT_FILE"] = bundle,
        };
        SettingValues = values;
        Settings = new AppSettings(values);
        Connections = new StorageConnections(Settings);
    }

    public async Task DisposeAsync()
    {
        Connections?.Dispose();
        if (Azurite is not null)
        {
            await Azurite.DisposeAsync();
        }

        if (_identity is not null)
        {
            await _identity.DisposeAsync();
        }
    }

    /// <summary>xUnit calls this after <see cref="DisposeAsync"/>: what remains is synchronous.</summary>
    public void Dispose()
    {
        _certificateAuthority?.Dispose();
        _loggerFactory.Dispose();
        Logs.Dispose();
    }
}
