using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Eth2Crawl;

/// <summary>How many dials a crawl may run at once within the process's open-file limit.</summary>
public static class DialBudget
{
    /// <summary>Files kept for everything but dials: the discv5 socket, the database pool, GeoIP files, logs, the
    /// API listener and its clients, the runtime's own.</summary>
    public const int Reserved = 256;

    /// <summary>
    /// The configured concurrency, or less when the limit cannot hold it: one dial holds one socket, and a quarter of
    /// what is left over is kept as headroom (sockets in closing, the writer's connections).
    /// </summary>
    public static int Concurrency(int configured, long? fileLimit, ILogger? log = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(configured, 1);
        if (fileLimit is not { } limit) return configured;
        int budget = (int)Math.Clamp((limit - Reserved) * 3 / 4, 1, int.MaxValue);
        if (configured <= budget) return configured;
        log?.LogWarning("dial concurrency {Configured} does not fit the open-file limit {Limit}: using {Budget} (raise it with ulimit -n)", configured, limit, budget);
        return budget;
    }
}
