using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Handler;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Service;
using ClP2p.Discovery.Sessions;
using ClP2p.Discovery.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Discovery;

/// <summary>
/// A discv5 v5.1 node, in three layers as sigp's discv5: the socket (<see cref="Discv5Socket"/>: UDP I/O) feeds the
/// handler (<see cref="HandlerShard"/>s: packet codec, sessions, handshakes, requests by nonce and id), which calls
/// on the service (<see cref="NodeService"/>: routing table, known records, refreshes); lookups and the DHT crawler
/// sit on top and use the typed request methods here. The handler is split in shards by remote endpoint, joined to
/// the socket and to the API by channels, so that packet crypto runs on every core with no lock shared between
/// shards. Nothing a remote sends can throw out of the receive path; every received packet is counted as processed
/// or as one drop reason.
/// </summary>
public sealed partial class Discv5Node : IAsyncDisposable
{
    private readonly Discv5Options _options;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly byte[] _privateKey;
    private readonly Discv5Counters _counters;
    private readonly NodeService _service;
    private readonly VerifiedRecords _records;
    private readonly CancellationTokenSource _cts = new();
    private readonly object _lifecycle = new();
    private Discv5Socket? _socket;
    private HandlerContext? _ctx;
    private HandlerShard[] _shards = [];
    private ITimer? _housekeeping;
    private Enr? _localEnr;
    private volatile bool _disposed;

    public Discv5Node(Discv5Options options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Secp256k1Ops.IsValidPrivateKey(options.PrivateKey)) throw new ArgumentException("PrivateKey must be a valid 32-byte secp256k1 key", nameof(options));
        _options = options;
        _log = (ILogger?)loggerFactory?.CreateLogger<Discv5Node>() ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _privateKey = options.PrivateKey.ToArray();
        Span<byte> pub = stackalloc byte[64];
        Secp256k1Ops.TryCreatePublicKey(_privateKey, pub);
        LocalId = Secp256k1Ops.NodeIdOf(pub);
        _counters = new Discv5Counters(_log);
        _service = new NodeService(LocalId, options, _time, _log);
        _records = new VerifiedRecords(Math.Max(2, options.MaxVerifiedRecords));
    }

    /// <summary>System.Diagnostics.Metrics meter of all discv5 instruments (counters named clp2p.discv5.*).</summary>
    public const string MeterName = Discv5Metrics.MeterName;

    /// <summary>discv5-wire.md NODES: a FINDNODE answer holds at most 16 records per distance (one k-bucket).</summary>
    public const int MaxRecordsPerDistance = HandlerShard.MaxRecordsPerDistance;
    /// <summary>We return at most 16 records per FINDNODE in total (nim-eth #857, as the JS node).</summary>
    public const int MaxRecordsPerResponse = HandlerShard.MaxRecordsPerResponse;
    /// <summary>Cap on the NODES `total` we accept (sigp MAX_NODES_RESPONSES).</summary>
    public const int MaxNodesMessages = HandlerShard.MaxNodesMessages;

    public NodeId LocalId { get; }

    /// <summary>The local record (available after <see cref="StartAsync"/>).</summary>
    public Enr LocalEnr => Volatile.Read(ref _localEnr) ?? throw new InvalidOperationException("call StartAsync first");

    /// <summary>Tests: whether a datagram waits unread in the socket.</summary>
    internal bool HasUnreadDatagram => _socket?.HasUnread ?? false;

    /// <summary>Times the socket was asked whether a datagram waits unread (tests).</summary>
    internal long UnreadQueries => _socket?.UnreadQueries ?? 0;

    /// <summary>Tests: see <see cref="Discv5Socket.DispatchGate"/>.</summary>
    internal Func<Task>? ReceiveDispatchGate
    {
        set => (_socket ?? throw new InvalidOperationException("call StartAsync first")).DispatchGate = value;
    }

    /// <summary>The bound UDP endpoint (available after <see cref="StartAsync"/>).</summary>
    public IPEndPoint LocalEndPoint => _socket?.LocalEndPoint ?? throw new InvalidOperationException("call StartAsync first");

    /// <summary>Effective SO_RCVBUF after start (Linux reports twice the requested size).</summary>
    public int EffectiveReceiveBufferSize => _socket?.ReceiveBufferSize ?? 0;

    /// <summary>Datagrams the kernel dropped on the node's socket before we could read them (a receive buffer too
    /// small for a burst); null where the system does not tell (see <see cref="Transport.Discv5Socket.KernelDrops"/>).</summary>
    public long? KernelReceiveDrops => _socket?.KernelDrops();

    /// <summary>Handler shards in use (packet crypto runs on this many cores at most).</summary>
    public int HandlerShardCount => _shards.Length;

    /// <summary>After each received packet is handled and counted (on the handling thread; handlers must be quick).</summary>
    internal event Action? PacketHandled { add => _counters.PacketHandled += value; remove => _counters.PacketHandled -= value; }

    public long PacketsReceived => Interlocked.Read(ref _counters.Received);
    public long PacketsProcessed => Interlocked.Read(ref _counters.Processed);
    public long PacketsSent => Interlocked.Read(ref _counters.Sent);
    public long SendErrors => Interlocked.Read(ref _counters.SendErrors);
    /// <summary>Handshakes a remote started (we sent WHOAREYOU, it answered with a valid handshake).</summary>
    public long HandshakesInbound => Interlocked.Read(ref _counters.HandshakesIn);
    /// <summary>Handshakes we started (we answered a WHOAREYOU).</summary>
    public long HandshakesOutbound => Interlocked.Read(ref _counters.HandshakesOut);
    /// <summary>Answers that came after their request had timed out (kept for, or taken up by, a retry).</summary>
    public long LateAnswers => Interlocked.Read(ref _counters.LateAnswers);
    /// <summary>Request timeouts put off because datagrams were waiting unread (<see cref="Discv5Options.TimeoutDeferral"/>).</summary>
    public long TimeoutsDeferred => Interlocked.Read(ref _counters.TimeoutsDeferred);
    /// <summary>Challenges (WHOAREYOU) queued past <see cref="Discv5Options.MaxQueuedPacketsPerShard"/>, in the reserve
    /// that keeps them from being dropped with the rest when the handler is behind.</summary>
    public long ChallengesOverBound => Interlocked.Read(ref _counters.ChallengesOverBound);
    /// <summary>Request attempts retried uncounted because the handler had dropped a datagram of their node over its
    /// bound while they waited (<see cref="Discv5Options.MaxRetriesAfterDrops"/>).</summary>
    public long RetriesAfterDrops => Interlocked.Read(ref _counters.RetriesAfterDrops);
    /// <summary>Record signature checks done; records seen again are taken from the cache (<see cref="RecordCacheHits"/>).</summary>
    public long RecordsVerified => _records.Verified;
    public long RecordCacheHits => _records.Hits;
    /// <summary>Receive calls of the batching loop that returned datagrams (0 with the portable loop): received packets
    /// over this is how many came per thread wake-up (see <see cref="Discv5Options.ReceiveCoalescing"/>).</summary>
    public long ReceiveBatches => _socket?.ReceiveBatches ?? 0;
    /// <summary>System calls that sent datagrams: <see cref="PacketsSent"/> over this is how many left per call (a
    /// handler shard sends what a batch of its work made in one call, see <see cref="Transport.Discv5Socket.SendBatch"/>).</summary>
    public long SendCalls => _socket?.SendCalls ?? 0;

    /// <summary>Dropped received packets by reason (kebab-case names). received = processed + sum of these.</summary>
    public IReadOnlyDictionary<string, long> DropCounts => _counters.Drops();

    /// <summary>ENRs dropped from NODES responses, by reason.</summary>
    public IReadOnlyDictionary<string, long> RecordDropCounts => _counters.RecordDrops();

    public int SessionCount => (int)Interlocked.Read(ref _counters.Sessions);
    /// <summary>Requests waiting for an answer.</summary>
    public int PendingRequestCount => (int)Interlocked.Read(ref _counters.LiveRequests);
    public int PendingChallengeCount => (int)Interlocked.Read(ref _counters.Challenges);
    public int TableCount => _service.TableCount;

    /// <summary>Received datagrams queued in the handler shards, not yet handled: how far the handler is behind. A
    /// crawler that keeps this low sends no more requests than this process can take the answers of (past
    /// <see cref="Discv5Options.MaxQueuedPacketsPerShard"/> a shard drops what arrives).</summary>
    public int HandlerBacklog
    {
        get
        {
            int n = 0;
            foreach (var s in _shards) n += s.QueuedPackets;
            return n;
        }
    }

    /// <summary>A snapshot of the routing table.</summary>
    public IReadOnlyList<Enr> TableNodes() => _service.TableNodes();

    /// <summary>Nodes of the table bucket at a log distance.</summary>
    public IReadOnlyList<Enr> TableBucket(int distance) => _service.Bucket(distance);

    /// <summary>Adds a record to the routing table without contacting it (as JS addEnr).</summary>
    public bool AddToTable(Enr enr) => _service.AddToTable(enr);

    /// <summary>The most recent record known for a node id (table, handshakes, responses), or null.</summary>
    public Enr? GetKnownRecord(NodeId id) => _service.KnownRecord(id);

    /// <summary>The node has answered a packet of ours at least once (a WHOAREYOU to one of our requests, or a message
    /// we could read): it is there, however slow. A crawl gives up sooner on a node that never did.</summary>
    public bool HasResponded(NodeId id) => _service.HasResponded(id);

    /// <summary>Retries of a request whose options do not say (<see cref="Discv5Options.RequestRetries"/>).</summary>
    internal int RequestRetries => _options.RequestRetries;

    /// <summary>
    /// Handler shards when <see cref="Discv5Options.HandlerShards"/> is 0: one per two processors, at least one. A crawler
    /// has two kinds of work, discovery and its dials (TCP, Noise, req/resp), and both share the machine with the
    /// runtime's own threads and often a database. On 2 cores, with the batching receive thread of
    /// <see cref="Transport.Discv5Socket"/>, one shard (and so one receive thread, which handles what it reads itself)
    /// used 7–10 % less CPU at 20,000 simulated records than two, with the same coverage (docs/performance.md,
    /// "One handler shard per two cores"), and 16–21 % less against the corrected simulator ("The simulator's own
    /// receive threads"): two shards on two cores mostly added thread switches and late, repeated answers.
    /// </summary>
    internal static int DefaultHandlerShards(int processors) => Math.Max(1, processors / 2);

    /// <summary>No handler shard's loop is running (tests that need their next call to run the loop themselves).</summary>
    internal bool HandlersIdle => _shards.All(s => s.IsIdle);

    /// <summary>The handler shards (tests).</summary>
    internal IReadOnlyList<HandlerShard> Shards => _shards;

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_socket != null) throw new InvalidOperationException("already started");
            var ep = _options.BindEndPoint;
            var socket = new Discv5Socket(ep, _options.ReceiveBufferSize, _options.SendBufferSize, _log, _counters, _options.Sender) { PortableReceive = _options.PortableReceive, ReceiveCoalescing = _options.ReceiveCoalescing };
            _socket = socket;
            var bound = socket.LocalEndPoint;
            var ip = _options.AdvertisedIp ?? (ep.Address.Equals(IPAddress.Any) || ep.Address.Equals(IPAddress.IPv6Any) ? null : ep.Address);
            if (ip is { IsIPv4MappedToIPv6: true }) ip = ip.MapToIPv4();
            _udpPort = _options.AdvertisedUdpPort ?? bound.Port;
            if (ip?.AddressFamily == AddressFamily.InterNetworkV6) _ip6 = ip; else _ip4 = ip;
            var local = BuildLocalEnr(_options.EnrSeq, _options.ExtraEnrEntries);
            _localEnr = local;
            _ctx = new HandlerContext
            {
                Options = _options,
                Log = _log,
                Time = _time,
                Random = _options.Random,
                PrivateKey = _privateKey,
                LocalId = LocalId,
                Socket = socket,
                Service = _service,
                Records = _records,
                // WHOAREYOUs answer any 63-byte packet from anyone: without a per-IP budget the node amplifies spoofed traffic
                // (discv5-rationale.md "On Amplification and Replay"); loopback counts too
                WhoAreYouLimiter = new UnsolicitedLimiter(_options.MaxWhoAreYouPerIpPerSecond, limitLoopback: true, _time),
                UnsolicitedLimiter = new UnsolicitedLimiter(_options.MaxUnsolicitedPerIpPerSecond, _options.RateLimitLoopback, _time),
                Counters = _counters,
                Votes = new AddressVotes(_options.AddressVotesNeeded, _options.AcceptObservedAddress),
                AddressAdopted = OnAddressAdopted,
            };
            _ctx.LocalEnr = local;
            int shards = _options.HandlerShards > 0 ? _options.HandlerShards : DefaultHandlerShards(Environment.ProcessorCount);
            shards = Math.Clamp(shards, 1, Math.Max(1, _options.MaxSessions));
            int sessionsPerShard = Math.Max(1, _options.MaxSessions / shards);
            _shards = new HandlerShard[shards];
            for (int i = 0; i < shards; i++)
            {
                _shards[i] = new HandlerShard(_ctx, sessionsPerShard, _options.MaxQueuedPacketsPerShard);
            }
            foreach (var b in _options.Bootnodes) _service.Remember(b);
            // one receive loop per shard: each handles what it receives itself when the packet's shard is idle
            socket.Start(Dispatch, shards, _cts.Token);
            _service.Start(this, _cts.Token);
            _housekeeping = _time.CreateTimer(static s => ((Discv5Node)s!).Housekeeping(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
            LogStarted(_log, LocalId, bound, local.ToText(), shards);
        }
        foreach (var b in _options.Bootnodes) _ = PingBootnodeAsync(b);
        return Task.CompletedTask;
    }

    /// <summary>A background PING (bootnodes): establishes a session and tables the node when it answers.</summary>
    private async Task PingBootnodeAsync(Enr node)
    {
        try
        {
            var pong = await PingAsync(node, _cts.Token).ConfigureAwait(false);
            if (!pong.IsOk) LogBootnodeSilent(_log, node.NodeId, pong.Failure!.Value);
        }
        catch (OperationCanceledException)
        {
            // the node stopped before the bootnode answered
        }
    }

    // the record's addresses: given (AdvertisedIp, a bound address) or adopted from PONG votes; guarded by _lifecycle
    private IPAddress? _ip4, _ip6;
    private int _udpPort, _udp6Port;

    private Enr BuildLocalEnr(ulong seq, IReadOnlyDictionary<string, byte[]> extra)
    {
        var b = new EnrBuilder().WithSeq(seq);
        foreach (var (k, v) in extra) b.With(k, v);
        return BuildLocalEnr(b);
    }

    private Enr BuildLocalEnr(EnrBuilder b)
    {
        // an unknown address still carries the udp port (as geth and sigp do: a peer that learns our address from a
        // packet's source knows where to answer)
        b.WithUdp(_udpPort);
        if (_ip4 is not null)
        {
            b.WithIp(_ip4);
            if (_options.AdvertisedTcpPort is int tcp) b.WithTcp(tcp);
        }
        if (_ip6 is not null)
        {
            b.WithIp(_ip6).WithUdp6(_udp6Port > 0 ? _udp6Port : _udpPort);
            if (_options.AdvertisedTcpPort is int tcp6) b.WithTcp6(tcp6);
        }
        return b.Build(_privateKey);
    }

    /// <summary>Enough peers agreed on where they see us: that endpoint goes in the record (a new seq), unless the
    /// family's address was given by <see cref="Discv5Options.AdvertisedIp"/>.</summary>
    private void OnAddressAdopted(IPEndPoint observed)
    {
        lock (_lifecycle)
        {
            if (_disposed) return;
            bool v6 = observed.AddressFamily == AddressFamily.InterNetworkV6;
            if (_options.AdvertisedIp is { } given && (given.AddressFamily == AddressFamily.InterNetworkV6 && !given.IsIPv4MappedToIPv6) == v6) return;
            if (v6)
            {
                if (observed.Address.Equals(_ip6) && observed.Port == _udp6Port) return;
                (_ip6, _udp6Port) = (observed.Address, observed.Port);
            }
            else
            {
                if (observed.Address.Equals(_ip4) && observed.Port == _udpPort) return;
                (_ip4, _udpPort) = (observed.Address, observed.Port);
            }
            var b = EnrBuilder.From(LocalEnr).WithSeq(LocalEnr.Seq + 1);
            foreach (var k in RecordAddressKeys) b.Without(k);
            var updated = BuildLocalEnr(b);
            Volatile.Write(ref _localEnr, updated);
            if (_ctx is not null) _ctx.LocalEnr = updated;
            LogAddressAdopted(_log, observed, updated.Seq);
        }
    }

    private static readonly string[] RecordAddressKeys = ["ip", "ip6", "udp", "udp6", "tcp", "tcp6"];

    /// <summary>The endpoint PONG votes adopted for an address family (null until enough peers agreed).</summary>
    public IPEndPoint? VotedEndPoint(AddressFamily family) => _ctx?.Votes.Winner(family);

    /// <summary>Replaces extra entries of the local record and bumps its seq (e.g. a new eth2 fork digest).</summary>
    public Enr UpdateLocalEnr(IReadOnlyDictionary<string, byte[]> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        lock (_lifecycle)
        {
            var b = EnrBuilder.From(LocalEnr).WithSeq(LocalEnr.Seq + 1);
            foreach (var (k, v) in entries) b.With(k, v);
            var updated = b.Build(_privateKey);
            Volatile.Write(ref _localEnr, updated);
            if (_ctx is not null) _ctx.LocalEnr = updated;
            return updated;
        }
    }

    // one shard (by default on a machine of up to three cores): no hash of the endpoint per packet and per request
    private HandlerShard ShardFor(IPEndPoint ep) =>
        _shards.Length == 1 ? _shards[0] : _shards[(int)((uint)ep.GetHashCode() % (uint)_shards.Length)];

    /// <summary>The socket's receive loop hands each datagram here: on to the shard of its sender's endpoint.</summary>
    private void Dispatch(byte[] buffer, int length, IPEndPoint from)
    {
        var shard = ShardFor(from);
        if (shard.TryPostPacket(buffer, length, from)) return;
        Discv5Socket.Buffers.Return(buffer);
        // a packet that arrives while the node shuts down is not counted: nobody reads the counters after that
        if (_disposed) return;
        // noted before it is counted: whoever sees the count (a test) sees the shard knowing of the drop
        shard.NoteDropped(from);
        _counters.Handled(DropReason.HandlerOverloaded, from);
    }

    private void Housekeeping()
    {
        if (_disposed) return;
        foreach (var s in _shards) s.TryPost(ShardItem.Housekeeping);
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lifecycle)
        {
            if (_disposed) return;
            _disposed = true;
        }
        await _cts.CancelAsync().ConfigureAwait(false);
        _housekeeping?.Dispose();
        _socket?.Dispose();
        if (_socket != null) await _socket.Stopped.ConfigureAwait(false);
        foreach (var s in _shards) await s.StopAsync().ConfigureAwait(false);
        await _service.StopAsync().ConfigureAwait(false);
        _cts.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "discv5 node {NodeId} listening on {EndPoint} with {Shards} handler shards, record {Enr}")]
    private static partial void LogStarted(ILogger logger, NodeId nodeId, IPEndPoint endPoint, string enr, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "peers agree they see us at {EndPoint}: local record updated (seq {Seq})")]
    private static partial void LogAddressAdopted(ILogger logger, IPEndPoint endPoint, ulong seq);

    [LoggerMessage(Level = LogLevel.Information, Message = "bootnode {NodeId} did not answer PING: {Failure}")]
    private static partial void LogBootnodeSilent(ILogger logger, NodeId nodeId, RequestFailure failure);
}
