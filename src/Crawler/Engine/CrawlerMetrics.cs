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
    private static ClP2p.Discovery.Discv5Node? _discv5;
    private static long _previousFound, _previousDialled;
    private static readonly Lock Gate = new();

    static CrawlerMetrics()
    {
        Meter.CreateObservableCounter("nodes_found", () => Total(c => c.NodesFound, ref _previousFound), "nodes", "Distinct nodes found by discovery, over all crawls");
        Meter.CreateObservableCounter("dials", () => Total(c => c.Dialled, ref _previousDialled), "dials", "Dials finished, over all crawls");
        Meter.CreateObservableGauge("dials_by_outcome", ObserveOutcomes, "dials", "Dials of the current crawl by outcome");
        Meter.CreateObservableGauge("dial_queue_depth", () => _counters is { } c ? c.DialQueued - c.Dialled : 0, "nodes", "Nodes waiting for or in a dial");
        Meter.CreateObservableGauge("write_queue_depth", () => _writer?.QueueDepth ?? 0, "items", "Results buffered for the database");
        Meter.CreateObservableGauge("write_retries", () => _writer?.Retries ?? 0, "retries", "Database writes retried in the current crawl");
        Meter.CreateObservableGauge("discv5_packets", ObservePackets, "packets", "discv5 packets of the current crawl by direction");
        Meter.CreateObservableGauge("discv5_handshakes", ObserveHandshakes, "handshakes", "discv5 handshakes of the current crawl by direction");
        Meter.CreateObservableGauge("discv5_dropped", ObserveDrops, "packets", "discv5 packets dropped in the current crawl by reason");
    }

    /// <summary>Points the gauges at the crawl now running.</summary>
    public static void Track(CrawlCounters counters, ResultWriter writer, ClP2p.Discovery.Discv5Node? discv5 = null)
    {
        _discv5 = discv5;
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

    private static IEnumerable<Measurement<long>> ObservePackets()
    {
        if (_discv5 is not { } d) yield break;
        yield return new Measurement<long>(d.PacketsReceived, new KeyValuePair<string, object?>("direction", "in"));
        yield return new Measurement<long>(d.PacketsSent, new KeyValuePair<string, object?>("direction", "out"));
    }

    private static IEnumerable<Measurement<long>> ObserveHandshakes()
    {
        if (_discv5 is not { } d) yield break;
        yield return new Measurement<long>(d.HandshakesInbound, new KeyValuePair<string, object?>("direction", "inbound"));
        yield return new Measurement<long>(d.HandshakesOutbound, new KeyValuePair<string, object?>("direction", "outbound"));
    }

    private static IEnumerable<Measurement<long>> ObserveDrops()
    {
        if (_discv5 is not { } d) yield break;
        foreach (var (reason, n) in d.DropCounts) yield return new Measurement<long>(n, new KeyValuePair<string, object?>("reason", reason));
    }

    private static IEnumerable<Measurement<long>> ObserveOutcomes()
    {
        var c = _counters;
        if (c is null) yield break;
        yield return new Measurement<long>(c.DialOk, new KeyValuePair<string, object?>("outcome", "ok"));
        foreach (var (outcome, n) in c.FailuresByClass) yield return new Measurement<long>(n, new KeyValuePair<string, object?>("outcome", outcome));
    }
}
