using AgentFunctions.DevHost;
using AgentFunctions.DevHost.Doubles;
using AgentFunctions.Tests.Doubles;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentFunctions.Tests.LocalHost;

/// <summary>
/// The one Azurite of the test process for hosts that run the real app against <see cref="SharedLocalAzure"/>: HTTPS
/// with the shared doubles' certificate (which the worker trusts through their <c>SSL_CERT_FILE</c>) and bearer tokens
/// from the shared managed-identity double, as <c>dotnet run</c> sets it up. Started on first use, killed when the
/// process exits.
/// </summary>
internal static class SharedLocalStorage
{
    private static readonly Lazy<AzuriteProcess> s_instance = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    public static AzuriteProcess Instance => s_instance.Value;

    private static AzuriteProcess Start()
    {
        // Started on the thread pool so that no test framework synchronization context takes part in the start.
        var azurite = Task.Run(() => LocalDevelopmentHost.StartStorageAsync(SharedLocalAzure.Instance, NullLoggerFactory.Instance,
            CancellationToken.None)).GetAwaiter().GetResult();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => azurite.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return azurite;
    }
}
