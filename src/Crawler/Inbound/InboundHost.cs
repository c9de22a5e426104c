using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Discovery;
using ClP2p.Discovery.Crypto;
using ClP2p.Eth2.Agents;
using ClP2p.Eth2.Dialing;
using ClP2p.Libp2p;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Inbound;

/// <summary>
/// The crawler's listening side: one discv5 node (the one crawls use) and one libp2p listener, kept up by
/// <c>clp2p run</c> between and during crawls (and by <c>clp2p crawl</c> for its one crawl). Its record carries the
/// libp2p TCP port and the public address (--external-ip, or what several peers' PONGs agree on). Every peer that
/// contacts us is written as a visit of kind inbound_discv5 (node id, record, address) or inbound_libp2p (peer id,
/// identify, Status, MetaData); nothing a peer sends makes us dial anyone. A crawl's end takes these contacts in
/// (<see cref="CrawlStore.ApplyInboundAsync"/>).
/// </summary>
public sealed partial class InboundHost : IAsyncDisposable
{
    /// <summary>A node's discv5 contacts are written at most this often (its libp2p connections each time).</summary>
    public static readonly TimeSpan ContactInterval = TimeSpan.FromMinutes(10);

    /// <summary>Nodes whose last written contact time is remembered (the oldest half is forgotten beyond this).</summary>
    public const int MaxRemembered = 100_000;

    private readonly CrawlerSettings _settings;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly ResultWriter _writer;
    private readonly StorageCrawlSink _records;
    private readonly InboundGeo _geo;
    // discv5 contacts and libp2p peers, in one queue so that a flush marker follows everything before it; under a flood
    // the oldest are dropped (and a dropped marker released)
    private readonly Channel<Work> _work = Channel.CreateBounded<Work>(new BoundedChannelOptions(8_192) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
        static w => { w.Marker?.TrySetResult(); });
    private readonly ConcurrentDictionary<NodeId, long> _lastWritten = new();
    private readonly CancellationTokenSource _stop = new();
    private BeaconInbound? _libp2p;
    private Discv5Node? _node;
    private Task _forward = Task.CompletedTask, _writeLoop = Task.CompletedTask;
    private long _discv5Contacts, _libp2pPeers;

    private InboundHost(CrawlerSettings settings, StorageOptions storage, NetworkSelection selection, ILoggerFactory loggers, TimeProvider time, Task? storageReady,
        Func<IPAddress, IpGeo?>? geo)
    {
        _geo = new InboundGeo(geo, time);
        _settings = settings;
        _log = loggers.CreateLogger<InboundHost>();
        _time = time;
        _writer = new ResultWriter(storage, new ResultWriterOptions(), loggers.CreateLogger<ResultWriter>(), time: time, ready: storageReady);
        _records = new StorageCrawlSink(_writer, 0, selection.Registry, time, logger: _log);
        Policy = new AddressPolicy(settings.Crawl.AllowPrivate, settings.Crawl.AllowLoopback);
    }

    /// <summary>The discv5 node crawls use.</summary>
    public Discv5Node Node => _node ?? throw new InvalidOperationException("not started");

    /// <summary>The libp2p listener (its bounds and counters).</summary>
    public BeaconInbound Libp2p => _libp2p ?? throw new InvalidOperationException("not started");

    public AddressPolicy Policy { get; }

    /// <summary>discv5 contacts written (at most one per node per <see cref="ContactInterval"/>).</summary>
    public long Discv5Contacts => Interlocked.Read(ref _discv5Contacts);

    /// <summary>Inbound libp2p connections written.</summary>
    public long Libp2pPeers => Interlocked.Read(ref _libp2pPeers);

    /// <summary>Opens the libp2p listener, then the discv5 node whose record names the listener's port. With
    /// <paramref name="geo"/> (the crawl's GeoIP lookup), the address each peer came from gets its country and AS.</summary>
    public static async Task<InboundHost> StartAsync(CrawlerSettings settings, StorageOptions storage, NetworkSelection selection, byte[] key,
        IReadOnlyList<Enr> bootnodes, ILoggerFactory loggers, TimeProvider? time = null, CancellationToken ct = default, Task? storageReady = null,
        Func<IPAddress, IpGeo?>? geo = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(selection);
        var host = new InboundHost(settings, storage, selection, loggers, time ?? TimeProvider.System, storageReady, geo);
        try
        {
            await host.StartCoreAsync(selection, key, bootnodes, loggers, ct).ConfigureAwait(false);
            return host;
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartCoreAsync(NetworkSelection selection, byte[] key, IReadOnlyList<Enr> bootnodes, ILoggerFactory loggers, CancellationToken ct)
    {
        var address = _settings.Crawl.BindAddress();
        var dialOptions = CrawlSession.CreateDialerOptions(_settings, selection, key);
        _libp2p = new BeaconInbound(dialOptions, new BeaconInboundOptions(), loggers, _time);
        _libp2p.Start(new IPEndPoint(address, _settings.Crawl.TcpPort));
        IPAddress? external = _settings.Crawl.ExternalIp is { Length: > 0 } e ? IPAddress.Parse(e) : null;
        _node = new Discv5Node(new Discv5Options
        {
            PrivateKey = key,
            BindEndPoint = new IPEndPoint(address, _settings.Crawl.UdpPort),
            AdvertisedIp = external,
            AdvertisedTcpPort = _libp2p.LocalEndPoint!.Port,
            AcceptObservedAddress = Policy.IsAllowed,
            Bootnodes = bootnodes,
            ContactFilter = CrawlSession.ContactFilter(Policy),
            // thousands of nodes enumerated at once, each with a few requests in flight, in a network of 20,000+
            MaxPendingRequests = 65_536,
            MaxSessions = 100_000,
            MaxKnownRecords = 200_000,
            // answers are 50-300 ms away; 2 ms more per datagram lets them gather and be handled a batch per thread
            // wake-up (docs/performance.md, "Receive coalescing")
            ReceiveCoalescing = TimeSpan.FromMilliseconds(2),
            // A fresh, higher seq on every start: peers that cached our record from an earlier run (same node id,
            // another port) then take the new one from the handshake instead of distrusting the session.
            EnrSeq = (ulong)_time.GetUtcNow().ToUnixTimeMilliseconds(),
            InboundContact = c => _work.Writer.TryWrite(new Work(c, null, null)),
        }, loggers, _time);
        await _node.StartAsync(ct).ConfigureAwait(false);
        LogListening(_log, _node.LocalEndPoint, _libp2p.LocalEndPoint, _node.LocalId, _node.LocalEnr.ToText());
        _forward = Task.Run(ForwardPeersAsync);
        _writeLoop = Task.Run(WriteAsync);
    }

    private sealed record Work(InboundContact? Contact, InboundPeer? Peer, TaskCompletionSource? Marker);

    private async Task ForwardPeersAsync()
    {
        await foreach (var p in _libp2p!.Peers.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            _work.Writer.TryWrite(new Work(null, p, null));
    }

    private async Task WriteAsync()
    {
        await foreach (var w in _work.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            try
            {
                if (w.Contact is { } c) await WriteContactAsync(c).ConfigureAwait(false);
                else if (w.Peer is { } p) await WritePeerAsync(p).ConfigureAwait(false);
                else w.Marker?.TrySetResult();
            }
            catch (StorageWriteException e)
            {
                // the writer gave up on the database: this contact is lost, the next ones are tried again
                LogWriteFailed(_log, e.Message);
            }
        }
    }

    private async Task WriteContactAsync(InboundContact c)
    {
        {
            long now = _time.GetTimestamp();
            if (_lastWritten.TryGetValue(c.NodeId, out long last) && _time.GetElapsedTime(last, now) < ContactInterval) return;
            Remember(c.NodeId, now);
            var at = _time.GetUtcNow();
            if (c.Record is { } enr) await _writer.AddEnrAsync(_records.ToObservation(enr, at), CancellationToken.None).ConfigureAwait(false);
            await _writer.AddVisitAsync(new VisitObservation
            {
                NodeId = c.NodeId.ToByteArray(),
                VisitedAt = at,
                Kind = VisitKinds.InboundDiscv5,
                EnrSeq = c.Record?.Seq,
                Ip = Unmapped(c.From.Address).ToString(),
                DialError = c.Handshake ? "handshake" : "request",
            }, CancellationToken.None).ConfigureAwait(false);
            await WriteGeoAsync(c.From.Address).ConfigureAwait(false);
            Interlocked.Increment(ref _discv5Contacts);
        }
    }

    private async Task WritePeerAsync(InboundPeer p)
    {
        {
            // the node id of a secp256k1 peer is keccak256 of its public key (EIP-778 "v4" identity scheme); other
            // key types have no discv5 identity and are not recorded as nodes
            if (NodeIdOf(p.PublicKey) is not { } id) return;
            Remember(id, _time.GetTimestamp());
            var r = p.Result;
            await _writer.AddVisitAsync(StorageCrawlSink.WithDialColumns(new VisitObservation
            {
                NodeId = id.ToByteArray(),
                VisitedAt = p.At,
                Kind = VisitKinds.InboundLibp2p,
                Ip = Unmapped(p.Remote.Address).ToString(),
                DialOutcome = r.Outcome.ToStorageString(),
                DialError = r.Error,
            }, r), CancellationToken.None).ConfigureAwait(false);
            await WriteGeoAsync(p.Remote.Address).ConfigureAwait(false);
            Interlocked.Increment(ref _libp2pPeers);
        }
    }

    private async Task WriteGeoAsync(IPAddress from)
    {
        if (_geo.ToWrite(from) is { } geo) await _writer.AddGeoAsync(geo, CancellationToken.None).ConfigureAwait(false);
    }

    private static NodeId? NodeIdOf(byte[] compressed)
    {
        if (compressed.Length != 33) return null;
        Span<byte> parsed = stackalloc byte[64];
        return Secp256k1Ops.TryParsePublicKey(compressed, parsed) ? Secp256k1Ops.NodeIdOf(parsed) : null;
    }

    private void Remember(NodeId id, long now)
    {
        if (_lastWritten.Count >= MaxRemembered)
            foreach (var old in _lastWritten.OrderBy(kv => kv.Value).Take(MaxRemembered / 2).Select(kv => kv.Key).ToList()) _lastWritten.TryRemove(old, out _);
        _lastWritten[id] = now;
    }

    private static IPAddress Unmapped(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    /// <summary>One line of what the listening side saw so far (logged at each crawl's end).</summary>
    public string Describe()
    {
        var l = Libp2p.Listener;
        return $"inbound so far: {Discv5Contacts} discv5 contacts, {Libp2pPeers} libp2p peers ({Libp2p.Served - Libp2p.Failed} with Status); "
            + $"libp2p connections refused: {l.Refused(InboundRefusal.TooManyConnections)} over the total bound, {l.Refused(InboundRefusal.TooManyFromIp)} over the per-IP bound, "
            + $"{l.Refused(InboundRefusal.RateLimited)} rate limited; {l.UpgradeFailures} failed or timed-out upgrades; {l.OpenConnections} open";
    }

    /// <summary>Writes every contact received so far (a crawl's end calls this before taking them in).</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        // everything queued before this marker is handed to the writer before the marker is reached
        var marker = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_work.Writer.TryWrite(new Work(null, null, marker))) await marker.Task.WaitAsync(ct).ConfigureAwait(false);
        await _writer.FlushAsync(ct).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_node is not null) await _node.DisposeAsync().ConfigureAwait(false);
        if (_libp2p is not null) await _libp2p.DisposeAsync().ConfigureAwait(false);
        await _forward.ConfigureAwait(false);
        _work.Writer.TryComplete();
        await _writeLoop.ConfigureAwait(false);
        await _writer.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "an inbound contact could not be written: {Error}")]
    private static partial void LogWriteFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "listening for inbound peers: discv5 on {Udp}, libp2p on {Tcp}, node {NodeId}, record {Enr}")]
    private static partial void LogListening(ILogger logger, IPEndPoint udp, IPEndPoint? tcp, NodeId nodeId, string enr);
}
