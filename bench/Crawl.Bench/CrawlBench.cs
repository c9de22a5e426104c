using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;

namespace ClP2p.Bench;

/// <summary>Crawls a local testnet several times in this process and measures each crawl.</summary>
public static class CrawlBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        int nodes = IntArg(args, "--nodes", 200);
        int runs = IntArg(args, "--runs", 3);
        string? db = StrArg(args, "--db") ?? Environment.GetEnvironmentVariable("CLP2P_BENCH_PG");
        string dir = Directory.CreateTempSubdirectory("clp2p-crawl-bench-").FullName;
        using var testnet = StartTestnet(nodes, out string bootnode);
        Console.WriteLine($"testnet: {nodes} nodes on 127.0.0.1; database: {(db is null ? "sqlite (default)" : "postgres")}");
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole(o => o.SingleLine = true));
        var settings = new CrawlerSettings
        {
            Network = NetworkSelection.Custom,
            Bootnodes = [bootnode],
            Db = db,
            DataDir = Path.Combine(dir, "data"),
            Crawl = new CrawlSettings { AllowLoopback = true, ListenAddress = "127.0.0.1", MaxDuration = TimeSpan.FromMinutes(5) },
        };
        var storage = StorageOptions.Parse(settings.Db, settings.DataDir);
        await StorageMigrator.MigrateAsync(storage).ConfigureAwait(false);
        var self = Process.GetCurrentProcess();
        Console.WriteLine("run  wall_s  cpu_s  peak_rss_mb  found  cl  dialled  ok  failed");
        var walls = new List<double>();
        for (int i = 1; i <= runs; i++)
        {
            self.Refresh();
            var cpu0 = self.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            var summary = await new CrawlSession(settings, storage, loggers).RunAsync(CancellationToken.None).ConfigureAwait(false);
            sw.Stop();
            self.Refresh();
            double cpu = (self.TotalProcessorTime - cpu0).TotalSeconds;
            walls.Add(sw.Elapsed.TotalSeconds);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{i,3}  {sw.Elapsed.TotalSeconds,6:0.00}  {cpu,5:0.00}  {self.PeakWorkingSet64 / 1048576.0,11:0.0}  {summary.NodesFound,5}  {summary.ConsensusNodes,3}  {summary.Dialled,7}  {summary.DialOk,3}  {summary.DialFailed,6}"));
        }
        walls.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median wall time: {walls[walls.Count / 2]:0.00} s over {runs} crawls of {nodes} nodes (peak RSS is the process peak across runs)"));
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        return 0;
    }

    private static Process StartTestnet(int nodes, out string bootnode)
    {
        string interop = InteropDir();
        var psi = new ProcessStartInfo("node", ["testnet.mjs", "--nodes", nodes.ToString(CultureInfo.InvariantCulture)])
        {
            WorkingDirectory = interop, RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        var p = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        while (p.StandardOutput.ReadLine() is { } line)
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.GetProperty("type").GetString() == "ready")
            {
                bootnode = doc.RootElement.GetProperty("bootnode").GetString()!;
                return p;
            }
        }
        throw new InvalidOperationException("testnet.mjs exited before it was ready (is tests/interop/node_modules installed? run scripts/test once)");
    }

    private static string InteropDir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "tests", "interop");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException("tests/interop not found");
    }

    private static int IntArg(string[] args, string name, int def) =>
        StrArg(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : def;

    private static string? StrArg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
