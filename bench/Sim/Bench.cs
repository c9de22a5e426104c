using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace ClP2p.Sim;

/// <summary>
/// The whole benchmark, one network size after another: simulator up, the real `clp2p crawl` as a child process
/// against it, `clp2p export`, compare. Measures the crawler process alone: wall time from process start to exit, CPU
/// (user + system, from getrusage of the reaped child), peak RSS (VmHWM, sampled from /proc until exit), CPU spent
/// before the first discv5 packet, and the time from process start to that packet (when the bootnode answered it).
/// </summary>
public static partial class Bench
{
    public static async Task<int> RunAsync(string[] args)
    {
        int dash = Array.IndexOf(args, "--");
        string[] own = dash >= 0 ? args[..dash] : args;
        string[] crawlExtra = dash >= 0 ? args[(dash + 1)..] : [];
        var sizes = (SimProgram.Arg(own, "--records") ?? "1000,5000,20000").Split(',')
            .Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 2
                ? n : throw new ArgumentException($"--records takes sizes separated by commas (e.g. 1000,5000,20000), not '{s}'")).ToArray();
        string clp2p = SimProgram.Arg(own, "--clp2p") ?? FindCrawler();
        string maxDuration = SimProgram.Arg(own, "--max-duration") ?? "30m";
        var baseOptions = SimOptions.Parse(own, ["--records", "--clp2p", "--max-duration", "--baseline-records", "--baseline-runs", "--runs"], ["--keep"]);
        bool keep = own.Contains("--keep");

        int baselineRecords = SimProgram.Arg(own, "--baseline-records") is { } b
            ? int.TryParse(b, NumberStyles.Integer, CultureInfo.InvariantCulture, out int bn) && bn >= 0 ? bn : throw new ArgumentException($"--baseline-records takes a number of records (0: no baseline), not '{b}'")
            : 20;
        int baselineRuns = SimProgram.Arg(own, "--baseline-runs") is { } br
            ? int.TryParse(br, NumberStyles.Integer, CultureInfo.InvariantCulture, out int brn) && brn >= 1 ? brn : throw new ArgumentException($"--baseline-runs takes a number of runs (at least 1), not '{br}'")
            : 3;
        // One crawl's CPU per node swings by ±20 % with the machine's speed: with several runs per size (rounds of
        // every size in turn, so that a slow minute touches each size alike) the medians are the figures to compare.
        int runs = SimProgram.Arg(own, "--runs") is { } rs
            ? int.TryParse(rs, NumberStyles.Integer, CultureInfo.InvariantCulture, out int rn) && rn >= 1 ? rn : throw new ArgumentException($"--runs takes a number of crawls per size (at least 1), not '{rs}'")
            : 1;

        Console.WriteLine($"crawler: {clp2p} {string.Join(' ', crawlExtra)}");
        // The simulator (this process and its workers) under SCHED_BATCH, the crawler under the default policy:
        // the simulated nodes stand for other machines and should not pre-empt the crawler whose CPU is measured
        // (Scheduling's remarks).
        bool batch = baseOptions.BatchScheduling && Scheduling.BatchThisProcess();
        Console.WriteLine($"scheduling: simulator {(batch ? "SCHED_BATCH (does not pre-empt the crawler)" : "default policy (--sched normal, or SCHED_BATCH refused)")}, crawler default policy");
        // The crawler's cost per process, whatever the network's size (runtime start, JIT, database set-up and
        // migrations, the census and summary at the end, shutdown): the CPU of a crawl of a network so small that its
        // nodes cost next to nothing. The issue's target, CPU per live node "excluding process start", is the CPU
        // above it (the cpu_ms/live column); cpu_s keeps the whole.
        // The machine's speed drifts by ±10 % and more from one minute to the next, and one baseline crawl's CPU with
        // it: the median of several is the fixed cost (one high baseline understated a 1,000-record crawl's cost per
        // node by a third).
        // The first crawl of a benchmark costs more than the ones after it: the first of three baselines was the highest
        // in 9 of 10 benchmarks (2026-12-05/06, by 0.03-0.6 s over the next), which lifted their median, the fixed
        // cost, and so lowered every cpu_ms/live. One crawl of the baseline network goes first, not counted.
        double fixedCpu = 0;
        if (baselineRecords > 0)
        {
            if (await RunOneAsync(baselineRecords, keep: false).ConfigureAwait(false) is { } warm)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"warm-up: {warm.M.CpuSeconds:0.00} s of CPU (a {baselineRecords}-record crawl, not counted: a benchmark's first crawl costs more than the ones after it)"));
            var costs = new List<double>();
            for (int i = 0; i < baselineRuns; i++)
            {
                if (await RunOneAsync(baselineRecords, keep: false).ConfigureAwait(false) is not { } bl) continue;
                costs.Add(bl.M.CpuSeconds);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"baseline {i + 1}: {bl.M.CpuSeconds:0.00} s of CPU ({baselineRecords}-record network, {bl.Live} live: wall {bl.M.Wall.TotalSeconds:0.0} s, found {bl.R.Found}, enumerated {bl.R.Enumerated}, dialled ok {bl.R.DialledOk})"));
            }
            if (costs.Count > 0)
            {
                fixedCpu = Median(costs);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"fixed cost per process: {fixedCpu:0.00} s of CPU (the median of {costs.Count} baseline crawls)"));
            }
        }
        Console.WriteLine("records   live  dialable  wall_s   cpu_s  cpu_ms/live  cpu_ms/live_all  start_cpu_s  peak_rss_mb  first_packet_ms  found  enumerated  dialled_ok  wrong  twice  sim_cpu_s  cpu/sim  tables_full");
        var details = new List<string>();
        var perSize = sizes.Distinct().ToDictionary(n => n, _ => new List<(Measurement M, CompareResult R, int Live)>());
        for (int round = 0; round < runs; round++)
        {
            foreach (int n in sizes)
            {
                var one = await RunOneAsync(n, keep).ConfigureAwait(false);
                if (one is not { } run) continue;
                var (m, r, live, dir) = (run.M, run.R, run.Live, run.Dir);
                perSize[n].Add((m, r, live));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{n,7}  {live,5}  {r.Dialable,8}  {m.Wall.TotalSeconds,6:0.0}  {m.CpuSeconds,6:0.00}  {PerLive(m, live),11:0.00}  {m.CpuSeconds * 1000 / live,15:0.00}  {m.StartCpuSeconds,11:0.00}  {m.PeakRssMb,11:0}  {m.FirstPacketMs,15}  {r.Found,5}  {r.Enumerated,10}  {r.DialledOk,10}  {r.Wrong,5}  {r.WrittenTwice,5}  {m.SimCpuSeconds,9:0.00}  {m.CpuSeconds / m.SimCpuSeconds,7:0.000}  {r.TablesComplete,11}"));
                details.Add($"--- {n} records ({dir}{(keep || Directory.Exists(dir) ? "" : ", removed")}); load average {m.Load}\n{r.Format()}");
            }
        }
        if (runs > 1)
        {
            Console.WriteLine($"over {runs} runs per size (median, with the lowest and highest):");
            foreach (var (n, done) in perSize)
            {
                if (done.Count == 0) continue;
                var perLive = done.Select(d => PerLive(d.M, d.Live)).ToList();
                var wall = done.Select(d => d.M.Wall.TotalSeconds).ToList();
                var perSim = done.Select(d => d.M.CpuSeconds / d.M.SimCpuSeconds).ToList();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{n,7} records, {done.Count} runs: cpu_ms/live {Median(perLive):0.00} ({perLive.Min():0.00}-{perLive.Max():0.00}); wall {Median(wall):0.0} s ({wall.Min():0.0}-{wall.Max():0.0}); peak RSS at most {done.Max(d => d.M.PeakRssMb):0} MB; enumerated at least {done.Min(d => d.R.Enumerated)} (tables complete at least {done.Min(d => d.R.TablesComplete)}), dialled ok at least {done.Min(d => d.R.DialledOk)}, wrong at most {done.Max(d => d.R.Wrong)}, written twice at most {done.Max(d => d.R.WrittenTwice)}; crawler CPU per simulator CPU {Median(perSim):0.000} ({perSim.Min():0.000}-{perSim.Max():0.000})"));
            }
        }
        // Whether the cost grows with the network's size, apart from any fixed cost: the CPU between two sizes over the
        // live nodes between them (medians when there are several runs). Equal figures: the cost is linear in N.
        var measured = perSize.Where(kv => kv.Value.Count > 0).OrderBy(kv => kv.Key)
            .Select(kv => (N: kv.Key, Live: kv.Value[0].Live, Cpu: Median(kv.Value.Select(d => d.M.CpuSeconds).ToList()))).ToList();
        for (int i = 1; i < measured.Count; i++)
        {
            var (lo, hi) = (measured[i - 1], measured[i]);
            if (hi.Live > lo.Live)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"marginal CPU {lo.N} -> {hi.N} records: {(hi.Cpu - lo.Cpu) * 1000 / (hi.Live - lo.Live):0.00} ms per live node ({hi.Cpu - lo.Cpu:0.00} s over {hi.Live - lo.Live} more live nodes)"));
        }
        foreach (var d in details) Console.Write(d);
        Console.WriteLine($"cores: {Environment.ProcessorCount}");
        Console.WriteLine("cpu_s: user + system of the crawler process; cpu_ms/live: (cpu_s - the fixed cost per process) / live nodes; cpu_ms/live_all: cpu_s / live nodes; start_cpu_s: its CPU before the first discv5 packet; first_packet_ms: process start to the bootnode's answer to its first packet; sim_cpu_s: the simulator's CPU (every process of it) while the crawl ran, the same work in every run, so it moves with the machine's speed; cpu/sim: cpu_s over sim_cpu_s, which moves less with the machine than cpu_s (compare builds by it); tables_full: live nodes whose every table record the crawl listed (neighbours = the truth's table size)");
        return 0;

        double PerLive(Measurement m, int live) => (m.CpuSeconds - fixedCpu) * 1000 / live;

        async Task<(Measurement M, CompareResult R, int Live, string Dir)?> RunOneAsync(int n, bool keep)
        {
            var o = baseOptions with { Records = n };
            string dir = Directory.CreateTempSubdirectory($"clp2p-sim-bench-{n}-").FullName;
            // each simulated node's discv5 counters (SimShard.WriteNodeStats), written when the network stops: kept with
            // the directory of a crawl that missed something, so that the miss can be looked into
            bool ownStats = Environment.GetEnvironmentVariable("SIM_NODE_STATS") is not { Length: > 0 };
            if (ownStats) Environment.SetEnvironmentVariable("SIM_NODE_STATS", Path.Combine(dir, "node-stats"));
            Measurement m;
            CompareResult r;
            try
            {
                await using var net = await SimNetwork.StartAsync(o, msg => Console.Error.WriteLine($"[sim {n}] {msg}")).ConfigureAwait(false);
                string truth = Path.Combine(dir, "truth.json");
                net.WriteTruth(truth);
                Console.Error.WriteLine($"[sim {n}] {net.Describe()}");
                string[] crawlArgs =
                [
                    "crawl", "--network", "mainnet", "--bootnode", net.BootnodeEnr, "--allow-loopback", "--listen-address", "127.0.0.1",
                    "--data-dir", Path.Combine(dir, "data"), "--summary-json", Path.Combine(dir, "summary.json"), "--max-duration", maxDuration,
                    .. crawlExtra,
                ];
                double simBefore = net.CpuSeconds();
                m = await MeasureAsync(clp2p, crawlArgs, net.FirstBootnodePacket, Path.Combine(dir, "crawl.log")).ConfigureAwait(false);
                m = m with { SimCpuSeconds = net.CpuSeconds() - simBefore };
                string export = Path.Combine(dir, "export.ndjson");
                int exportExit = await RunToEndAsync(clp2p, ["export", "--crawl", "latest", "--format", "ndjson", "--out", export, "--data-dir", Path.Combine(dir, "data")]).ConfigureAwait(false);
                if (m.ExitCode != 0 || exportExit != 0 || !File.Exists(export))
                {
                    Console.WriteLine($"{n,7}  crawl exit {m.ExitCode}, export exit {exportExit}; log: {Path.Combine(dir, "crawl.log")}");
                    return null;
                }
                r = Compare.Run(export, truth);
                Console.Error.WriteLine($"[sim {n}] load average during the crawl: {m.Load}");
                // where datagrams were lost other than on purpose: the crawler's socket (the kernel's count, from its log)
                // and the simulator's delayed sends that failed (this process's shard)
                string? kernel = File.ReadLines(Path.Combine(dir, "crawl.log")).LastOrDefault(l => l.Contains("dropped by the kernel on the discv5 socket", StringComparison.Ordinal));
                Console.Error.WriteLine($"[sim {n}] crawler socket: {(kernel is null ? "no kernel drop count logged" : kernel[(kernel.LastIndexOf(':') + 1)..].Trim() + " dropped by the kernel")}; simulator shard 0: {net.LocalShard.DatagramsFailed} delayed sends failed, {net.LocalShard.Line.SentOver100MsLate} sent over 100 ms late (the latest {net.LocalShard.Line.MaxLateMs:0} ms)");
            }
            finally
            {
                // after the network stopped (its nodes' counters are written then)
                if (ownStats) Environment.SetEnvironmentVariable("SIM_NODE_STATS", null);
            }
            bool missed = r.Enumerated < r.Live || r.DialledOk < r.Dialable || r.Wrong > 0 || r.WrittenTwice > 0;
            if (missed && !keep) Console.Error.WriteLine($"[sim {n}] kept {dir}: the crawl missed something (truth, export, crawl log, node-stats.N)");
            if (!keep && !missed) { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } }
            return (m, r, o.Live, dir);
        }
    }

    private static double Median(List<double> values)
    {
        var v = values.Order().ToList();
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }

    private sealed record Measurement(int ExitCode, TimeSpan Wall, double CpuSeconds, double StartCpuSeconds, double PeakRssMb, string FirstPacketMs, string Load)
    {
        /// <summary>The simulator's CPU while the crawl ran (<see cref="SimNetwork.CpuSeconds"/>): the machine's speed.</summary>
        public double SimCpuSeconds { get; init; }
    }

    /// <summary>The 1-minute load average (/proc/loadavg): the crawler shares the machine with the simulator and anything else running.</summary>
    private static double LoadAverage()
    {
        try { return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture); }
        catch (IOException) { return double.NaN; }
    }

    private static async Task<Measurement> MeasureAsync(string clp2p, string[] args, Task<long> firstPacket, string logPath)
    {
        var psi = Psi(clp2p, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var log = new StreamWriter(logPath);
        Before(out var before);
        long startUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var sw = Stopwatch.StartNew();
        using var p = Scheduling.StartUnderNormalPolicy(() => Process.Start(psi)) ?? throw new InvalidOperationException("clp2p did not start");
        // the crawler must run under the default policy, whatever the simulator's: under SCHED_BATCH its figures would be
        // of a crawler that yields
        if (Scheduling.PolicyOf(p.Id) is var policy && policy != "normal")
            throw new InvalidOperationException($"the crawler (pid {p.Id}) runs under scheduling policy {policy}, not the default");
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (log) log.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (log) log.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        double peakKb = 0, startCpu = double.NaN, loadStart = LoadAverage();
        var exited = p.WaitForExitAsync();
        while (!exited.IsCompleted)
        {
            peakKb = Math.Max(peakKb, ReadStatusKb(p.Id, "VmHWM:"));
            if (double.IsNaN(startCpu) && firstPacket.IsCompleted) startCpu = SimNetwork.ProcessCpuSeconds(p.Id) ?? double.NaN;
            await Task.WhenAny(exited, Task.Delay(50)).ConfigureAwait(false);
        }
        await exited.ConfigureAwait(false);
        p.WaitForExit();
        sw.Stop();
        Before(out var after);
        double cpu = after.CpuSeconds - before.CpuSeconds;
        string first = firstPacket.IsCompletedSuccessfully ? (firstPacket.Result - startUnixMs).ToString(CultureInfo.InvariantCulture) : "-";
        return new Measurement(p.ExitCode, sw.Elapsed, cpu, startCpu, peakKb / 1024, first,
            string.Create(CultureInfo.InvariantCulture, $"{loadStart:0.0} at start, {LoadAverage():0.0} at end"));
    }

    private static void Before(out RUsageChildren usage)
    {
        if (GetRUsage(-1 /* RUSAGE_CHILDREN */, out var u) != 0) throw new InvalidOperationException("getrusage failed");
        usage = new RUsageChildren(u.UtimeSec + u.UtimeUsec / 1e6 + u.StimeSec + u.StimeUsec / 1e6);
    }

    private readonly record struct RUsageChildren(double CpuSeconds);

    private static double ReadStatusKb(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return double.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }

    private static async Task<int> RunToEndAsync(string clp2p, string[] args)
    {
        var psi = Psi(clp2p, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var p = Scheduling.StartUnderNormalPolicy(() => Process.Start(psi)) ?? throw new InvalidOperationException("clp2p did not start");
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().ConfigureAwait(false);
        await Task.WhenAll(o, e).ConfigureAwait(false);
        if (p.ExitCode != 0) Console.Error.WriteLine(await e.ConfigureAwait(false));
        return p.ExitCode;
    }

    private static ProcessStartInfo Psi(string clp2p, string[] args)
    {
        bool dll = clp2p.EndsWith(".dll", StringComparison.Ordinal);
        var psi = new ProcessStartInfo(dll ? "dotnet" : clp2p) { UseShellExecute = false };
        if (dll) psi.ArgumentList.Add(clp2p);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return psi;
    }

    /// <summary>The crawler built in Release next to this repository (src/Crawler/bin/Release/net10.0/clp2p.dll).</summary>
    private static string FindCrawler()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "src", "Crawler", "bin", "Release", "net10.0", "clp2p.dll");
            if (File.Exists(candidate)) return candidate;
        }
        throw new ArgumentException("no Release build of the crawler found: run `dotnet build -c Release src/Crawler` or pass --clp2p PATH");
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UtimeSec, UtimeUsec, StimeSec, StimeUsec;
        public long MaxRss, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NVcsw, NIvcsw;
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRUsage(int who, out RUsage usage);
}
