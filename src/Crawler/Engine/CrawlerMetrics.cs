using System.Diagnostics.Metrics;
using ClP2p.Storage;

namespace ClP2p.Crawler.Engine;

/// <summary>Crawler metrics (meter "ClP2p.Crawler"), exported at /metrics by prometheus-net with the discv5,
/// libp2p and storage meters: nodes found, dials by outcome, dial queue depth, storage queue depth.</summary>
public static class CrawlerMetrics
{
    public const string MeterName = "ClP2p.Crawler";
    private static readonly Meter Meter = new(MeterName);
    private static CrawlCounters? _counters;
    private static ResultWriter? _writer;
    private static long _previousFound, _previousDialled;
    private static readonly Lock Gate = new();

    static CrawlerMetrics()
    {
        Meter.CreateObservableCounter("clp2p.crawler.nodes_found", () => Total(c => c.NodesFound, ref _previousFound), "nodes", "Distinct nodes found by discovery, over all crawls");
        Meter.CreateObservableCounter("clp2p.crawler.dials", () => Total(c => c.Dialled, ref _previousDialled), "dials", "Dials finished, over all crawls");
        Meter.CreateObservableGauge("clp2p.crawler.dials_by_outcome", ObserveOutcomes, "dials", "Dials of the current crawl by outcome");
        Meter.CreateObservableGauge("clp2p.crawler.dial_queue_depth", () => _counters is { } c ? c.DialQueued - c.Dialled : 0, "nodes", "Nodes waiting for or in a dial");
        Meter.CreateObservableGauge("clp2p.crawler.write_queue_depth", () => _writer?.QueueDepth ?? 0, "items", "Results buffered for the database");
    }

    /// <summary>Points the gauges at the crawl now running.</summary>
    public static void Track(CrawlCounters counters, ResultWriter writer)
    {
        lock (Gate)
        {
            if (_counters is not null)
            {
                _previousFound += _counters.NodesFound;
                _previousDialled += _counters.Dialled;
            }
            _counters = counters;
            _writer = writer;
        }
    }

    private static long Total(Func<CrawlCounters, long> read, ref long previous)
    {
        lock (Gate) return previous + (_counters is { } c ? read(c) : 0);
    }

    private static IEnumerable<Measurement<long>> ObserveOutcomes()
    {
        var c = _counters;
        if (c is null) yield break;
        yield return new Measurement<long>(c.DialOk, new KeyValuePair<string, object?>("outcome", "ok"));
        foreach (var (outcome, n) in c.FailuresByClass) yield return new Measurement<long>(n, new KeyValuePair<string, object?>("outcome", outcome));
    }
}
