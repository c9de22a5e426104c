using System.Diagnostics;
using System.Globalization;
using ClP2p.Storage;

namespace ClP2p.Bench;

/// <summary>
/// `dotnet run -c Release --project bench/Storage.Bench -- sqlite-cpu [rounds] [nodes]`: the SQLite writer
/// (<c>SqliteBatchSink</c>, the default store of <c>clp2p crawl</c>) writing a crawl's rows of <c>nodes</c> nodes
/// (default 20,000: an ENR, a visit and a geo row each, so node, ENR history, visit, geo and agent rows) into a fresh
/// SQLite file, in batches of the writer's default size. Prints the median per round of wall time, CPU time of this
/// process (with the JIT's and the GC's background threads), CPU time of the writing thread alone (the sink and SQLite
/// run on it: every SQLite call completes synchronously; Linux only) and bytes allocated; then the fixed cost of a batch (a
/// batch of one geo row: pooled connection open, BEGIN, prepares, census change row, COMMIT). The set-up (migrating the
/// file, building the observations) is not timed. To compare two builds, run each in turn (A, B, A, B, ...).
/// </summary>
internal static class SqliteSinkBench
{
    /// <summary>Items per batch: <see cref="ResultWriterOptions.MaxBatchSize"/>'s default.</summary>
    private static readonly int BatchItems = new ResultWriterOptions().MaxBatchSize;

    public static void Run(int rounds, int nodes)
    {
        string dir = Path.Combine(Path.GetTempPath(), "clp2p-sqlite-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        try
        {
            var wall = new List<double>();
            var cpu = new List<double>();
            var threadCpu = new List<double>();
            var alloc = new List<double>();
            var fixedCpu = new List<double>();
            for (int round = -2; round < rounds; round++) // two warm-up rounds
            {
                StorageOptions options = StorageOptions.ForSqliteFile(Path.Combine(dir, $"round{round + 2}.db"));
                StorageMigrator.MigrateAsync(options).GetAwaiter().GetResult();
                long crawl = new CrawlStore(options).StartCrawlAsync("mainnet", Synthetic.T0, null).GetAwaiter().GetResult();
                List<Batch> batches = Batches(crawl, nodes);
                (double ms, double cpuMs, double threadMs, long bytes) = Measure(() =>
                {
                    using var sink = new SinkScope(options);
                    foreach (Batch b in batches) sink.Sink.WriteAsync(b, CancellationToken.None).GetAwaiter().GetResult();
                });
                (_, _, double fixedMs, _) = Measure(() =>
                {
                    using var sink = new SinkScope(options);
                    for (int i = 0; i < FixedBatches; i++)
                    {
                        var one = new Batch();
                        one.Geos.Add(Synthetic.Geo(i) with { LookedUpAt = Synthetic.T0.AddSeconds(i) });
                        sink.Sink.WriteAsync(one, CancellationToken.None).GetAwaiter().GetResult();
                    }
                });
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                if (round < 0) continue;
                wall.Add(ms);
                cpu.Add(cpuMs);
                threadCpu.Add(threadMs);
                alloc.Add(bytes);
                fixedCpu.Add(fixedMs / FixedBatches);
            }
            int rows = nodes * 4; // node, ENR, visit, geo (plus the few agent rows)
            Console.WriteLine($"{rounds} rounds of {nodes:N0} nodes ({rows:N0} rows, {Batches(1, nodes).Count} batches) each; medians:");
            Console.WriteLine($"  write   wall {Median(wall),6:F0} ms   process CPU {Median(cpu),6:F0} ms   writer thread CPU {Median(threadCpu),6:F0} ms " +
                $"({Median(threadCpu) * 1000 / rows:F2} µs/row)   allocated {Median(alloc) / 1e6,6:F1} MB");
            Console.WriteLine($"  a batch of one geo row: writer thread CPU {Median(fixedCpu):F3} ms");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    private const int FixedBatches = 200;

    /// <summary>Per node an ENR, a visit and a geo row, cut into batches of <see cref="BatchItems"/> items in node order.</summary>
    private static List<Batch> Batches(long crawl, int nodes)
    {
        var batches = new List<Batch>();
        var batch = new Batch();
        for (int n = 0; n < nodes; n++)
        {
            DateTimeOffset at = Synthetic.T0.AddMilliseconds(n);
            batch.Enrs.Add(Synthetic.Enr(n, 1, at));
            batch.Visits.Add(Synthetic.Visit(crawl, n, 1, at));
            batch.Geos.Add(Synthetic.Geo(n));
            if (batch.Count + 3 > BatchItems)
            {
                batches.Add(batch);
                batch = new Batch();
            }
        }
        if (batch.Count > 0) batches.Add(batch);
        return batches;
    }

    private static (double WallMs, double CpuMs, double ThreadCpuMs, long Bytes) Measure(Action run)
    {
        GC.Collect();
        using Process process = Process.GetCurrentProcess();
        TimeSpan cpu0 = process.TotalProcessorTime;
        double thread0 = ThreadCpuMs();
        long bytes0 = GC.GetTotalAllocatedBytes(precise: true);
        long t0 = Stopwatch.GetTimestamp();
        run();
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        double threadMs = ThreadCpuMs() - thread0;
        long bytes = GC.GetTotalAllocatedBytes(precise: true) - bytes0;
        process.Refresh();
        return (ms, (process.TotalProcessorTime - cpu0).TotalMilliseconds, threadMs, bytes);
    }

    /// <summary>CPU time (user + system) of the calling thread: getrusage(RUSAGE_THREAD), see getrusage(2); NaN off Linux.</summary>
    private static double ThreadCpuMs()
    {
        if (!OperatingSystem.IsLinux()) return double.NaN;
        Span<long> usage = stackalloc long[18]; // struct rusage: ru_utime, ru_stime (timeval: seconds, microseconds), then 14 longs
        if (getrusage(1, ref usage[0]) != 0) return double.NaN;
        return (usage[0] + usage[2]) * 1000.0 + (usage[1] + usage[3]) / 1000.0;
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int getrusage(int who, ref long usage);

    private static double Median(List<double> xs)
    {
        double[] s = [.. xs.Order()];
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>A <c>SqliteBatchSink</c> disposed synchronously.</summary>
    private sealed class SinkScope(StorageOptions options) : IDisposable
    {
        public IBatchSink Sink { get; } = new SqliteBatchSink(options, TimeProvider.System);
        public void Dispose() => Sink.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
