namespace AgentFunctions.DevHost.Functions;

/// <summary>
/// Settings for <see cref="FunctionsHost"/>. Timeouts default to the values the Azure Functions host uses.
/// </summary>
public sealed class FunctionsHostOptions
{
    /// <summary>Default for <see cref="MaxRequestBodySize"/>: 1 MiB.</summary>
    public const long DefaultMaxRequestBodySize = 1024 * 1024;

    /// <summary>
    /// The worker's build output: the folder holding <c>worker.config.json</c>, <c>functions.metadata</c>, <c>host.json</c>
    /// and the app assembly. <see cref="ForBuiltApp"/> fills in the AgentFunctions output of this build configuration.
    /// </summary>
    public required string AppDirectory { get; init; }

    /// <summary>Port of the HTTP front end on 127.0.0.1. 0, the default, picks a free port.</summary>
    public int HttpPort { get; init; }

    /// <summary>
    /// Extra environment variables for the worker (app settings, identity endpoints of local doubles, a loopback proxy).
    /// They are applied after the inherited environment has been cleaned, so they may set variables that cleaning removed.
    /// </summary>
    public IDictionary<string, string> EnvironmentVariables { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// The environment the worker inherits before it is cleaned; null, the default, is this process's. Lets a test stand
    /// in for the developer's shell without changing the environment that every other test shares.
    /// </summary>
    internal IReadOnlyDictionary<string, string?>? InheritedEnvironment { get; init; }

    /// <summary>How long the worker may take from process start to opening its gRPC stream. Default 60 s.</summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the worker may take to answer the metadata request and each load request. Default 60 s.</summary>
    public TimeSpan FunctionLoadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long the worker may take to exit after WorkerTerminate before its process tree is killed. Default 5 s.
    /// </summary>
    public TimeSpan ShutdownGracePeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Endpoints of the local host's own, served beside the functions on the same port (for example an operator action
    /// under <c>/_devhost/</c>). Function routes take precedence only where a path is the same.
    /// </summary>
    public Action<Microsoft.AspNetCore.Routing.IEndpointRouteBuilder>? MapHostEndpoints { get; init; }

    /// <summary>
    /// Where the host keeps state between runs: timer schedule status (<c>timers/&lt;function&gt;.status.json</c>), which
    /// the Functions host keeps in a storage blob. Default null: a temporary folder of this host's own, deleted when it
    /// stops, so every run starts without history.
    /// </summary>
    public string? StateDirectory { get; init; }

    /// <summary>Largest HTTP request body the front end accepts, in bytes; a larger one gets 413. Default 1 MiB.</summary>
    public long MaxRequestBodySize { get; init; } = DefaultMaxRequestBodySize;

    /// <summary>Options for the AgentFunctions build output of this build configuration, all else default.</summary>
    public static FunctionsHostOptions ForBuiltApp() => new() { AppDirectory = GetBuiltAppDirectory() };

    /// <summary>
    /// The AgentFunctions build output of this build configuration (bin/&lt;Configuration&gt;/net10.0), recorded at build
    /// time. Whether it holds a build is checked when the host starts.
    /// </summary>
    public static string GetBuiltAppDirectory() => FunctionAppLocator.GetDefaultAppDirectory();

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(AppDirectory))
        {
            throw new ArgumentException(
                $"{nameof(AppDirectory)} must name the function app's build output folder.", nameof(AppDirectory));
        }

        if (HttpPort is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(
                nameof(HttpPort), HttpPort, $"{nameof(HttpPort)} must be 0 (pick a free port) or a TCP port up to 65535.");
        }

        RequirePositive(StartupTimeout, nameof(StartupTimeout));
        RequirePositive(FunctionLoadTimeout, nameof(FunctionLoadTimeout));
        if (ShutdownGracePeriod < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(
                nameof(ShutdownGracePeriod), ShutdownGracePeriod, $"{nameof(ShutdownGracePeriod)} must not be negative.");
        }

        // A body travels to the worker as one protobuf bytes field, which cannot exceed 2 GiB.
        if (MaxRequestBodySize is <= 0 or > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRequestBodySize), MaxRequestBodySize,
                $"{nameof(MaxRequestBodySize)} must be between 1 and {int.MaxValue} bytes.");
        }
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a positive duration.");
        }
    }
}
