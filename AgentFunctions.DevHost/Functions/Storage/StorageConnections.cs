using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Azure.Core.Pipeline;
using Azure.Storage.Queues;

namespace AgentFunctions.DevHost.Functions.Storage;

/// <summary>
/// Turns a binding's <c>Connection</c> name into queue clients the way the Functions host does, from the app settings:
/// an identity-based connection (<c>&lt;name&gt;__queueServiceUri</c>, <c>__credential=managedidentity</c>, optional
/// <c>__clientId</c>) or a connection string in <c>&lt;name&gt;</c>. Clients share one transport that trusts what the
/// app's <c>SSL_CERT_FILE</c> trusts, and tokens come from the app's managed-identity endpoint.
/// </summary>
/// <remarks>
/// Unlike Azure, the local host refuses any storage endpoint that is not on this machine: local runs must never reach a
/// real account. Clients send and receive message text as it is on the wire (no SDK encoding), because the host applies
/// host.json's messageEncoding itself: it must see a message that is not valid base64 to move it to the poison queue.
/// </remarks>
internal sealed partial class StorageConnections : IDisposable
{
    /// <summary>The connection a binding uses when it names none.</summary>
    public const string DefaultConnectionName = "AzureWebJobsStorage";

    private readonly AppSettings _settings;
    private readonly TimeProvider _timeProvider;
    private readonly Lazy<SocketsHttpHandler> _handler;
    private readonly ConcurrentDictionary<string, Lazy<QueueServiceClient>> _queueServices = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, AppServiceManagedIdentityCredential> _credentials = new(StringComparer.Ordinal);

    public StorageConnections(AppSettings settings, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _handler = new Lazy<SocketsHttpHandler>(CreateHandler);
    }

    /// <summary>
    /// The queue service of a connection, created on first use. Throws <see cref="FunctionsHostException"/> naming the
    /// settings to add when the connection is missing, incomplete or points off this machine.
    /// </summary>
    public QueueServiceClient GetQueueServiceClient(string? connectionName)
    {
        var name = string.IsNullOrWhiteSpace(connectionName) ? DefaultConnectionName : connectionName;
        var client = _queueServices.GetOrAdd(name, key => new Lazy<QueueServiceClient>(() => CreateQueueServiceClient(key)));
        try
        {
            return client.Value;
        }
        catch (FunctionsHostException)
        {
            // A later call (after the settings were fixed in a new host) must not see a cached failure.
            _queueServices.TryRemove(name, out _);
            throw;
        }
    }

    /// <summary>A queue of a connection; <paramref name="queueName"/> must already be resolved and valid.</summary>
    public QueueClient GetQueueClient(string? connectionName, string queueName) =>
        GetQueueServiceClient(connectionName).GetQueueClient(queueName);

    /// <summary>
    /// Lower-cases a resolved queue name and checks Azure's rules (3 to 63 characters; letters, digits and single
    /// hyphens; starting and ending with a letter or digit). Throws <see cref="FunctionsHostException"/> naming
    /// <paramref name="what"/> otherwise.
    /// </summary>
    public static string NormalizeQueueName(string queueName, string what)
    {
        ArgumentNullException.ThrowIfNull(queueName);
        var normalized = queueName.ToLowerInvariant();
        if (!IsValidQueueName(normalized))
        {
            throw new FunctionsHostException(
                $"{what} is '{queueName}', which is not a valid queue name: 3 to 63 characters, lower-case letters, " +
                "digits and single hyphens, starting and ending with a letter or digit.");
        }

        return normalized;
    }

    public static bool IsValidQueueName(string queueName) =>
        queueName.Length is >= 3 and <= 63 && QueueNamePattern().IsMatch(queueName);

    public void Dispose()
    {
        foreach (var credential in _credentials.Values)
        {
            credential.Dispose();
        }

        if (_handler.IsValueCreated)
        {
            _handler.Value.Dispose();
        }
    }

    private QueueServiceClient CreateQueueServiceClient(string name)
    {
        // Like the Functions host: a name that is not set is looked up again with the AzureWebJobs prefix.
        var isSet = _settings.Get(name) is not null || _settings.HasSection(name);
        if (!isSet && !name.StartsWith("AzureWebJobs", StringComparison.OrdinalIgnoreCase))
        {
            var prefixed = "AzureWebJobs" + name;
            if (_settings.Get(prefixed) is not null || _settings.HasSection(prefixed))
            {
                name = prefixed;
            }
        }

        var options = CreateOptions();
        if (_settings.Get(name) is { Length: > 0 } connectionString)
        {
            QueueServiceClient fromString;
            try
            {
                fromString = new QueueServiceClient(connectionString, options);
            }
            catch (FormatException exception)
            {
                // The message would quote the string, which may hold an account key.
                throw new FunctionsHostException($"The app setting '{name}' is not a valid storage connection string.",
                    exception);
            }

            RequireLocal(fromString.Uri, name);
            return fromString;
        }

        var serviceUri = _settings.Get(name, "queueServiceUri") ?? _settings.Get(name, "serviceUri");
        if (serviceUri is null)
        {
            var hint = _settings.Get(name, "accountName") is not null
                ? $" '{name}__accountName' names an account in Azure, which the local host never reaches."
                : string.Empty;
            throw new FunctionsHostException(
                $"The storage connection '{name}' is not set. Set '{name}__queueServiceUri' (with " +
                $"'{name}__credential=managedidentity') for an identity-based connection, or '{name}' to a connection " +
                $"string.{hint}");
        }

        if (!Uri.TryCreate(serviceUri, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
        {
            throw new FunctionsHostException($"The app setting '{name}__queueServiceUri' is not an absolute http(s) URI.");
        }

        RequireLocal(uri, name);
        return new QueueServiceClient(uri, GetCredential(name), options);
    }

    private AppServiceManagedIdentityCredential GetCredential(string connectionName)
    {
        var credential = _settings.Get(connectionName, "credential");
        if (credential is not null && !string.Equals(credential, "managedidentity", StringComparison.OrdinalIgnoreCase))
        {
            throw new FunctionsHostException(
                $"The app setting '{connectionName}__credential' is '{credential}'; the local host supports only " +
                "'managedidentity', served by the local managed-identity endpoint.");
        }

        var endpoint = _settings.Get("IDENTITY_ENDPOINT") ?? _settings.Get("MSI_ENDPOINT");
        var header = _settings.Get("IDENTITY_HEADER") ?? _settings.Get("MSI_SECRET");
        if (endpoint is null || header is null || !Uri.TryCreate(endpoint, UriKind.Absolute, out var endpointUri))
        {
            throw new FunctionsHostException(
                $"The storage connection '{connectionName}' is identity-based, but the app has no managed-identity " +
                "endpoint: set IDENTITY_ENDPOINT and IDENTITY_HEADER (the local host's doubles provide them).");
        }

        var clientId = _settings.Get(connectionName, "clientId");
        return _credentials.GetOrAdd(clientId ?? string.Empty,
            id => new AppServiceManagedIdentityCredential(endpointUri, header, id, _timeProvider));
    }

    private QueueClientOptions CreateOptions()
    {
        var options = new QueueClientOptions
        {
            MessageEncoding = QueueMessageEncoding.None,
            Transport = new HttpClientTransport(_handler.Value),
        };
        // Local storage answers at once or not at all; a short retry keeps a stopped Azurite from stalling listeners.
        options.Retry.MaxRetries = 3;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(5);
        return options;
    }

    private SocketsHttpHandler CreateHandler()
    {
        // Storage is on loopback, which never goes through a proxy.
        var handler = new SocketsHttpHandler { UseProxy = false };
        if (_settings.Get("SSL_CERT_FILE") is { Length: > 0 } bundlePath)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = TrustBundle.Load(bundlePath).Validate;
        }

        return handler;
    }

    private static void RequireLocal(Uri endpoint, string connectionName)
    {
        if (!endpoint.IsLoopback)
        {
            throw new FunctionsHostException(
                $"The storage connection '{connectionName}' points at '{endpoint.Host}'. The local host talks only to " +
                "storage on this machine (127.0.0.1, localhost, ::1): point it at the Azurite the local host starts.");
        }
    }

    [GeneratedRegex("^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$")]
    private static partial Regex QueueNamePattern();
}
