using System.Globalization;
using AgentFunctions.DevHost;
using AgentFunctions.DevHost.Functions;
using Microsoft.Extensions.Logging;

// dotnet run --project AgentFunctions.DevHost [-- --port 7071]
// Starts the local Azure doubles, Azurite and the real worker on 127.0.0.1 and runs until Ctrl+C.

const int DefaultPort = 7071;
int port = DefaultPort;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--port" when i + 1 < args.Length
            && int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int parsed) && parsed is >= 0 and <= 65535:
            port = parsed;
            i++;
            break;
        case "-h" or "--help":
            Console.WriteLine("Usage: dotnet run --project AgentFunctions.DevHost [-- --port <0-65535>]");
            Console.WriteLine($"  --port  HTTP port on 127.0.0.1 (default {DefaultPort}; 0 picks a free port)");
            return 0;
        default:
            Console.Error.WriteLine(
                $"Unknown or incomplete option '{args[i]}'. Usage: dotnet run --project AgentFunctions.DevHost [-- --port <0-65535>]");
            return 2;
    }
}

using var loggerFactory = LoggerFactory.Create(logging => logging
    .SetMinimumLevel(LogLevel.Information)
    .AddSimpleConsole(console =>
    {
        console.SingleLine = true;
        console.TimestampFormat = "HH:mm:ss ";
    }));
using var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stopping.Cancel();
};

LocalDevelopmentHost host;
try
{
    host = await LocalDevelopmentHost.StartAsync(new LocalDevelopmentHostOptions { HttpPort = port }, loggerFactory, stopping.Token);
}
catch (FunctionsHostException exception)
{
    Console.Error.WriteLine($"The local host could not start: {exception.Message}");
    return 1;
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    return 0;
}

await using (host)
{
    var baseAddress = host.BaseAddress.ToString().TrimEnd('/');
    Console.WriteLine();
    Console.WriteLine($"AgentFunctions is running at {baseAddress} (local doubles of Key Vault, managed identity and Azure OpenAI).");
    Console.WriteLine($"Storage is Azurite, in memory: queues at {host.Storage.QueueServiceUri}, blobs at {host.Storage.BlobServiceUri}");
    Console.WriteLine("  (the app and the host connect with the app's managed identity; queue and timer functions run as in Azure).");
    Console.WriteLine("Try it:");
    Console.WriteLine($"  curl -s -X POST {baseAddress}/api/agents/assistant/invoke -H 'Content-Type: application/json' \\");
    Console.WriteLine("       -d '{\"input\": \"What time is it, and what is (17 + 25) * 2?\"}'");
    Console.WriteLine($"  curl -s {baseAddress}/api/health");
    Console.WriteLine("Start a run that goes on in the background, one queue step at a time, then ask for it at its Location:");
    Console.WriteLine($"  curl -si -X POST {baseAddress}/api/agents/assistant/runs -H 'Content-Type: application/json' \\");
    Console.WriteLine("       -d '{\"input\": \"What is (17 + 25) * 2?\"}'");
    Console.WriteLine($"  curl -s {baseAddress}/api/runs/<runId>");
    Console.WriteLine("Rotate the Azure OpenAI key as an operator would (new key, new secret version, old key regenerated):");
    Console.WriteLine($"  curl -s -X POST '{baseAddress}{LocalDevelopmentHost.RotateKeyPath}?retireAfterSeconds=0'");
    Console.WriteLine("Press Ctrl+C to stop.");
    Console.WriteLine();

    // Until Ctrl+C or SIGTERM, or until the worker or Azurite dies: the host then says which, and stops.
    if (!await host.WaitForShutdownAsync(stopping.Token))
    {
        return 1;
    }
}

return 0;
