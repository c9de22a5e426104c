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
