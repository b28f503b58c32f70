using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace AgentFunctions.DevHost.Functions.Worker;

/// <summary>
/// Kills every child process still running when this process ends (the worker, and Azurite when the local host started
/// it), so that none outlives its host. Normal exit and SIGTERM
/// raise ProcessExit; Ctrl+C, SIGQUIT and SIGHUP would end the process without it, hence the signal registrations.
/// A host killed with SIGKILL cannot react at all, and the worker does not stop by itself when its gRPC stream breaks
/// (checked against Worker 2.52): that one case leaves the worker running until it is killed by hand.
/// </summary>
internal static class WorkerProcessReaper
{
    private static readonly ConcurrentDictionary<object, Action> Running = new();
    private static readonly Lock Gate = new();
    private static List<PosixSignalRegistration>? s_signalRegistrations;
    private static int s_shuttingDown;

    internal static int RunningCount => Running.Count;

    /// <summary>
    /// True once this process has begun to end and the reaper has killed its children: their exits are then expected,
    /// not failures to report.
    /// </summary>
    public static bool IsShuttingDown => Volatile.Read(ref s_shuttingDown) == 1;

    public static void Track(WorkerProcess worker) => Track(worker, worker.Kill);

    /// <summary>Calls <paramref name="kill"/> when this process ends, unless <paramref name="owner"/> is untracked first.</summary>
    public static void Track(object owner, Action kill)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(kill);
        EnsureHooked();
        Running.TryAdd(owner, kill);
    }

    public static void Untrack(object owner) => Running.TryRemove(owner, out _);

    private static void EnsureHooked()
    {
        lock (Gate)
        {
            if (s_signalRegistrations is not null)
            {
                return;
            }

            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
            s_signalRegistrations = [];
            foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGQUIT, PosixSignal.SIGHUP, PosixSignal.SIGTERM })
            {
                try
                {
                    // The handler leaves context.Cancel alone, so the signal's normal effect still follows.
                    s_signalRegistrations.Add(PosixSignalRegistration.Create(signal, _ => KillAll()));
                }
                catch (PlatformNotSupportedException)
                {
                    // ProcessExit still covers normal exit on such platforms.
                }
            }
        }
    }

    private static void KillAll()
    {
        Volatile.Write(ref s_shuttingDown, 1);
        foreach (var kill in Running.Values)
        {
            kill();
        }
    }
}
