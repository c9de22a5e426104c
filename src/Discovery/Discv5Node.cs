using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Packets;
using ClP2p.Discovery.Sessions;
using ClP2p.Discovery.Table;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Discovery;

/// <summary>
/// A discv5 v5.1 node on one UDP socket: packet codec, sessions and handshakes, requests with timeouts and retries,
/// serving PING/FINDNODE/TALKREQ, a routing table and lookups. Received packets are handled one at a time under
/// a lock; nothing a remote sends can throw out of the receive loop.
/// </summary>
public sealed partial class Discv5Node : IAsyncDisposable
{
    private readonly Discv5Options _options;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly IDiscoveryRandom _random;
    private readonly byte[] _privateKey;
    private readonly object _gate = new();
    private readonly PacketCodec _codec;
    private readonly RoutingTable _table;
    private readonly Dictionary<NodeAddress, Session> _sessions = [];
    private readonly Dictionary<NodeAddress, Challenge> _challenges = [];
    // PITFALLS 2: one request at a time opens a session with a node; the others wait for its handshake (as geth does)
    private readonly Dictionary<NodeAddress, FirstContact> _firstContacts = [];
    private readonly Dictionary<Nonce96, (PendingRequest Request, bool WasHandshake)> _byNonce = [];
    /// <summary>Nonces of the random packets of first-contact requests that timed out, kept a while: a slow node's
    /// WHOAREYOU to one of them (or its repeat of that challenge, discv5-theory.md "Handshake") still opens the session
    /// for the next request to that node instead of being dropped as unsolicited.</summary>
    private readonly Dictionary<Nonce96, (NodeAddress Address, long At)> _givenUp = [];
    private static readonly TimeSpan GivenUpLifetime = TimeSpan.FromSeconds(30);
    // keyed by the numeric request id: some stacks (ChainSafe) re-encode ids minimally, dropping leading zero bytes
    private readonly Dictionary<ulong, PendingRequest> _pending = [];
    private readonly Dictionary<NodeId, Enr> _known = [];
    private readonly Dictionary<IPAddress, (long Window, int Count)> _whoAreYouRate = [];
    private readonly HashSet<NodeId> _refreshing = [];
    // verified records by a hash of their bytes: a crawl sees the same record from many nodes, verify it once
    private readonly Dictionary<ulong, Enr> _verified = [];
    private const int MaxVerifiedCache = 65_536;
    private readonly long[] _drops = new long[Enum.GetValues<DropReason>().Length];
    private readonly long[] _recordDrops = new long[Enum.GetValues<RecordDropReason>().Length];
    private readonly byte[] _sendBuffer = new byte[PacketCodec.MaxPacketSize];
    private readonly byte[] _plainBuffer = new byte[PacketCodec.MaxPacketSize];
    private readonly CancellationTokenSource _cts = new();
    private Socket? _socket;
    private Task? _receiveLoop;
    private ITimer? _housekeeping;
    private ITimer? _liveness;
    private Enr? _localEnr;
    private long _received, _processed, _sent, _sendErrors, _handshakesIn, _handshakesOut;
    private bool _disposed;

    public Discv5Node(Discv5Options options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Secp256k1Ops.IsValidPrivateKey(options.PrivateKey)) throw new ArgumentException("PrivateKey must be a valid 32-byte secp256k1 key", nameof(options));
        _options = options;
        _log = (ILogger?)loggerFactory?.CreateLogger<Discv5Node>() ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _random = options.Random;
        _privateKey = options.PrivateKey.ToArray();
        Span<byte> pub = stackalloc byte[64];
        Secp256k1Ops.TryCreatePublicKey(_privateKey, pub);
        LocalId = Secp256k1Ops.NodeIdOf(pub);
        _codec = new PacketCodec(LocalId);
        _table = new RoutingTable(LocalId);
    }

    /// <summary>System.Diagnostics.Metrics meter of all discv5 instruments (counters named clp2p.discv5.*).</summary>
    public const string MeterName = Discv5Metrics.MeterName;

    public NodeId LocalId { get; }

    /// <summary>The local record (available after <see cref="StartAsync"/>).</summary>
    public Enr LocalEnr => _localEnr ?? throw new InvalidOperationException("call StartAsync first");

    /// <summary>The bound UDP endpoint (available after <see cref="StartAsync"/>).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint?)_socket?.LocalEndPoint ?? throw new InvalidOperationException("call StartAsync first");

    /// <summary>Effective SO_RCVBUF after start (Linux reports twice the requested size).</summary>
    public int EffectiveReceiveBufferSize => _socket?.ReceiveBufferSize ?? 0;

    public long PacketsReceived => Interlocked.Read(ref _received);
    public long PacketsProcessed => Interlocked.Read(ref _processed);
    public long PacketsSent => Interlocked.Read(ref _sent);
    public long SendErrors => Interlocked.Read(ref _sendErrors);
    /// <summary>Handshakes a remote started (we sent WHOAREYOU, it answered with a valid handshake).</summary>
    public long HandshakesInbound => Interlocked.Read(ref _handshakesIn);
    /// <summary>Handshakes we started (we answered a WHOAREYOU).</summary>
    public long HandshakesOutbound => Interlocked.Read(ref _handshakesOut);

    /// <summary>Dropped received packets by reason (kebab-case names). received = processed + sum of these.</summary>
    public IReadOnlyDictionary<string, long> DropCounts
    {
        get
        {
            var d = new Dictionary<string, long>();
            foreach (var r in Enum.GetValues<DropReason>())
                if (r != DropReason.None && Interlocked.Read(ref _drops[(int)r]) is long n and > 0) d[Kebab(r.ToString())] = n;
            return d;
        }
    }

    /// <summary>ENRs dropped from NODES responses, by reason.</summary>
    public IReadOnlyDictionary<string, long> RecordDropCounts
    {
        get
        {
            var d = new Dictionary<string, long>();
            foreach (var r in Enum.GetValues<RecordDropReason>())
                if (Interlocked.Read(ref _recordDrops[(int)r]) is long n and > 0) d[Kebab(r.ToString())] = n;
            return d;
        }
    }

    public int SessionCount { get { lock (_gate) return _sessions.Count; } }
    public int PendingRequestCount { get { lock (_gate) return _pending.Count; } }
    public int PendingChallengeCount { get { lock (_gate) return _challenges.Count; } }
    public int TableCount { get { lock (_gate) return _table.Count; } }

    /// <summary>A snapshot of the routing table.</summary>
    public IReadOnlyList<Enr> TableNodes() { lock (_gate) return _table.All(); }

    /// <summary>Nodes of the table bucket at a log distance.</summary>
    public IReadOnlyList<Enr> TableBucket(int distance) { lock (_gate) return _table.Bucket(distance); }

    /// <summary>Adds a record to the routing table without contacting it (as JS addEnr).</summary>
    public bool AddToTable(Enr enr)
    {
        lock (_gate)
        {
            Remember(enr);
            return _table.AddOrUpdate(enr, _time.GetTimestamp()) is TableResult.Added or TableResult.Updated;
        }
    }

    private static string Kebab(string s)
    {
        var sb = new System.Text.StringBuilder(s.Length + 8);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsUpper(s[i]) && i > 0) sb.Append('-');
            sb.Append(char.ToLowerInvariant(s[i]));
        }
        return sb.ToString();
    }

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_socket != null) throw new InvalidOperationException("already started");
        var ep = _options.BindEndPoint;
        var s = new Socket(ep.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (ep.AddressFamily == AddressFamily.InterNetworkV6 && ep.Address.Equals(IPAddress.IPv6Any)) s.DualMode = true;
        SetBuffer(s, _options.ReceiveBufferSize, receive: true);
        SetBuffer(s, _options.SendBufferSize, receive: false);
        s.Bind(ep);
        _socket = s;
        var bound = (IPEndPoint)s.LocalEndPoint!;
        var ip = _options.AdvertisedIp ?? (ep.Address.Equals(IPAddress.Any) || ep.Address.Equals(IPAddress.IPv6Any) ? null : ep.Address);
        _localEnr = BuildLocalEnr(_options.EnrSeq, ip, _options.AdvertisedUdpPort ?? bound.Port, _options.ExtraEnrEntries);
        lock (_gate)
        {
            foreach (var b in _options.Bootnodes) Remember(b);
        }
        _receiveLoop = Task.Run(ReceiveLoopAsync, CancellationToken.None);
        _housekeeping = _time.CreateTimer(_ => Housekeeping(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        if (_options.LivenessInterval > TimeSpan.Zero)
            _liveness = _time.CreateTimer(_ => _ = LivenessCheckAsync(), null, _options.LivenessInterval, _options.LivenessInterval);
        foreach (var b in _options.Bootnodes) _ = PingQuietlyAsync(b);
        LogStarted(_log, LocalId, bound, _localEnr.ToText());
        return Task.CompletedTask;
    }

    /// <summary>A background PING (bootnodes): establishes a session and tables the node when it answers.</summary>
    private async Task PingQuietlyAsync(Enr node)
    {
        try { await PingAsync(node, _cts.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
    }

    private Enr BuildLocalEnr(ulong seq, IPAddress? ip, int udp, IReadOnlyDictionary<string, byte[]> extra)
    {
        var b = new EnrBuilder().WithSeq(seq);
        foreach (var (k, v) in extra) b.With(k, v);
        if (ip != null)
        {
            b.WithIp(ip);
            if (ip.AddressFamily == AddressFamily.InterNetworkV6 && !ip.IsIPv4MappedToIPv6) b.WithUdp6(udp); else b.WithUdp(udp);
        }
        else b.WithUdp(udp);
        return b.Build(_privateKey);
    }

    /// <summary>Replaces extra entries of the local record and bumps its seq (e.g. a new eth2 fork digest).</summary>
    public Enr UpdateLocalEnr(IReadOnlyDictionary<string, byte[]> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        lock (_gate)
        {
            var b = EnrBuilder.From(LocalEnr).WithSeq(LocalEnr.Seq + 1);
            foreach (var (k, v) in entries) b.With(k, v);
            _localEnr = b.Build(_privateKey);
            return _localEnr;
        }
    }

    private static void SetBuffer(Socket s, int size, bool receive)
    {
        if (size <= 0) return;
        // Linux caps SO_RCVBUF at net.core.rmem_max; SO_RCVBUFFORCE (33) / SO_SNDBUFFORCE (32) bypass it when privileged.
        if (OperatingSystem.IsLinux())
        {
            try
            {
                s.SetRawSocketOption(1, receive ? 33 : 32, BitConverter.GetBytes(size));
                return;
            }
            catch (SocketException) { }
        }
        try
        {
            if (receive) s.ReceiveBufferSize = size; else s.SendBufferSize = size;
        }
        catch (SocketException) { }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[2048];
        var any = _socket!.AddressFamily == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
        var ct = _cts.Token;
        while (!ct.IsCancellationRequested)
        {
            SocketReceiveFromResult res;
            try
            {
                res = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { break; }
            catch (ObjectDisposedException) { break; }
            catch (SocketException e)
            {
                // ICMP port unreachable etc. surface here on some platforms; keep going.
                LogSocketError(_log, e.SocketErrorCode);
                continue;
            }
            var from = (IPEndPoint)res.RemoteEndPoint;
            if (from.Address.IsIPv4MappedToIPv6) from = new IPEndPoint(from.Address.MapToIPv4(), from.Port);
            HandlePacket(buffer.AsSpan(0, res.ReceivedBytes), from);
        }
    }

    /// <summary>Handles one datagram. Never throws; every packet ends as processed or as one counted drop.</summary>
    internal void HandlePacket(ReadOnlySpan<byte> packet, IPEndPoint from)
    {
        Interlocked.Increment(ref _received);
        Discv5Metrics.PacketsReceived.Add(1);
        DropReason outcome;
        try
        {
            lock (_gate)
            {
                if (_disposed) outcome = DropReason.InternalError;
                else outcome = HandleLocked(packet, from);
            }
        }
        catch (Exception e)
        {
            // A bug of ours, not the remote's: count it and keep serving.
            LogInternalError(_log, e, from);
            outcome = DropReason.InternalError;
        }
        if (outcome == DropReason.None)
        {
            Interlocked.Increment(ref _processed);
        }
        else
        {
            Interlocked.Increment(ref _drops[(int)outcome]);
            Discv5Metrics.PacketsDropped.Add(1, new KeyValuePair<string, object?>("reason", Kebab(outcome.ToString())));
            LogDrop(_log, outcome, from);
        }
    }

    private DropReason HandleLocked(ReadOnlySpan<byte> packet, IPEndPoint from)
    {
        if (!_codec.TryDecode(packet, out var view, out var perr))
        {
            return perr switch
            {
                PacketError.TooSmall => DropReason.TooSmall,
                PacketError.TooLarge => DropReason.TooLarge,
                _ => DropReason.BadHeader,
            };
        }
        return view.Flag switch
        {
            PacketFlag.Message => HandleMessagePacket(view, from),
            PacketFlag.WhoAreYou => HandleWhoAreYou(view, from),
            _ => HandleHandshake(view, from),
        };
    }

    private DropReason HandleMessagePacket(PacketView view, IPEndPoint from)
    {
        var addr = new NodeAddress(view.SourceId, from);
        int ptLen = view.Message.Length - PacketCodec.GcmTagSize;
        var pt = _plainBuffer.AsSpan(0, ptLen);
        if (_sessions.TryGetValue(addr, out var s))
        {
            bool ok = PacketCodec.TryDecrypt(s.ReadKey, view.Nonce, view.Message, view.Header, pt)
                || (s.Previous is { } prev && PacketCodec.TryDecrypt(prev.ReadKey, view.Nonce, view.Message, view.Header, pt));
            if (ok)
            {
                s.LastUsedTicks = _time.GetTimestamp();
                return HandleMessage(addr, s, pt);
            }
        }
        return SendWhoAreYou(addr, view.Nonce);
    }

    private DropReason SendWhoAreYou(NodeAddress addr, ReadOnlySpan<byte> nonce)
    {
        long now = _time.GetTimestamp();
        if (_challenges.TryGetValue(addr, out var existing) && _time.GetElapsedTime(existing.Created, now) < _options.ChallengeTimeout)
        {
            // PITFALLS 1: resend the same WHOAREYOU bytes, do not make a new challenge.
            Send(existing.Packet, addr.EndPoint);
            return DropReason.None;
        }
        if (!AllowWhoAreYou(addr.EndPoint.Address, now)) return DropReason.WhoAreYouRateLimited;
        if (_challenges.Count >= _options.MaxPendingChallenges)
        {
            PurgeChallenges(now);
            if (_challenges.Count >= _options.MaxPendingChallenges) return DropReason.ChallengesFull;
        }
        Span<byte> iv = stackalloc byte[16];
        Span<byte> idNonce = stackalloc byte[16];
        _random.Fill(iv);
        _random.Fill(idNonce);
        var known = KnownRecord(addr.Id);
        var challengeData = new byte[63];
        int n = PacketCodec.EncodeWhoAreYou(_sendBuffer, addr.Id, iv, nonce, idNonce, known?.Seq ?? 0, challengeData);
        var packet = _sendBuffer.AsSpan(0, n).ToArray();
        _challenges[addr] = new Challenge(challengeData, packet, now, known);
        Send(packet, addr.EndPoint);
        return DropReason.None;
    }

    private bool AllowWhoAreYou(IPAddress ip, long now)
    {
        long window = now / _time.TimestampFrequency;
        if (_whoAreYouRate.TryGetValue(ip, out var r) && r.Window == window)
        {
            if (r.Count >= _options.MaxWhoAreYouPerIpPerSecond) return false;
            _whoAreYouRate[ip] = (window, r.Count + 1);
            return true;
        }
        if (_whoAreYouRate.Count > 100_000) _whoAreYouRate.Clear();
        _whoAreYouRate[ip] = (window, 1);
        return true;
    }

    private DropReason HandleWhoAreYou(PacketView view, IPEndPoint from)
    {
        var nonce = Nonce96.From(view.Nonce);
        if (!_byNonce.TryGetValue(nonce, out var entry))
        {
            // a late challenge to a request given up: the request now opening a session with that node takes it
            if (!_givenUp.Remove(nonce, out var late) || !late.Address.EndPoint.Equals(from)
                || !_firstContacts.TryGetValue(late.Address, out var opening) || opening.Leader.Handshake is not null
                || _sessions.ContainsKey(late.Address))
                return DropReason.WhoAreYouUnsolicited;
            entry = (opening.Leader, false);
        }
        var req = entry.Request;
        if (!req.Address.EndPoint.Equals(from)) return DropReason.WhoAreYouWrongSender;
        if (entry.WasHandshake)
        {
            // PITFALLS 2: a WHOAREYOU in answer to our handshake means the remote rejected it; fail the request.
            FailRequest(req, RequestFailure.HandshakeRejected);
            return DropReason.WhoAreYouAfterHandshake;
        }
        // PITFALLS 1: the remote resends the same WHOAREYOU bytes for every packet it cannot read. Answering it again
        // would replace the session the remote is about to take with one it will never see.
        if (req.Handshake is { } done && view.Header.SequenceEqual(done.Challenge)
            && _sessions.TryGetValue(req.Address, out var current) && current == done.Session)
            return DropReason.WhoAreYouDuplicate;
        ulong remoteKnowsSeq = BinaryPrimitives.ReadUInt64BigEndian(view.AuthData[16..]);
        ReadOnlySpan<byte> challengeData = view.Header;
        Span<byte> eph = stackalloc byte[32];
        Secp256k1Ops.GeneratePrivateKey(_random, eph);
        Span<byte> ephParsed = stackalloc byte[64];
        Secp256k1Ops.TryCreatePublicKey(eph, ephParsed);
        Span<byte> ephPub = stackalloc byte[33];
        Secp256k1Ops.SerializeCompressed(ephParsed, ephPub);
        Span<byte> secret = stackalloc byte[33];
        if (!Secp256k1Ops.TryEcdh(req.Node.ParsedPublicKey, eph, secret)) return DropReason.WhoAreYouBadKey;
        Span<byte> ik = stackalloc byte[16];
        Span<byte> rk = stackalloc byte[16];
        HandshakeCrypto.DeriveKeys(secret, challengeData, LocalId, req.Address.Id, ik, rk);
        Span<byte> sig = stackalloc byte[64];
        if (!HandshakeCrypto.TrySignIdNonce(_privateKey, challengeData, ephPub, req.Address.Id, sig)) return DropReason.WhoAreYouBadKey;
        var session = new Session(ik, rk, req.Node) { LastUsedTicks = _time.GetTimestamp() };
        StoreSession(req.Address, session);
        var local = LocalEnr;
        // The spec sends the record when enr-seq < ours. We send it whenever enr-seq is not exactly ours:
        // @chainsafe/discv5 11 left-aligns enr-seq in the 8-byte field (encodeWhoAreYouAuthdata), so any seq it
        // knows reads as a huge number, and a peer that cached our record from an earlier run (same id, other port)
        // would never get the new one and drop the session as unverified.
        ReadOnlySpan<byte> record = remoteKnowsSeq != local.Seq ? local.Raw.Span : default;
        Span<byte> iv = stackalloc byte[16];
        _random.Fill(iv);
        Span<byte> n12 = stackalloc byte[12];
        session.NextNonce(n12, _random);
        int n = PacketCodec.EncodeHandshake(_sendBuffer, req.Address.Id, iv, n12, LocalId, sig, ephPub, record, session.WriteKey, req.Plaintext);
        _byNonce[Nonce96.From(n12)] = (req, true);
        req.Nonces.Add(Nonce96.From(n12));
        req.Handshake = (challengeData.ToArray(), session);
        Send(_sendBuffer.AsSpan(0, n), from);
        Interlocked.Increment(ref _handshakesOut);
        Discv5Metrics.Handshakes.Add(1, new KeyValuePair<string, object?>("direction", "outbound"));
        // the requests that waited for this handshake follow it, under the new session
        if (_firstContacts.Remove(req.Address, out var first))
            foreach (var w in first.Waiting)
                if (_pending.TryGetValue(w.Message.RequestId.Value, out var p) && p == w) SendRequestPacket(w, countAttempt: false);
        return DropReason.None;
    }

    private DropReason HandleHandshake(PacketView view, IPEndPoint from)
    {
        var auth = new HandshakeAuthData(view.AuthData);
        var addr = new NodeAddress(auth.SourceId, from);
        if (!_challenges.Remove(addr, out var ch)) return DropReason.HandshakeNoChallenge;
        Enr? remote;
        if (!auth.Record.IsEmpty)
        {
            if (!TryDecodeRecord(auth.Record, out remote)) return DropReason.HandshakeBadRecord;
            // PITFALLS 4: the record's node id must be the sender's before we use or store it.
            if (remote!.NodeId != auth.SourceId) return DropReason.HandshakeRecordWrongId;
            if (ch.Known is { } k && k.Seq > remote.Seq) remote = k;
        }
        else
        {
            remote = ch.Known ?? KnownRecord(auth.SourceId);
            if (remote is null) return DropReason.HandshakeUnknownNode;
        }
        if (!HandshakeCrypto.VerifyIdNonce(remote.ParsedPublicKey, ch.ChallengeData, auth.EphemeralPublicKey, LocalId, auth.IdSignature))
            return DropReason.HandshakeBadSignature;
        Span<byte> ephParsed = stackalloc byte[64];
        if (!Secp256k1Ops.TryParsePublicKey(auth.EphemeralPublicKey, ephParsed)) return DropReason.HandshakeBadEphemeralKey;
        Span<byte> secret = stackalloc byte[33];
        if (!Secp256k1Ops.TryEcdh(ephParsed, _privateKey, secret)) return DropReason.HandshakeBadEphemeralKey;
        Span<byte> ik = stackalloc byte[16];
        Span<byte> rk = stackalloc byte[16];
        HandshakeCrypto.DeriveKeys(secret, ch.ChallengeData, auth.SourceId, LocalId, ik, rk);
        var session = new Session(rk, ik, remote) { LastUsedTicks = _time.GetTimestamp() };
        var pt = _plainBuffer.AsSpan(0, view.Message.Length - PacketCodec.GcmTagSize);
        if (!PacketCodec.TryDecrypt(session.ReadKey, view.Nonce, view.Message, view.Header, pt))
        {
            session.Dispose();
            return DropReason.HandshakeDecryptFailed;
        }
        StoreSession(addr, session);
        Remember(remote);
        Interlocked.Increment(ref _handshakesIn);
        Discv5Metrics.Handshakes.Add(1, new KeyValuePair<string, object?>("direction", "inbound"));
        // PITFALLS 5: only a record whose UDP endpoint is where the packet came from goes into the table.
        if (from.Equals(EndpointFor(remote)) && _options.ContactFilter(remote)) _table.AddOrUpdate(remote, _time.GetTimestamp());
        return HandleMessage(addr, session, pt);
    }

    private void StoreSession(NodeAddress addr, Session session)
    {
        if (_sessions.TryGetValue(addr, out var old))
        {
            // PITFALLS 2: keep the previous keys for packets already in flight.
            old.Previous?.Dispose();
            old.Previous = null;
            session.Previous = old;
        }
        else if (_sessions.Count >= _options.MaxSessions)
        {
            EvictSessions();
        }
        _sessions[addr] = session;
    }

    private void EvictSessions()
    {
        var list = new List<KeyValuePair<NodeAddress, Session>>(_sessions);
        list.Sort((a, b) => a.Value.LastUsedTicks.CompareTo(b.Value.LastUsedTicks));
        int remove = Math.Max(1, list.Count / 10);
        for (int i = 0; i < remove; i++)
        {
            _sessions.Remove(list[i].Key);
            list[i].Value.Previous?.Dispose();
            list[i].Value.Dispose();
        }
    }

    /// <summary>Decodes and verifies a record, reusing an earlier verification of the same bytes.</summary>
    private bool TryDecodeRecord(ReadOnlySpan<byte> raw, out Enr? enr)
    {
        ulong h = Fnv64(raw);
        if (_verified.TryGetValue(h, out var cached) && cached.Raw.Span.SequenceEqual(raw)) { enr = cached; return true; }
        if (!Enr.TryDecode(raw, out enr, out _)) return false;
        if (_verified.Count >= MaxVerifiedCache) _verified.Clear();
        _verified[h] = enr!;
        return true;
    }

    private static ulong Fnv64(ReadOnlySpan<byte> data)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in data) h = (h ^ b) * 1099511628211UL;
        return h;
    }

    /// <summary>The UDP endpoint of a record this socket can reach (IPv4 socket: ip/udp; IPv6 socket: ip6/udp6, or ip/udp when dual-mode).</summary>
    private IPEndPoint? EndpointFor(Enr enr)
    {
        var s = _socket;
        if (s is null) return enr.UdpEndPoint;
        if (s.AddressFamily == AddressFamily.InterNetwork)
            return enr.Ip is not null && enr.Udp is int u && u > 0 ? new IPEndPoint(enr.Ip, u) : null;
        if (enr.Ip6 is not null && enr.Udp6 is int u6 && u6 > 0) return new IPEndPoint(enr.Ip6, u6);
        return s.DualMode && enr.Ip is not null && enr.Udp is int u4 && u4 > 0 ? new IPEndPoint(enr.Ip, u4) : null;
    }

    private Enr? KnownRecord(NodeId id) => _known.TryGetValue(id, out var e) ? e : _table.Get(id);

    private void Remember(Enr enr)
    {
        if (_known.TryGetValue(enr.NodeId, out var old) && old.Seq >= enr.Seq) return;
        if (_known.Count >= _options.MaxKnownRecords && !_known.ContainsKey(enr.NodeId))
        {
            // bounded: drop an arbitrary eighth
            int drop = _known.Count / 8;
            foreach (var k in _known.Keys.Take(drop).ToArray()) _known.Remove(k);
        }
        _known[enr.NodeId] = enr;
    }

    /// <summary>The most recent record known for a node id (table, handshakes, responses), or null.</summary>
    public Enr? GetKnownRecord(NodeId id) { lock (_gate) return KnownRecord(id); }

    private void Send(ReadOnlySpan<byte> packet, IPEndPoint to)
    {
        try
        {
            _socket!.SendTo(packet, SocketFlags.None, to);
            Interlocked.Increment(ref _sent);
            Discv5Metrics.PacketsSent.Add(1);
        }
        catch (SocketException e)
        {
            Interlocked.Increment(ref _sendErrors);
            LogSendError(_log, to, e.SocketErrorCode);
        }
        catch (ObjectDisposedException) { }
    }

    /// <summary>Encrypts and sends a message over an established session.</summary>
    private void SendMessage(NodeAddress addr, Session s, Discv5Message m)
    {
        Span<byte> pt = stackalloc byte[PacketCodec.MaxPacketSize];
        int len = MessageCodec.Encode(m, pt);
        Span<byte> iv = stackalloc byte[16];
        _random.Fill(iv);
        Span<byte> nonce = stackalloc byte[12];
        s.NextNonce(nonce, _random);
        int n = PacketCodec.EncodeMessage(_sendBuffer, addr.Id, iv, nonce, LocalId, s.WriteKey, pt[..len]);
        Send(_sendBuffer.AsSpan(0, n), addr.EndPoint);
    }

    private void Housekeeping()
    {
        try
        {
            lock (_gate)
            {
                if (_disposed) return;
                long now = _time.GetTimestamp();
                PurgeChallenges(now);
                if (_givenUp.Count > 0)
                    foreach (var k in _givenUp.Where(kv => _time.GetElapsedTime(kv.Value.At, now) > GivenUpLifetime).Select(kv => kv.Key).ToArray()) _givenUp.Remove(k);
                if (_whoAreYouRate.Count > 0)
                {
                    long window = now / _time.TimestampFrequency;
                    foreach (var ip in _whoAreYouRate.Where(kv => kv.Value.Window < window).Select(kv => kv.Key).ToArray()) _whoAreYouRate.Remove(ip);
                }
            }
        }
        catch (Exception e)
        {
            LogInternalError(_log, e, null);
        }
    }

    private void PurgeChallenges(long now)
    {
        List<NodeAddress>? expired = null;
        foreach (var (k, c) in _challenges)
            if (_time.GetElapsedTime(c.Created, now) >= _options.ChallengeTimeout) (expired ??= []).Add(k);
        if (expired != null) foreach (var k in expired) _challenges.Remove(k);
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        await _cts.CancelAsync().ConfigureAwait(false);
        _housekeeping?.Dispose();
        _liveness?.Dispose();
        _socket?.Dispose();
        if (_receiveLoop != null)
        {
            try { await _receiveLoop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        PendingRequest[] pending;
        lock (_gate)
        {
            pending = [.. _pending.Values];
            foreach (var s in _sessions.Values) { s.Previous?.Dispose(); s.Dispose(); }
            _sessions.Clear();
        }
        foreach (var p in pending) { lock (_gate) FailRequest(p, RequestFailure.Disposed); }
        _codec.Dispose();
        _cts.Dispose();
    }

    private sealed record Challenge(byte[] ChallengeData, byte[] Packet, long Created, Enr? Known);

    [LoggerMessage(Level = LogLevel.Information, Message = "discv5 node {NodeId} listening on {EndPoint}, record {Enr}")]
    private static partial void LogStarted(ILogger logger, NodeId nodeId, IPEndPoint endPoint, string enr);

    [LoggerMessage(Level = LogLevel.Debug, Message = "dropped packet from {From}: {Reason}")]
    private static partial void LogDrop(ILogger logger, DropReason reason, IPEndPoint from);

    [LoggerMessage(Level = LogLevel.Error, Message = "internal error handling a packet from {From}")]
    private static partial void LogInternalError(ILogger logger, Exception e, IPEndPoint? from);

    [LoggerMessage(Level = LogLevel.Debug, Message = "socket receive error {Error}")]
    private static partial void LogSocketError(ILogger logger, SocketError error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "send to {To} failed: {Error}")]
    private static partial void LogSendError(ILogger logger, IPEndPoint to, SocketError error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "dropped record from {From} in NODES: {Reason}")]
    private static partial void LogRecordDrop(ILogger logger, RecordDropReason reason, NodeId from);
}

/// <summary>A 12-byte packet nonce as a dictionary key.</summary>
internal readonly record struct Nonce96(ulong Hi, uint Lo)
{
    public static Nonce96 From(ReadOnlySpan<byte> n) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(n), BinaryPrimitives.ReadUInt32BigEndian(n[8..]));
}
