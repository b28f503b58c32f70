using System.Globalization;
using System.Net;

namespace AgentFunctions.Tests.EndToEnd;

/// <summary>
/// The remote ends of one process's TCP and UDP sockets, read from Linux's /proc: a listening or unconnected socket
/// has the unspecified address as its remote end.
/// </summary>
internal static class ProcessSockets
{
    public static IReadOnlyList<IPEndPoint> GetRemoteEndPoints(int processId)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (string fd in Directory.EnumerateFileSystemEntries($"/proc/{processId}/fd"))
            {
                string? target = new FileInfo(fd).LinkTarget;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    inodes.Add(target["socket:[".Length..^1]);
                }
            }
        }
        catch (Exception exception) when (exception is DirectoryNotFoundException or FileNotFoundException or IOException)
        {
            // The process or one of its descriptors went away while being read: no socket of it is left to see.
        }

        var remotes = new List<IPEndPoint>();
        foreach (string table in (string[])["tcp", "tcp6", "udp", "udp6"])
        {
            string path = $"/proc/{processId}/net/{table}";
            string[] lines;
            try
            {
                lines = File.ReadAllLines(path);
            }
            catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException or IOException)
            {
                continue;
            }

            foreach (string line in lines.Skip(1))
            {
                string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 9 && inodes.Contains(fields[9]))
                {
                    remotes.Add(Parse(fields[2]));
                }
            }
        }

        return remotes;
    }

    public static bool IsLoopbackOrUnspecified(IPEndPoint endPoint) =>
        IPAddress.IsLoopback(endPoint.Address)
        || endPoint.Address.Equals(IPAddress.Any)
        || endPoint.Address.Equals(IPAddress.IPv6Any)
        || (endPoint.Address.IsIPv4MappedToIPv6 && IPAddress.IsLoopback(endPoint.Address.MapToIPv4()));

    // /proc writes addresses as hex in the kernel's byte order: each 32-bit word little-endian on x86 and arm64.
    private static IPEndPoint Parse(string field)
    {
        string[] parts = field.Split(':');
        int port = int.Parse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        string hex = parts[0];
        var bytes = new byte[hex.Length / 2];
        for (int word = 0; word < bytes.Length / 4; word++)
        {
            for (int b = 0; b < 4; b++)
            {
                bytes[(word * 4) + b] = byte.Parse(hex.AsSpan((word * 8) + ((3 - b) * 2), 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        return new IPEndPoint(new IPAddress(bytes), port);
    }
}
