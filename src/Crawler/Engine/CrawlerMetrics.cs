using System.Diagnostics.Metrics;

namespace ClP2p.Crawler.Engine;

/// <summary>
/// Crawler metrics (meter "ClP2p.Crawler"), exported at /metrics by prometheus-net with the discv5, libp2p and storage
/// meters: nodes found, dials by outcome, dial queue depth. One instance per process, pointed at each crawl as it
/// starts; the crawl's driver adds gauges over its own workers with <see cref="AddGauge"/>.
/// </summary>
public sealed class CrawlerMetrics : IDisposable
{
    public const string MeterName = "ClP2p.Crawler";
    private readonly Meter _meter;
    private readonly Lock _gate = new();
    private CrawlCounters? _counters;
    private long _previousFound, _previousDialled;

    public CrawlerMetrics(IMeterFactory? meters = null)
    {
        _meter = meters?.Create(MeterName) ?? new Meter(MeterName);
        _meter.CreateObservableCounter("nodes_found", () => Total(c => c.NodesFound, ref _previousFound), "nodes", "Distinct nodes found by discovery, over all crawls");
        _meter.CreateObservableCounter("dials", () => Total(c => c.Dialled, ref _previousDialled), "dials", "Dials finished, over all crawls");
        _meter.CreateObservableGauge("dials_by_outcome", ObserveOutcomes, "dials", "Dials of the current crawl by outcome");
        _meter.CreateObservableGauge("dial_queue_depth", () => _counters is { } c ? c.DialQueued - c.Dialled : 0, "nodes", "Nodes waiting for or in a dial");
        _meter.CreateObservableGauge("discovery_incomplete", () => _counters?.Incomplete ?? 0, "nodes", "Nodes of the current crawl that answered discovery but were not fully enumerated");
    }

    /// <summary>Points the gauges at the crawl now running.</summary>
    public void Track(CrawlCounters counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        lock (_gate)
        {
            if (_counters is not null)
            {
                _previousFound += _counters.NodesFound;
                _previousDialled += _counters.Dialled;
            }
            _counters = counters;
        }
    }

    /// <summary>Adds a gauge to this meter (the driver's workers: write queue, discv5 packets, ...).</summary>
    public void AddGauge(string name, Func<IEnumerable<Measurement<long>>> observe, string unit, string description) =>
        _meter.CreateObservableGauge(name, observe, unit, description);

    private long Total(Func<CrawlCounters, long> read, ref long previous)
    {
        lock (_gate) return previous + (_counters is { } c ? read(c) : 0);
    }

    private IEnumerable<Measurement<long>> ObserveOutcomes()
    {
        var c = _counters;
        if (c is null) yield break;
        yield return new Measurement<long>(c.DialOk, new KeyValuePair<string, object?>("outcome", "ok"));
        foreach (var (outcome, n) in c.FailuresByClass) yield return new Measurement<long>(n, new KeyValuePair<string, object?>("outcome", outcome));
    }

    public void Dispose() => _meter.Dispose();
}
