using ClP2p.Storage;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace ClP2p.Bench;

/// <summary>In-process jobs (no generated project), with median and p95 columns.</summary>
public sealed class IngestConfig : ManualConfig
{
    public IngestConfig()
    {
        AddJob(Job.Default.WithToolchain(new InProcessEmitToolchain(TimeSpan.FromHours(1), logOutput: true)).WithStrategy(RunStrategy.Monitoring)
            .WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(15).WithInvocationCount(1).WithUnrollFactor(1));
        AddColumn(StatisticColumn.Median, StatisticColumn.P95);
    }
}

/// <summary>In-process jobs for fast queries, with median and p95 columns.</summary>
public sealed class QueryConfig : ManualConfig
{
    public QueryConfig()
    {
        // The first run seeds 3,000,000 visits in GlobalSetup (minutes): allow the in-process run an hour.
        AddJob(Job.Default.WithToolchain(new InProcessEmitToolchain(TimeSpan.FromHours(1), logOutput: true)).WithLaunchCount(1).WithWarmupCount(5).WithIterationCount(20));
        AddColumn(StatisticColumn.Median, StatisticColumn.P95);
    }
}

/// <summary>
/// Ingest through <see cref="ResultWriter"/> into PostgreSQL, one invocation = one crawl of 100,000 nodes. Rows/s =
/// 100,000 / (time per invocation); the time BenchmarkDotNet prints is per row (OperationsPerInvoke).
/// <list type="bullet">
/// <item><c>Visits_of_sighted_nodes</c>: the crawler's visit path and the target (visit ingest ≥ 100,000 rows/s). As in
/// a crawl, discovery has already sighted every node through the same writer (its ENR, written untimed in the iteration
/// setup), so the timed part is the visits alone: 100,000 rows appended by binary COPY.</item>
/// <item><c>Visits_of_unsighted_nodes</c>: visits through a fresh writer that has stored none of the nodes, so each
/// batch first reads its nodes' rows (they exist and hold everything: no upsert follows).</item>
/// <item><c>Enrs_of_new_nodes</c>: discovery sightings of 100,000 new nodes (node rows and ENR history rows inserted).</item>
/// </list>
/// </summary>
[Config(typeof(IngestConfig))]
public class VisitIngestBenchmarks
{
    private const int Visits = 100_000;
    private const string Database = "clp2p_bench_ingest";
    private StorageOptions _options = null!;
    private CrawlStore _store = null!;
    private VisitObservation[] _visits = [];
    private EnrObservation[] _enrs = [];
    private ResultWriter? _writer;
    private int _round;

    [GlobalSetup]
    public void Setup()
    {
        BenchDatabase.RecreateAsync(Database).GetAwaiter().GetResult();
        _options = BenchDatabase.Options(Database);
        _store = new CrawlStore(_options);
    }

    [GlobalCleanup]
    public void Cleanup() => BenchDatabase.DropAsync(Database).GetAwaiter().GetResult();

    /// <summary>A new crawl; discovery sights its 100,000 nodes (ENRs written and flushed, not timed).</summary>
    [IterationSetup(Target = nameof(Visits_of_sighted_nodes))]
    public void PrepareSightedCrawl()
    {
        DateTimeOffset at = PrepareCrawl();
        _writer = new ResultWriter(_options);
        for (int i = 0; i < Visits; i++) _writer.AddEnrAsync(Synthetic.Enr(i, 1, at)).AsTask().GetAwaiter().GetResult();
        _writer.FlushAsync().GetAwaiter().GetResult();
        Settle();
    }

    /// <summary>
    /// Lets the server finish, untimed, the background work the setup caused (autovacuum of the 100,000 node rows the
    /// sightings rewrote, the checkpoint their WAL brings on), so that the timed part pays for the visits' own work.
    /// </summary>
    private void Settle() => BenchDatabase.ExecAsync(Database, "VACUUM (ANALYZE) nodes, enr_history; CHECKPOINT").GetAwaiter().GetResult();

    /// <summary>A new crawl whose nodes the writer has not stored (they are in the database from earlier rounds).</summary>
    [IterationSetup(Target = nameof(Visits_of_unsighted_nodes))]
    public void PrepareUnsightedCrawl()
    {
        PrepareCrawl();
        _writer = new ResultWriter(_options);
        Settle();
    }

    /// <summary>100,000 ENRs of nodes never seen before.</summary>
    [IterationSetup(Target = nameof(Enrs_of_new_nodes))]
    public void PrepareNewNodes()
    {
        DateTimeOffset at = PrepareCrawl();
        _enrs = new EnrObservation[Visits];
        for (int i = 0; i < Visits; i++) _enrs[i] = Synthetic.Enr(_round * Visits + i + 1_000_000, 1, at);
        _writer = new ResultWriter(_options);
    }

    [IterationCleanup]
    public void DisposeWriter()
    {
        _writer?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _writer = null;
    }

    private DateTimeOffset PrepareCrawl()
    {
        _round++;
        DateTimeOffset at = Synthetic.T0.AddHours(_round);
        long crawl = _store.StartCrawlAsync("mainnet", at, null).GetAwaiter().GetResult();
        _visits = new VisitObservation[Visits];
        for (int i = 0; i < Visits; i++) _visits[i] = Synthetic.Visit(crawl, i, _round, at.AddMilliseconds(i));
        return at;
    }

    /// <summary>100,000 visits of nodes discovery has sighted in this crawl: visits appended by binary COPY.</summary>
    [Benchmark(OperationsPerInvoke = Visits)]
    public Task Visits_of_sighted_nodes() => WriteVisitsAsync();

    /// <summary>100,000 visits through a writer that has not stored their nodes (a read of their rows per batch).</summary>
    [Benchmark(OperationsPerInvoke = Visits)]
    public Task Visits_of_unsighted_nodes() => WriteVisitsAsync();

    private async Task WriteVisitsAsync()
    {
        foreach (VisitObservation v in _visits) await _writer!.AddVisitAsync(v);
        await _writer!.FlushAsync();
    }

    /// <summary>100,000 ENRs of new nodes (node rows and ENR history rows inserted).</summary>
    [Benchmark(OperationsPerInvoke = Visits)]
    public async Task Enrs_of_new_nodes()
    {
        foreach (EnrObservation e in _enrs) await _writer!.AddEnrAsync(e);
        await _writer!.FlushAsync();
    }
}

/// <summary>
/// Census queries over 200 finished crawls × 15,000 nodes (3,000,000 visits) plus one running crawl of 15,000
/// visits (whose census is computed live from visits). The data set is seeded once through the ResultWriter into the
/// database clp2p_bench_census and reused by later runs. Target: census by client < 50 ms at the median.
/// </summary>
[Config(typeof(QueryConfig))]
public class CensusBenchmarks
{
    public const int Crawls = 200;
    public const int Nodes = 15_000;
    private const string Database = "clp2p_bench_census";
    private CensusService _census = null!;
    private long _runningCrawl;
    private byte[] _node = [];

    [GlobalSetup]
    public void Setup()
    {
        StorageOptions options = BenchDatabase.Options(Database);
        _runningCrawl = CensusSeeder.EnsureSeededAsync(Database, Crawls, Nodes).GetAwaiter().GetResult();
        _census = new CensusService(options);
        _node = Synthetic.NodeId(4242);
    }

    /// <summary>Census by client of the latest finished crawl (read from crawl_census).</summary>
    [Benchmark(Baseline = true)]
    public Task<CensusResult?> Census_by_client_latest() => _census.GetCensusAsync(CensusDimension.Client);

    /// <summary>Census by client of the latest finished crawl, mainnet nodes only.</summary>
    [Benchmark]
    public Task<CensusResult?> Census_by_client_latest_mainnet() => _census.GetCensusAsync(CensusDimension.Client, network: "mainnet");

    /// <summary>Census by client of the running crawl: computed live from its 15,000 visits.</summary>
    [Benchmark]
    public Task<CensusResult?> Census_by_client_running_crawl_live() => _census.GetCensusAsync(CensusDimension.Client, _runningCrawl);

    /// <summary>Census by country of the running crawl (live; joins ip_addresses).</summary>
    [Benchmark]
    public Task<CensusResult?> Census_by_country_running_crawl_live() => _census.GetCensusAsync(CensusDimension.Country, _runningCrawl);

    /// <summary>Client time series over all 201 crawls.</summary>
    [Benchmark]
    public Task<CensusSeries> Time_series_by_client_all_crawls() =>
        _census.GetTimeSeriesAsync(CensusDimension.Client, Synthetic.T0.AddDays(-1), Synthetic.T0.AddYears(1));

    /// <summary>One node's history (201 visits, newest 100 returned).</summary>
    [Benchmark]
    public Task<NodeHistory?> Node_history() => _census.GetNodeHistoryAsync(_node);

    /// <summary>First page of 50 nodes of the latest crawl filtered by client.</summary>
    [Benchmark]
    public Task<Page<NodeSummary>?> Node_list_by_client() => _census.ListNodesAsync(new NodeFilter { Client = "teku" }, 0, 50);
}

/// <summary>Seeds the census data set once (marker: the running crawl row with network 'bench-running').</summary>
public static class CensusSeeder
{
    /// <summary>Seeds if needed; returns the id of the running crawl.</summary>
    public static async Task<long> EnsureSeededAsync(string database, int crawls, int nodes)
    {
        StorageOptions options = BenchDatabase.Options(database);
        if (await BenchDatabase.ExistsAsync(database))
        {
            CensusService census = new(options);
            Page<CrawlInfo> page = await census.ListCrawlsAsync(0, 1);
            if (page.Total == crawls + 1 && page.Items[0].Network == "bench-running" && page.Items[0].Visits == nodes)
                return page.Items[0].Id;
        }
        Console.WriteLine($"// seeding {crawls} crawls x {nodes} nodes into {database} (once)");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await BenchDatabase.RecreateAsync(database);
        var store = new CrawlStore(options);
        long running;
        await using (var writer = new ResultWriter(options))
        {
            for (int n = 0; n < nodes; n++)
            {
                await writer.AddEnrAsync(Synthetic.Enr(n, 1, Synthetic.T0));
                await writer.AddGeoAsync(Synthetic.Geo(n));
            }
            for (int k = 0; k <= crawls; k++)
            {
                DateTimeOffset start = Synthetic.T0.AddHours(k);
                long crawl = await store.StartCrawlAsync(k == crawls ? "bench-running" : "mainnet", start, null);
                for (int n = 0; n < nodes; n++) await writer.AddVisitAsync(Synthetic.Visit(crawl, n, k, start.AddMilliseconds(n)));
                await writer.FlushAsync();
                if (k < crawls) await store.FinishCrawlAsync(crawl, CrawlStates.Succeeded, new CrawlCounts(nodes, nodes, nodes, 0, 0), null);
                running = crawl;
                if (k % 20 == 0) Console.WriteLine($"// seeded crawl {k + 1}/{crawls + 1} after {sw.Elapsed.TotalSeconds:F0} s");
            }
            running = (await new CensusService(options).GetLatestCrawlAsync("bench-running"))!.Id;
        }
        await BenchDatabase.ExecAsync(database, "VACUUM ANALYZE");
        Console.WriteLine($"// seeded in {sw.Elapsed.TotalSeconds:F0} s");
        return running;
    }
}
