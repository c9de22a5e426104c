using System.Diagnostics.Metrics;
using ClP2p.Crawler.Engine;
using ClP2p.Discovery;
using ClP2p.Storage;

namespace ClP2p.Crawler.Eth2Crawl;

/// <summary>
/// The metrics of a discv5 + eth2 crawl: the engine's (<see cref="CrawlerMetrics"/>) plus gauges over the crawl's
/// writer (queue depth, retries) and discv5 node (packets, handshakes, drops). One per process; each crawl points it
/// at its own workers.
/// </summary>
public sealed class CrawlGauges : IDisposable
{
    private ResultWriter? _writer;
    private Discv5Node? _discv5;

    public CrawlGauges(IMeterFactory? meters = null)
    {
        Crawler = new CrawlerMetrics(meters);
        Crawler.AddGauge("write_queue_depth", () => One(_writer?.QueueDepth ?? 0), "items", "Results buffered for the database");
        Crawler.AddGauge("write_retries", () => One(_writer?.Retries ?? 0), "retries", "Database writes retried in the current crawl");
        Crawler.AddGauge("discv5_packets", ObservePackets, "packets", "discv5 packets of the current crawl by direction");
        Crawler.AddGauge("discv5_handshakes", ObserveHandshakes, "handshakes", "discv5 handshakes of the current crawl by direction");
        Crawler.AddGauge("discv5_dropped", ObserveDrops, "packets", "discv5 packets dropped in the current crawl by reason");
    }

    public CrawlerMetrics Crawler { get; }

    /// <summary>Points every gauge at the crawl now running.</summary>
    public void Track(CrawlCounters counters, ResultWriter writer, Discv5Node discv5)
    {
        Crawler.Track(counters);
        _writer = writer;
        _discv5 = discv5;
    }

    private static IEnumerable<Measurement<long>> One(long value) => [new Measurement<long>(value)];

    private IEnumerable<Measurement<long>> ObservePackets()
    {
        if (_discv5 is not { } d) yield break;
        yield return new Measurement<long>(d.PacketsReceived, new KeyValuePair<string, object?>("direction", "in"));
        yield return new Measurement<long>(d.PacketsSent, new KeyValuePair<string, object?>("direction", "out"));
    }

    private IEnumerable<Measurement<long>> ObserveHandshakes()
    {
        if (_discv5 is not { } d) yield break;
        yield return new Measurement<long>(d.HandshakesInbound, new KeyValuePair<string, object?>("direction", "inbound"));
        yield return new Measurement<long>(d.HandshakesOutbound, new KeyValuePair<string, object?>("direction", "outbound"));
    }

    private IEnumerable<Measurement<long>> ObserveDrops()
    {
        if (_discv5 is not { } d) yield break;
        foreach (var (reason, n) in d.DropCounts) yield return new Measurement<long>(n, new KeyValuePair<string, object?>("reason", reason));
    }

    public void Dispose() => Crawler.Dispose();
}
