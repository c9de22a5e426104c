using System.Globalization;

namespace ClP2p.Crawler.Hosting;

/// <summary>
/// For `clp2p crawl`: at most one thread-pool worker more than the machine has processors. The runtime starts with one
/// per processor and adds more while queued work waits (the starvation check and hill climbing); a discovery-only crawl
/// of the 20,000-record simulated network on two processors had seven workers, which woke and pre-empted
/// each other: bounded, the full crawl made ~7 % fewer context switches and used ~2 % less CPU (docs/performance.md,
/// "At most one thread-pool worker more than the processors"). The crawl
/// path is async throughout: its work items do not block one another, and its sockets' completions run on the socket
/// engine's own threads, outside the pool. The one more is for a database write that holds its worker while it waits
/// for the disk. Not for `run`, whose API server, scheduler and third-party code are not held to that.
/// <c>CLP2P_POOL_THREADS=0</c> leaves the runtime's own bound.
/// </summary>
internal static class PoolThreads
{
    /// <summary>Set to 0 to leave the runtime's bound.</summary>
    public const string Variable = "CLP2P_POOL_THREADS";

    /// <summary>What <see cref="TryCap"/> did (null before it).</summary>
    public static string? Last { get; private set; }

    /// <summary>The bound for a machine of <paramref name="processors"/>, or null when <paramref name="setting"/> (the
    /// variable's value) turns it off.</summary>
    public static int? BoundFor(int processors, string? setting) =>
        setting == "0" ? null : Math.Max(1, processors) + 1;

    /// <summary>Lowers the pool's bound of worker threads (never raises it); never throws.</summary>
    public static string TryCap()
    {
        string outcome;
        if (BoundFor(Environment.ProcessorCount, Environment.GetEnvironmentVariable(Variable)) is not { } bound)
        {
            outcome = $"thread pool: the runtime's bound ({Variable}=0)";
        }
        else
        {
            ThreadPool.GetMaxThreads(out int workers, out int io);
            outcome = bound < workers && ThreadPool.SetMaxThreads(bound, io)
                ? string.Create(CultureInfo.InvariantCulture, $"thread pool: at most {bound} worker threads ({Environment.ProcessorCount} processors)")
                : string.Create(CultureInfo.InvariantCulture, $"thread pool: the runtime's bound of {workers} worker threads kept");
        }
        Last = outcome;
        return outcome;
    }
}
