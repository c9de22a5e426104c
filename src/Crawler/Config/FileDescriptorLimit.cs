using System.Globalization;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Config;

/// <summary>The process's open-file limit (RLIMIT_NOFILE, soft), which bounds the sockets a crawl may hold.</summary>
public static class FileDescriptorLimit
{
    /// <summary>The soft limit from /proc/self/limits ("Max open files"); null where that file does not exist, cannot
    /// be read (logged) or says "unlimited". (.NET raises the soft limit to the hard one at start-up on Linux, so this
    /// is the usable one.)</summary>
    public static long? Read(ILogger? log = null, string path = "/proc/self/limits")
    {
        try
        {
            if (!File.Exists(path)) return null;
            foreach (string line in File.ReadLines(path)) if (line.StartsWith("Max open files", StringComparison.Ordinal)) return Parse(line);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log?.LogWarning("cannot read the open-file limit from {Path} ({Error}): dial concurrency is not fitted to it", path, e.Message);
        }
        return null;
    }

    /// <summary>The soft limit of a "Max open files  SOFT  HARD  files" line of /proc/self/limits.</summary>
    public static long? Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length > 0 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long soft) ? soft : null;
    }
}
