using System.Buffers;
using System.Net;
using System.Threading.Channels;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Packets;
using ClP2p.Discovery.Sessions;
using ClP2p.Discovery.Transport;
using Microsoft.Extensions.Logging;

namespace ClP2p.Discovery.Handler;

/// <summary>
/// The handler layer, one shard of it: packet codec, sessions, challenges and our requests (by nonce and by request
/// id) for the remotes whose UDP endpoint hashes to this shard. Everything about one remote endpoint lives in one
/// shard and is touched only by that shard's loop, so the shards need no lock between them and their crypto (ECDH,
/// signatures, AES-GCM, record verification) runs on as many cores as there are shards. Work arrives on one channel:
/// datagrams from the socket, and requests, timeouts and cancellations from the node's API and its timers; one
/// runner at a time drains it (see <see cref="RunIfIdle"/>).
/// </summary>
internal sealed partial class HandlerShard
{
    private readonly HandlerContext _ctx;
    // Not SingleReader: one runner at a time takes items (RunIfIdle). When a runner that had let go peeked at the queue
    // while the next runner was already reading it, a single-reader channel's peek refreshed the reader's own copy of
    // where the written items end behind that reader, which then took slots not yet written: a crawl's shard took empty
    // items (a packet without its buffer, "Value cannot be null ... ArrayPool.Return"), lost the real ones, and the
    // crawl stalled to its deadline (seen once, docs/performance.md "The crawler as a batch job"). Runners no longer
    // peek: whether work waits is read from _queuedItems, because a peek also marks the multi-reader queue's current
    // segment as observed, and an observed segment's slots are not used again once read, so every item took a new
    // slot and the queue a new, twice larger segment each time one filled (19 MB of a crawl's allocations,
    // docs/performance.md "The handler's queue"). Only the stop peeks, once nothing can be written.
    private readonly Channel<ShardItem> _inbox = Channel.CreateUnbounded<ShardItem>(new UnboundedChannelOptions { SingleReader = false });
    private readonly PacketCodec _codec;
    private readonly int _maxSessions;
    private readonly int _maxQueuedPackets;
    private readonly Dictionary<NodeAddress, Session> _sessions = [];
    // sessions whose handshake went unanswered within its timeout, kept a while: the remote may have taken the
    // handshake and answered late, under these keys (see SetAsideSession)
    private readonly Dictionary<NodeAddress, (Session Session, long At)> _setAside = [];
    private readonly Dictionary<NodeAddress, Challenge> _challenges = [];
    // discv5-theory.md "Handshake Implementation Considerations": one request at a time opens a session with a node,
    // the others wait for its handshake and are re-sent under the new keys (as geth and sigp do)
    private readonly Dictionary<NodeAddress, FirstContact> _firstContacts = [];
    // each packet's nonce: its request, whether it was our handshake, and the session it was sealed under (null: a
    // first contact's random packet, or a handshake)
    private readonly Dictionary<Nonce96, (PendingRequest Request, bool WasHandshake, Session? Under)> _byNonce = [];
    // keyed by the numeric request id: some stacks (ChainSafe) re-encode ids minimally, dropping leading zero bytes
    private readonly Dictionary<ulong, PendingRequest> _pending = [];
    // timed-out requests in their grace window, by what they asked, to be taken up by the next identical request
    private readonly Dictionary<(NodeAddress, string), PendingRequest> _expired = [];
    // nonces of the random packets of first contacts that timed out: a slow node's WHOAREYOU to one of them (or its
    // repeat of that challenge, which carries the first packet's nonce) opens the session for the request now opening
    // one with that node, instead of being dropped as unsolicited. Likewise the packets of timed-out requests sealed
    // under the session still in use (Under): a WHOAREYOU to one of them says the remote does not hold that session,
    // and a request still waiting for that node takes it.
    private readonly RecentNonces<(NodeAddress Address, Session? Under)> _givenUp;
    // nonces of the packets (not handshakes) of every request that ended, kept as long as the given-up ones: a remote
    // that cannot read our packets repeats its pending challenge to each of them, and that challenge may name a packet
    // of a request that ended otherwise than as kept above (see RepeatedChallengeCarrier)
    private readonly RecentNonces<NodeAddress> _ended;

    /// <summary>Nonces of ended requests' packets kept (see RepeatedChallengeCarrier); for tests.</summary>
    internal int EndedNonceCount => _ended.Count;
    // the last such challenge dropped per remote, to tell its repeat
    private readonly Dictionary<NodeAddress, byte[]> _unansweredChallenges = [];
    // our requests' timeouts, one timer for all (see ArmTimer): a timer per request cost the runtime's timer queue a
    // walk over thousands of them on every tick of a crawl. The queue holds timeout ids by deadline (in
    // Time.GetTimestamp() ticks); _armed the requests of the ids still live, so that an answered request is let go at
    // once, not kept until its deadline (a second more of life for every request would take it out of gen 0)
    private readonly PriorityQueue<long, long> _deadlines = new();
    private readonly Dictionary<long, PendingRequest> _armed = [];
    private readonly List<long> _due = [];
    private long _lastTimeoutId;
    private readonly ITimer _deadlineTimer;
    // the deadline _deadlineTimer is armed for, NotArmed or InPass
    private long _armedFor = NotArmed;
    // 1 while a DeadlinesDue item waits in the inbox (set by the timer, cleared by the pass), and when the timer fired
    private int _deadlinesQueued;
    private long _deadlinesFiredAt;
    private readonly byte[] _sendBuffer = new byte[PacketCodec.MaxPacketSize];
    // what the runner sends during a batch of work, sent together when the batch ends (see Drain)
    private readonly Discv5Socket.SendBatch _sends;
    private readonly byte[] _plainBuffer = new byte[PacketCodec.MaxPacketSize];
    private int _queuedPackets;
    // items written to _inbox and not yet read: counted up after the write, so it may lag a write in progress, whose
    // writer then runs the shard itself (RunIfIdle)
    private int _queuedItems;
    private volatile bool _stopping;
    private int _running;

    public HandlerShard(HandlerContext ctx, int maxSessions, int maxQueuedPackets)
    {
        _ctx = ctx;
        _codec = new PacketCodec(ctx.LocalId);
        _sends = ctx.Socket.CreateSendBatch();
        _outcomes = new OutcomeBatch(this);
        _maxSessions = maxSessions;
        _maxQueuedPackets = maxQueuedPackets;
        _givenUp = new(ctx.Options.MaxGivenUpNonces);
        _ended = new(ctx.Options.MaxGivenUpNonces);
        _deadlineTimer = ctx.Time.CreateTimer(static s => ((HandlerShard)s!).OnDeadlineTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Datagrams queued, not yet handled.</summary>
    public int QueuedPackets => Volatile.Read(ref _queuedPackets);

    /// <summary>No thread is running this shard's loop (tests: the next post runs it on the posting thread).</summary>
    internal bool IsIdle => Volatile.Read(ref _running) == 0;

    private Discv5Options Options => _ctx.Options;
    private TimeProvider Time => _ctx.Time;
    private Discv5Counters Counters => _ctx.Counters;

    /// <summary>Items one runner handles before it hands the rest of the queue to the thread pool (so a busy shard
    /// does not keep a receive loop or an API caller from its own work for long).</summary>
    private const int MaxBatch = 64;

    /// <summary>
    /// Whether a datagram of <paramref name="length"/> bytes is queued when it would be the <paramref name="queued"/>th
    /// waiting: up to <paramref name="bound"/>, and a challenge (a WHOAREYOU is exactly 63 bytes, discv5-wire.md "WHOAREYOU
    /// Packet Encoding"; any other packet is longer) up to a quarter more. A challenge is the gate to a session: one
    /// dropped costs its request a whole timeout, and a node whose challenges are all dropped in both passes is never
    /// enumerated. They are few (one per new session) and small; the reserve is bounded like the rest.
    /// </summary>
    internal static bool Admits(int queued, int length, int bound) =>
        queued <= bound || (length == PacketCodec.WhoAreYouSize && queued <= bound + Math.Max(1, bound / 4));

    /// <summary>Queues a received datagram; false (and the caller counts a drop) when the shard is behind by too many.</summary>
    public bool TryPostPacket(byte[] buffer, int length, IPEndPoint from)
    {
        int queued = Interlocked.Increment(ref _queuedPackets);
        if (!Admits(queued, length, _maxQueuedPackets) || _stopping)
        {
            Interlocked.Decrement(ref _queuedPackets);
            return false;
        }
        if (queued > _maxQueuedPackets) Interlocked.Increment(ref Counters.ChallengesOverBound);
        if (!_inbox.Writer.TryWrite(ShardItem.Packet(buffer, length, from)))
        {
            Interlocked.Decrement(ref _queuedPackets);
            return false;
        }
        Interlocked.Increment(ref _queuedItems);
        RunIfIdle();
        return true;
    }

    public bool TryPost(ShardItem item)
    {
        if (!_inbox.Writer.TryWrite(item)) return false;
        Interlocked.Increment(ref _queuedItems);
        // while this thread hands a batch of this shard's outcomes to their callers, what they post waits for the end of
        // the batch, to be handled (and its datagrams sent) together (see FlushOutcomes)
        if (t_delivering != this) RunIfIdle();
        return true;
    }

    // the shard whose outcomes this thread is handing to their callers (see FlushOutcomes)
    [ThreadStatic]
    private static HandlerShard? t_delivering;

    /// <summary>
    /// Every item goes through the channel, and one runner at a time drains it. The thread that posts becomes the
    /// runner when the shard is idle (a receive loop, an API caller, a timer), so an idle shard costs no thread
    /// hand-off, which on a loaded machine would be a scheduling delay per packet; while a shard is busy, posts only
    /// queue and the runner takes them. Shards run on different threads at once: that is where the cores come in.
    /// </summary>
    private void RunIfIdle()
    {
        while (Interlocked.CompareExchange(ref _running, 1, 0) == 0)
        {
            if (!Drain())
            {
                // more than a batch waits: the thread pool carries on, this thread goes back to its own work
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.ContinueDraining(), this, preferLocal: false);
                return;
            }
            Volatile.Write(ref _running, 0);
            if (!WorkQueued) return;
        }
    }

    /// <summary>Work waits in the queue (see <see cref="_queuedItems"/>).</summary>
    private bool WorkQueued => Volatile.Read(ref _queuedItems) > 0;

    private void ContinueDraining()
    {
        // _running is still 1: this thread is the runner
        while (true)
        {
            if (!Drain())
            {
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.ContinueDraining(), this, preferLocal: false);
                return;
            }
            Volatile.Write(ref _running, 0);
            if (!WorkQueued || Interlocked.CompareExchange(ref _running, 1, 0) != 0) return;
        }
    }

    /// <summary>Handles up to a batch of queued items, then hands the requests' outcomes it made to their callers;
    /// true when the queue ran empty.</summary>
    private bool Drain()
    {
        var reader = _inbox.Reader;
        try
        {
            for (int i = 0; i < MaxBatch; i++)
            {
                if (!reader.TryRead(out var item)) return true;
                Interlocked.Decrement(ref _queuedItems);
                try
                {
                    Process(item);
                }
                catch (Exception e)
                {
                    // a bug of ours, not the remote's (packets are counted in HandlePacket): log and keep serving
                    LogInternalError(_ctx.Log, e, item.Kind);
                }
            }
            return !WorkQueued;
        }
        finally
        {
            _sends.Flush();
            FlushOutcomes();
        }
    }

    // outcomes of requests made by the current runner, not yet handed to their callers (the runner's thread only)
    private OutcomeBatch _outcomes;

    /// <summary>On the shard's loop: a request's outcome, for <see cref="FlushOutcomes"/>.</summary>
    internal void QueueOutcome(PendingRequest request) => _outcomes.Add(request);

    /// <summary>
    /// Hands the outcomes queued by this batch of work to their callers, all in one thread-pool work item, where each
    /// caller's continuation runs in turn (the callers' own work — a crawl's next request, its records — stays off the
    /// shard's loop, which is often the socket's receive thread). One work item per batch instead of one per answer,
    /// each of which could wake a sleeping pool worker (docs/performance.md, "Fewer thread-pool work items").
    /// </summary>
    /// <remarks>The callers' next requests (a crawl asks for the next distance when an answer is complete) are posted
    /// while the batch is handed on, and handled in one pass of the shard after it, so that their datagrams leave in
    /// one system call (<see cref="Discv5Socket.SendBatch"/>) rather than one each.</remarks>
    internal void FlushOutcomes()
    {
        if (_outcomes.Count == 0) return;
        var batch = _outcomes;
        _outcomes = new OutcomeBatch(this);
        ThreadPool.UnsafeQueueUserWorkItem(static b =>
        {
            var outer = t_delivering;
            t_delivering = b.Shard;
            try
            {
                foreach (var r in b) r.DeliverOutcome();
            }
            finally
            {
                t_delivering = outer;
            }
            b.Shard.RunIfIdle();
        }, batch, preferLocal: false);
    }

    /// <summary>Outcomes handed on together, and the shard they came from.</summary>
    private sealed class OutcomeBatch(HandlerShard shard) : List<PendingRequest>
    {
        public HandlerShard Shard { get; } = shard;
    }

    /// <summary>Queues a datagram for the end of the runner's batch of work (<see cref="Drain"/> sends them together).</summary>
    private void Send(ReadOnlySpan<byte> packet, IPEndPoint to) => _sends.Add(packet, to);

    /// <summary>Stops the shard: what is queued is handled (requests fail as <see cref="RequestFailure.Disposed"/>,
    /// packets are dropped uncounted), sessions are disposed.</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        _inbox.Writer.TryComplete();
        while (Interlocked.CompareExchange(ref _running, 1, 0) != 0) await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
        // drain everything: nothing new can be queued once the writer is complete (a peek here, where the count may lag
        // a write that was completing)
        while (!Drain() || _inbox.Reader.TryPeek(out _))
        {
        }
        Shutdown();
        FlushOutcomes();
    }

    private void Process(in ShardItem item)
    {
        switch (item.Kind)
        {
            case ShardItemKind.Packet:
                Interlocked.Decrement(ref _queuedPackets);
                try
                {
                    if (!_stopping) HandlePacket(item.Buffer.AsSpan(0, item.Length), item.From!);
                }
                finally
                {
                    Transport.Discv5Socket.Buffers.Return(item.Buffer!);
                }
                break;
            case ShardItemKind.StartRequest:
                StartRequest(item.Request!);
                break;
            case ShardItemKind.DeadlinesDue:
                TimeOutDueRequests();
                break;
            case ShardItemKind.CancelRequest:
                if (item.Request!.State is RequestState.Live or RequestState.New) Finish(item.Request, RequestFailure.Disposed, countOutcome: "cancelled");
                break;
            case ShardItemKind.CancelGroups:
                CancelGroupRequests();
                break;
            case ShardItemKind.Housekeeping:
                Housekeeping();
                break;
        }
    }

    /// <summary>Handles one datagram. Never throws; every packet ends as processed or as one counted drop.</summary>
    private void HandlePacket(ReadOnlySpan<byte> packet, IPEndPoint from)
    {
        DropReason outcome;
        try
        {
            outcome = Dispatch(packet, from);
        }
        catch (Exception e)
        {
            // a bug of ours, not the remote's: count it and keep serving
            LogPacketError(_ctx.Log, e, from);
            outcome = DropReason.InternalError;
        }
        Counters.Handled(outcome, from);
    }

    private DropReason Dispatch(ReadOnlySpan<byte> packet, IPEndPoint from)
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
        var plaintext = _plainBuffer.AsSpan(0, view.Message.Length - PacketCodec.GcmTagSize);
        if (_sessions.TryGetValue(addr, out var s))
        {
            bool ok = PacketCodec.TryDecrypt(s.ReadKey, view.Nonce, view.Message, view.Header, plaintext)
                || (s.Previous is { } prev && PacketCodec.TryDecrypt(prev.ReadKey, view.Nonce, view.Message, view.Header, plaintext));
            if (ok)
            {
                s.LastUsedTicks = Time.GetTimestamp();
                _ctx.Service.Responded(addr.Id, s);
                return HandleMessage(addr, s, plaintext);
            }
        }
        if (_setAside.Remove(addr, out var aside))
        {
            if (PacketCodec.TryDecrypt(aside.Session.ReadKey, view.Nonce, view.Message, view.Header, plaintext))
            {
                // the remote took the handshake we gave up on: its keys are the ones it holds
                aside.Session.LastUsedTicks = Time.GetTimestamp();
                StoreSession(addr, aside.Session);
                _ctx.Service.Responded(addr.Id);
                return HandleMessage(addr, aside.Session, plaintext);
            }
            _setAside[addr] = aside;
        }
        // discv5-theory.md "Sessions": a packet we cannot decrypt (no session, or stale keys) gets a WHOAREYOU
        return SendWhoAreYou(addr, view.Nonce);
    }

    private DropReason SendWhoAreYou(NodeAddress addr, ReadOnlySpan<byte> nonce)
    {
        long now = Time.GetTimestamp();
        if (_challenges.TryGetValue(addr, out var existing))
        {
            if (Time.GetElapsedTime(existing.Created, now) < Options.ChallengeTimeout)
            {
                // discv5-theory.md "Handshake Implementation Considerations": while a challenge is pending, every
                // packet the remote sends is answered with the same WHOAREYOU bytes, not a new challenge; a new one
                // would invalidate the handshake the remote is already building from the first
                Send(existing.Packet, addr.EndPoint);
                return DropReason.None;
            }
            RemoveChallenge(addr);
        }
        if (!_ctx.WhoAreYouLimiter.Allow(addr.EndPoint.Address, now)) return DropReason.WhoAreYouRateLimited;
        if (!ReserveChallenge(now)) return DropReason.ChallengesFull;
        Span<byte> maskingIv = stackalloc byte[16];
        Span<byte> idNonce = stackalloc byte[16];
        _ctx.Random.Fill(maskingIv);
        _ctx.Random.Fill(idNonce);
        var known = _ctx.Service.KnownRecord(addr.Id);
        var challengeData = new byte[63];
        int n = PacketCodec.EncodeWhoAreYou(_sendBuffer, addr.Id, maskingIv, nonce, idNonce, known?.Seq ?? 0, challengeData);
        var packet = _sendBuffer.AsSpan(0, n).ToArray();
        _challenges[addr] = new Challenge(challengeData, packet, now, known);
        Send(packet, addr.EndPoint);
        return DropReason.None;
    }

    /// <summary>Takes one of the node-wide <see cref="Discv5Options.MaxPendingChallenges"/> slots (shards share the bound).</summary>
    private bool ReserveChallenge(long now)
    {
        if (Interlocked.Increment(ref Counters.Challenges) <= Options.MaxPendingChallenges) return true;
        Interlocked.Decrement(ref Counters.Challenges);
        PurgeChallenges(now);
        if (Interlocked.Increment(ref Counters.Challenges) <= Options.MaxPendingChallenges) return true;
        Interlocked.Decrement(ref Counters.Challenges);
        return false;
    }

    private bool RemoveChallenge(NodeAddress addr, out Challenge? challenge)
    {
        if (!_challenges.Remove(addr, out challenge)) return false;
        Interlocked.Decrement(ref Counters.Challenges);
        return true;
    }

    private void RemoveChallenge(NodeAddress addr) => RemoveChallenge(addr, out _);

    private void PurgeChallenges(long now)
    {
        List<NodeAddress>? expired = null;
        foreach (var (k, c) in _challenges)
            if (Time.GetElapsedTime(c.Created, now) >= Options.ChallengeTimeout) (expired ??= []).Add(k);
        if (expired != null) foreach (var k in expired) RemoveChallenge(k);
    }

    private void StoreSession(NodeAddress addr, Session session)
    {
        if (_sessions.TryGetValue(addr, out var old))
        {
            // discv5-theory.md "Handshake Implementation Considerations" (sigp keeps old_keys too): packets sealed
            // with the keys this session replaces may still be in flight; keep those for reading, one generation back
            old.Previous?.Dispose();
            old.Previous = null;
            session.Previous = old;
            _sessions[addr] = session;
            return;
        }
        if (_sessions.Count >= _maxSessions) EvictSessions();
        _sessions[addr] = session;
        Interlocked.Increment(ref Counters.Sessions);
    }

    /// <summary>
    /// Takes the session with <paramref name="addr"/> out of use after its handshake went unanswered: the next attempt
    /// starts over without it, in case the handshake was lost. It stays readable for
    /// <see cref="Discv5Options.LateAnswerGrace"/>: when the handshake was only answered late (a slow remote, a stalled
    /// process), the remote holds these keys, and its first packet under them brings the session back.
    /// </summary>
    private void SetAsideSession(NodeAddress addr)
    {
        if (!_sessions.Remove(addr, out var s)) return;
        Interlocked.Decrement(ref Counters.Sessions);
        s.Previous?.Dispose();
        s.Previous = null;
        if (_setAside.Remove(addr, out var older)) older.Session.Dispose();
        if (_setAside.Count >= _maxSessions || Options.LateAnswerGrace <= TimeSpan.Zero)
        {
            s.Dispose();
            return;
        }
        _setAside[addr] = (s, Time.GetTimestamp());
    }

    private void PurgeSetAside(long now)
    {
        if (_setAside.Count == 0) return;
        List<NodeAddress>? gone = null;
        foreach (var (a, e) in _setAside)
            if (Time.GetElapsedTime(e.At, now) > Options.LateAnswerGrace) (gone ??= []).Add(a);
        if (gone is null) return;
        foreach (var a in gone)
            if (_setAside.Remove(a, out var e)) e.Session.Dispose();
    }

    private void RemoveSession(NodeAddress addr)
    {
        if (!_sessions.Remove(addr, out var s)) return;
        Interlocked.Decrement(ref Counters.Sessions);
        s.Previous?.Dispose();
        s.Dispose();
    }

    /// <summary>Drops the least recently used tenth of this shard's sessions (at least one).</summary>
    private void EvictSessions()
    {
        var list = new List<KeyValuePair<NodeAddress, Session>>(_sessions);
        list.Sort((a, b) => a.Value.LastUsedTicks.CompareTo(b.Value.LastUsedTicks));
        int remove = Math.Max(1, list.Count / 10);
        for (int i = 0; i < remove; i++) RemoveSession(list[i].Key);
    }

    /// <summary>Encrypts and sends a message over an established session.</summary>
    private void SendMessage(NodeAddress addr, Session s, Discv5Message m)
    {
        Span<byte> plaintext = stackalloc byte[PacketCodec.MaxPacketSize];
        int len = MessageCodec.Encode(m, plaintext);
        Span<byte> maskingIv = stackalloc byte[16];
        _ctx.Random.Fill(maskingIv);
        Span<byte> messageNonce = stackalloc byte[12];
        s.NextNonce(messageNonce, _ctx.Random);
        int n = PacketCodec.EncodeMessage(_sendBuffer, addr.Id, maskingIv, messageNonce, _ctx.LocalId, s.WriteKey, plaintext[..len]);
        Send(_sendBuffer.AsSpan(0, n), addr.EndPoint);
    }

    private void Housekeeping()
    {
        long now = Time.GetTimestamp();
        PurgeChallenges(now);
        PurgeExpiredRequests(now);
        PurgeGivenUp(now);
        PurgeSetAside(now);
        PurgeDropped(now);
    }

    // when a datagram from each endpoint was last dropped over the bound (see NoteDropped); written by the receive
    // loops, read by this shard's runner
    private readonly Dictionary<IPEndPoint, long> _droppedAt = [];
    private readonly Lock _droppedGate = new();
    /// <summary>Endpoints remembered in _droppedAt at most: a flood from many addresses is what overloads a shard, and
    /// what is not remembered only costs its request the retry.</summary>
    internal const int MaxDroppedEndpoints = 65_536;
    /// <summary>How long a drop is remembered: longer than any attempt waits (the second pass's 8 s, put off by up to
    /// <see cref="Discv5Options.MaxTimeoutDeferral"/>).</summary>
    private static readonly TimeSpan DroppedLifetime = TimeSpan.FromSeconds(60);

    /// <summary>A datagram from <paramref name="from"/> was dropped because this shard was behind by too many (called by
    /// the receive loop that dropped it).</summary>
    public void NoteDropped(IPEndPoint from)
    {
        if (Options.MaxRetriesAfterDrops <= 0) return;
        long now = Time.GetTimestamp();
        lock (_droppedGate)
        {
            if (_droppedAt.Count < MaxDroppedEndpoints || _droppedAt.ContainsKey(from)) _droppedAt[from] = now;
        }
    }

    /// <summary>Whether a datagram from <paramref name="from"/> was dropped over the bound at or after <paramref name="since"/>.</summary>
    private bool DroppedSince(IPEndPoint from, long since)
    {
        lock (_droppedGate) return _droppedAt.TryGetValue(from, out long at) && at >= since;
    }

    private void PurgeDropped(long now)
    {
        lock (_droppedGate)
        {
            if (_droppedAt.Count == 0) return;
            List<IPEndPoint>? gone = null;
            foreach (var (ep, at) in _droppedAt)
                if (Time.GetElapsedTime(at, now) > DroppedLifetime) (gone ??= []).Add(ep);
            if (gone != null) foreach (var ep in gone) _droppedAt.Remove(ep);
        }
    }

    private void Shutdown()
    {
        foreach (var req in _pending.Values.ToArray()) Finish(req, RequestFailure.Disposed);
        foreach (var (_, first) in _firstContacts)
            foreach (var w in first.Waiting.ToArray()) Finish(w, RequestFailure.Disposed);
        foreach (var addr in _sessions.Keys.ToArray()) RemoveSession(addr);
        foreach (var (_, e) in _setAside) e.Session.Dispose();
        _setAside.Clear();
        foreach (var addr in _challenges.Keys.ToArray()) RemoveChallenge(addr);
        _deadlineTimer.Dispose();
        _deadlines.Clear();
        _armed.Clear();
        _codec.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "internal error handling a packet from {From}")]
    private static partial void LogPacketError(ILogger logger, Exception e, IPEndPoint from);

    [LoggerMessage(Level = LogLevel.Debug, Message = "challenge from {From} repeated for a packet of an ended request: answered by a waiting request")]
    private static partial void LogRepeatedChallengeAnswered(ILogger logger, IPEndPoint from);

    [LoggerMessage(Level = LogLevel.Error, Message = "internal error in a handler shard ({Kind})")]
    private static partial void LogInternalError(ILogger logger, Exception e, ShardItemKind kind);
}
