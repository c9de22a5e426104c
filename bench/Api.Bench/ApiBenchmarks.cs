using System.Globalization;
using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using ClP2p.Api;
using ClP2p.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Perfolizer.Mathematics.OutlierDetection;

namespace ClP2p.Bench;

/// <summary>
/// One request per iteration (Monitoring strategy, no outliers removed), so the median and p99 columns are per-request
/// latencies as a client sees them.
/// </summary>
public sealed class RequestLatencyConfig : ManualConfig
{
    public RequestLatencyConfig()
    {
        // The first run seeds 3,000,000 visits in GlobalSetup (minutes): allow the in-process run an hour.
        AddJob(Job.Default.WithToolchain(new InProcessEmitToolchain(TimeSpan.FromHours(1), logOutput: true))
            .WithStrategy(RunStrategy.Monitoring).WithLaunchCount(1).WithWarmupCount(20).WithIterationCount(200)
            .WithInvocationCount(1).WithUnrollFactor(1).WithOutlierMode(OutlierMode.DontRemove));
        AddColumn(StatisticColumn.Median, StatisticColumn.P95, new PercentileColumn(99));
    }
}

/// <summary>A percentile of the iteration times, in milliseconds.</summary>
public sealed class PercentileColumn(int percentile) : IColumn
{
    public string Id => "P" + percentile.ToString(CultureInfo.InvariantCulture);
    public string ColumnName => Id;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Statistics;
    public int PriorityInCategory => 100;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"{percentile}th percentile of the per-request times (ms)";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        return stats is null ? "NA" : (stats.Percentiles.Percentile(percentile) / 1e6).ToString("F2", CultureInfo.InvariantCulture) + " ms";
    }
}

/// <summary>
/// The census API over HTTP (Kestrel on 127.0.0.1, a free port) on 200 finished crawls × 15,000 nodes (3,000,000
/// visits) plus one running crawl of 15,000. Targets: census and node history median &lt; 20 ms; time series over all
/// crawls &lt; 200 ms.
/// </summary>
[Config(typeof(RequestLatencyConfig))]
public class ApiBenchmarks
{
    private const string Database = "clp2p_bench_census";
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private string _nodePath = "";
    private long _runningCrawl;

    [GlobalSetup]
    public void Setup()
    {
        _runningCrawl = CensusSeeder.EnsureSeededAsync(Database, CensusBenchmarks.Crawls, CensusBenchmarks.Nodes).GetAwaiter().GetResult();
        // a data set seeded before a migration gets it (census_changes), and loses the batches an interrupted run appended
        StorageMigrator.MigrateAsync(BenchDatabase.Options(Database)).GetAwaiter().GetResult();
        RemoveBatchesAsync().GetAwaiter().GetResult();
        _writer = new ResultWriter(BenchDatabase.Options(Database));
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddClP2pApi(BenchDatabase.Options(Database));
        _app = builder.Build();
        _app.MapClP2pApi();
        _app.StartAsync().GetAwaiter().GetResult();
        string address = _app.Urls.First();
        _http = new HttpClient { BaseAddress = new Uri(address) };
        _nodePath = "/api/v1/nodes/" + Convert.ToHexStringLower(Synthetic.NodeId(4242));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        RemoveBatchesAsync().GetAwaiter().GetResult();
        _http.Dispose();
        _app.StopAsync().GetAwaiter().GetResult();
        _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Census by client of the latest finished crawl.</summary>
    [Benchmark(Baseline = true)]
    public Task<int> Census_by_client_latest() => GetAsync("/api/v1/census?dimension=client");

    /// <summary>Census by country of the latest finished crawl, mainnet only.</summary>
    [Benchmark]
    public Task<int> Census_by_country_latest_mainnet() => GetAsync("/api/v1/census?dimension=country&network=mainnet");

    /// <summary>Census by client version of the running crawl (counted live from its 15,000 visits).</summary>
    [Benchmark]
    public Task<int> Census_by_client_version_running_crawl() => GetAsync("/api/v1/census?dimension=client_version&crawl=" + _runningCrawl.ToString(CultureInfo.InvariantCulture));

    /// <summary>The dashboard's census panels in one call (15 dimensions, as the page asks) of the latest finished crawl.</summary>
    [Benchmark]
    public Task<int> Census_set_latest() => GetAsync("/api/v1/census/set?dimensions=" + PageDimensions);

    /// <summary>The dashboard's census panels of the running crawl: every dimension counted live in one pass over its visits.</summary>
    [Benchmark]
    public Task<int> Census_set_running_crawl() => GetAsync("/api/v1/census/set?dimensions=" + PageDimensions + "&crawl=" + _runningCrawl.ToString(CultureInfo.InvariantCulture));

    /// <summary>A write to the database before each request (the running crawl's heartbeat, as its process renews its
    /// lease), so that the census set kept from the last request no longer holds: what a request costs while the crawl writes.</summary>
    [IterationSetup(Target = nameof(Census_set_running_crawl_after_a_write))]
    public void Write() => new CrawlStore(BenchDatabase.Options(Database)).RenewLeaseAsync(_runningCrawl).GetAwaiter().GetResult();

    /// <summary>The running crawl's census set counted again from its visits: the database changed since the last request.</summary>
    [Benchmark]
    public Task<int> Census_set_running_crawl_after_a_write() => GetAsync("/api/v1/census/set?dimensions=" + PageDimensions + "&crawl=" + _runningCrawl.ToString(CultureInfo.InvariantCulture));

    /// <summary>Nodes written per batch by <see cref="WriteBatch"/>: a crawl finding 15,000 nodes in 5 minutes writes 50 every second.</summary>
    private const int BatchNodes = 50;

    /// <summary>When the visits of <see cref="WriteBatch"/> are dated: after every seeded visit, so they are found and removed again.</summary>
    private static readonly DateTimeOffset BatchesAt = Synthetic.T0.AddYears(5);

    private ResultWriter _writer = null!;
    private int _batchNode = CensusBenchmarks.Nodes;

    /// <summary>A crawl's batch before each request, as the crawl writes it while it runs: the ENRs, geo rows and visits
    /// of <see cref="BatchNodes"/> nodes it had not met (the crawl grows by 50 visits a request; removed again at the end).</summary>
    [IterationSetup(Targets = [nameof(Census_set_running_crawl_after_a_batch), nameof(Census_by_client_version_running_crawl_after_a_batch), nameof(Nodes_running_crawl_after_a_batch)])]
    public void WriteBatch()
    {
        for (int i = 0; i < BatchNodes; i++, _batchNode++)
        {
            _writer.AddEnrAsync(Synthetic.Enr(_batchNode, 1, BatchesAt)).AsTask().GetAwaiter().GetResult();
            _writer.AddGeoAsync(Synthetic.Geo(_batchNode)).AsTask().GetAwaiter().GetResult();
            _writer.AddVisitAsync(Synthetic.Visit(_runningCrawl, _batchNode, CensusBenchmarks.Crawls, BatchesAt.AddMilliseconds(i))).AsTask().GetAwaiter().GetResult();
        }
        _writer.FlushAsync().GetAwaiter().GetResult();
    }

    /// <summary>The running crawl's census set after each of its batches: what the dashboard of a crawl in progress asks.</summary>
    [Benchmark]
    public Task<int> Census_set_running_crawl_after_a_batch() => GetAsync("/api/v1/census/set?dimensions=" + PageDimensions + "&crawl=" + _runningCrawl.ToString(CultureInfo.InvariantCulture));

    /// <summary>The running crawl's census by client version after each of its batches (issue 13's live census).</summary>
    [Benchmark]
    public Task<int> Census_by_client_version_running_crawl_after_a_batch() => GetAsync("/api/v1/census?dimension=client_version&crawl=" + _runningCrawl.ToString(CultureInfo.InvariantCulture));

    /// <summary>The first page of the running crawl's node table after each of its batches (the dashboard's node table).</summary>
    [Benchmark]
    public Task<int> Nodes_running_crawl_after_a_batch() => GetAsync("/api/v1/nodes?limit=50&crawl=" + _runningCrawl.ToString(CultureInfo.InvariantCulture));

    private async Task RemoveBatchesAsync()
    {
        StorageOptions options = BenchDatabase.Options(Database);
        await using System.Data.Common.DbConnection conn = options.Provider == StorageProvider.Postgres
            ? new Npgsql.NpgsqlConnection(options.ConnectionString) : new Microsoft.Data.Sqlite.SqliteConnection(options.ConnectionString);
        await conn.OpenAsync();
        await using System.Data.Common.DbCommand cmd = conn.CreateCommand();
        cmd.CommandText = "DELETE FROM visits WHERE crawl_id = @crawl AND visited_at >= @at";
        foreach ((string name, object value) in new (string, object)[] { ("crawl", _runningCrawl), ("at", BatchesAt.UtcDateTime) })
        {
            System.Data.Common.DbParameter p = cmd.CreateParameter();
            (p.ParameterName, p.Value) = (name, value);
            cmd.Parameters.Add(p);
        }
        await cmd.ExecuteNonQueryAsync();
    }

    private const string PageDimensions = "client,os,arch,country,asn,fork_digest,sync_health,finalized_lag,cgc,attnets,syncnets,dial_outcome,discovery,client_version";

    /// <summary>Client time series over all 201 crawls.</summary>
    [Benchmark]
    public Task<int> Time_series_by_client_all_crawls() => GetAsync("/api/v1/census/timeseries?dimension=client&from=2025-12-31T00:00:00Z&to=2027-01-01T00:00:00Z");

    /// <summary>Fork-digest time series over all 201 crawls, mainnet only.</summary>
    [Benchmark]
    public Task<int> Time_series_by_fork_all_crawls_mainnet() => GetAsync("/api/v1/census/timeseries?dimension=fork_digest&network=mainnet&from=2025-12-31T00:00:00Z&to=2027-01-01T00:00:00Z");

    /// <summary>The dashboard's crawl picker: the newest 200 crawls with their visit counts (the running crawl's counted live).</summary>
    [Benchmark]
    public Task<int> Crawls_list_200() => GetAsync("/api/v1/crawls?limit=200");

    /// <summary>One node's history (201 visits, newest 100 returned).</summary>
    [Benchmark]
    public Task<int> Node_history() => GetAsync(_nodePath);

    /// <summary>First page of nodes of the latest crawl, filtered by client.</summary>
    [Benchmark]
    public Task<int> Node_list_by_client() => GetAsync("/api/v1/nodes?client=teku&limit=50");

    private async Task<int> GetAsync(string path)
    {
        using var response = await _http.GetAsync(path).ConfigureAwait(false);
        byte[] body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"{path}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
        return body.Length;
    }
}
