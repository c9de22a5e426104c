using System.Diagnostics.Metrics;

namespace ClP2p.Libp2p;

/// <summary>Counters of the libp2p stack (meter "ClP2p.Libp2p").</summary>
public sealed class Libp2pMetrics : IDisposable
{
    public const string MeterName = "ClP2p.Libp2p";

    private readonly Meter _meter;
    private readonly Counter<long> _dials;
    private readonly Counter<long> _malformed;
    private readonly Counter<long> _inboundStreams;
    private readonly Counter<long> _ignored;
    private readonly Counter<long> _lazyFallbacks;

    public Libp2pMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _dials = _meter.CreateCounter<long>("clp2p.libp2p.dials", description: "Dial attempts by outcome class and step");
        _malformed = _meter.CreateCounter<long>("clp2p.libp2p.malformed", description: "Rejected frames and messages by protocol and reason");
        _inboundStreams = _meter.CreateCounter<long>("clp2p.libp2p.inbound_streams", description: "Inbound streams by protocol");
        _lazyFallbacks = _meter.CreateCounter<long>("clp2p.libp2p.lazy_select_fallbacks", description: "Lazy multistream proposals refused (\"na\") and retried with the next protocol on a new stream, by the refused protocol");
        _ignored = _meter.CreateCounter<long>("clp2p.libp2p.ignored_errors", description: "Best-effort writes on a closing connection that failed (FIN, GoAway, window update), by muxer and what was written");
    }

    public static Libp2pMetrics Shared { get; } = new();

    /// <summary>The meter behind these counters (for exporters and tests).</summary>
    public Meter Meter => _meter;

    public void Dial(string outcome, string step) =>
        _dials.Add(1, new KeyValuePair<string, object?>("outcome", outcome), new KeyValuePair<string, object?>("step", step));

    public void MalformedFrame(string protocol, string reason) =>
        _malformed.Add(1, new KeyValuePair<string, object?>("protocol", protocol), new KeyValuePair<string, object?>("reason", reason));

    public void IgnoredError(string protocol, string site) =>
        _ignored.Add(1, new KeyValuePair<string, object?>("protocol", protocol), new KeyValuePair<string, object?>("site", site));

    public void LazySelectFallback(string refused) => _lazyFallbacks.Add(1, new KeyValuePair<string, object?>("protocol", refused));

    public void InboundStream(string protocol) => _inboundStreams.Add(1, new KeyValuePair<string, object?>("protocol", protocol));

    public void Dispose() => _meter.Dispose();
}
