using System.Diagnostics;
using System.Net;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Packets;
using ClP2p.Discovery.Sessions;
using ClP2p.Discovery.Table;
using Microsoft.Extensions.Logging;

namespace ClP2p.Discovery;

public sealed partial class Discv5Node
{
    /// <summary>discv5-wire.md NODES: a FINDNODE answer holds at most 16 records per distance (one k-bucket).</summary>
    public const int MaxRecordsPerDistance = RoutingTable.BucketSize;
    /// <summary>We return at most 16 records per FINDNODE in total (nim-eth #857, as the JS node).</summary>
    public const int MaxRecordsPerResponse = 16;
    /// <summary>Cap on the NODES `total` we accept (sigp MAX_NODES_RESPONSES).</summary>
    public const int MaxNodesMessages = 16;
    /// <summary>Plaintext budget of one message packet: 1280 - iv(16) - static header(23) - authdata(32) - tag(16).</summary>
    private const int MaxMessagePlaintext = PacketCodec.MaxPacketSize - 16 - 23 - 32 - 16;

    private sealed class PendingRequest
    {
        public required Enr Node { get; init; }
        public required NodeAddress Address { get; init; }
        public required Discv5Message Message { get; init; }
        public required byte[] Plaintext { get; init; }
        public TaskCompletionSource<object> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<Nonce96> Nonces { get; } = [];
        public int Attempts { get; set; }
        public ITimer? Timer { get; set; }
        public long Started { get; init; }
        /// <summary>Wait for an answer to each attempt, and extra attempts after a timeout (the node's defaults unless the caller set them).</summary>
        public TimeSpan Timeout { get; init; }
        public int Retries { get; init; }
        // NODES aggregation
        public int NodesTotal { get; set; }
        public int NodesReceived { get; set; }
        public List<Enr>? Records { get; set; }
        public HashSet<NodeId>? Seen { get; set; }
        public Dictionary<int, int>? PerDistance { get; set; }
        /// <summary>The last WHOAREYOU challenge this request answered with a handshake, and the session that made.</summary>
        public (byte[] Challenge, Session Session)? Handshake { get; set; }
    }

    /// <summary>The request whose packet is to open a session with a node, and the requests waiting for it.</summary>
    private sealed class FirstContact(PendingRequest leader)
    {
        public PendingRequest Leader { get; set; } = leader;
        public List<PendingRequest> Waiting { get; } = [];
    }

    /// <summary>PING a node. Null when it does not answer (after retries).</summary>
    public async Task<PongInfo?> PingAsync(Enr node, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        try
        {
            var r = await RequestAsync(node, id => new PingMessage(id, LocalEnr.Seq), cancellationToken).ConfigureAwait(false);
            return (PongInfo)r;
        }
        catch (Discv5RequestException)
        {
            return null;
        }
    }

    /// <summary>
    /// FINDNODE with the given log distances (0 = the node's own record). Returns the validated records of all NODES
    /// messages (partial results if some NODES messages were lost). Throws <see cref="Discv5RequestException"/>
    /// when the node does not answer at all.
    /// </summary>
    public Task<IReadOnlyList<Enr>> FindNodeAsync(Enr node, IReadOnlyList<int> distances, CancellationToken cancellationToken = default) =>
        FindNodeAsync(node, distances, null, null, cancellationToken);

    /// <summary>
    /// FINDNODE with its own timeout per attempt and number of retries, instead of <see cref="Discv5Options.RequestTimeout"/>
    /// and <see cref="Discv5Options.RequestRetries"/> (null: those): a crawler asks a node that did not answer again, later, with a
    /// longer wait, so a slow node's late answer is not dropped as an answer to a request given up.
    /// </summary>
    public async Task<IReadOnlyList<Enr>> FindNodeAsync(Enr node, IReadOnlyList<int> distances, TimeSpan? timeout, int? retries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (timeout is { } t) ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(t, TimeSpan.Zero);
        if (retries is { } n) ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentNullException.ThrowIfNull(distances);
        if (distances.Count == 0) throw new ArgumentException("at least one distance", nameof(distances));
        foreach (int d in distances) ArgumentOutOfRangeException.ThrowIfGreaterThan(d, 256);
        var list = distances.Distinct().ToArray();
        var r = await RequestAsync(node, id => new FindNodeMessage(id, list), cancellationToken, timeout, retries).ConfigureAwait(false);
        return (IReadOnlyList<Enr>)r;
    }

    /// <summary>TALKREQ; returns the TALKRESP payload.</summary>
    public async Task<ReadOnlyMemory<byte>> TalkAsync(Enr node, ReadOnlyMemory<byte> protocol, ReadOnlyMemory<byte> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        var r = await RequestAsync(node, id => new TalkReqMessage(id, protocol, request), cancellationToken).ConfigureAwait(false);
        return ((TalkRespMessage)r).Response;
    }

    private async Task<object> RequestAsync(Enr node, Func<RequestId, Discv5Message> make, CancellationToken ct, TimeSpan? timeout = null, int? retries = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_socket is null) throw new InvalidOperationException("call StartAsync first");
        var ep = EndpointFor(node) ?? throw new Discv5RequestException(RequestFailure.NoEndpoint, $"record of {node.NodeId} has no UDP endpoint this socket can reach");
        PendingRequest req;
        lock (_gate)
        {
            if (_disposed) throw new Discv5RequestException(RequestFailure.Disposed, "node disposed");
            if (_pending.Count >= _options.MaxPendingRequests)
                throw new Discv5RequestException(RequestFailure.TooManyPending, $"{_pending.Count} requests pending");
            RequestId id;
            Span<byte> rid = stackalloc byte[8];
            // no leading zero byte: ChainSafe discv5 answers with the id re-encoded as a minimal integer
            do { _random.Fill(rid); rid[0] |= 1; id = RequestId.From(rid); } while (_pending.ContainsKey(id.Value));
            var msg = make(id);
            Remember(node);
            req = new PendingRequest
            {
                Node = node,
                Address = new NodeAddress(node.NodeId, ep),
                Message = msg,
                Plaintext = MessageCodec.Encode(msg),
                Started = _time.GetTimestamp(),
                Timeout = timeout ?? _options.RequestTimeout,
                Retries = retries ?? _options.RequestRetries,
            };
            _pending[id.Value] = req;
            SendRequestPacket(req);
            req.Timer = _time.CreateTimer(static s => ((Discv5Node)((object[])s!)[0]).OnRequestTimeout((PendingRequest)((object[])s!)[1]),
                new object[] { this, req }, req.Timeout, Timeout.InfiniteTimeSpan);
        }
        using var reg = ct.Register(() =>
        {
            lock (_gate) RemoveRequest(req);
            req.Completion.TrySetCanceled(ct);
        });
        return await req.Completion.Task.ConfigureAwait(false);
    }

    private void SendRequestPacket(PendingRequest req, bool countAttempt = true)
    {
        if (countAttempt) req.Attempts++;
        Span<byte> iv = stackalloc byte[16];
        _random.Fill(iv);
        Span<byte> nonce = stackalloc byte[12];
        int n;
        if (_sessions.TryGetValue(req.Address, out var s))
        {
            s.NextNonce(nonce, _random);
            n = PacketCodec.EncodeMessage(_sendBuffer, req.Address.Id, iv, nonce, LocalId, s.WriteKey, req.Plaintext);
        }
        else
        {
            // PITFALLS 2: while another request is opening the session, wait for its handshake. Several random packets
            // at once draw several copies of one challenge, and each handshake answering one would make its own keys.
            if (_firstContacts.TryGetValue(req.Address, out var first) && first.Leader != req)
            {
                if (!first.Waiting.Contains(req)) first.Waiting.Add(req);
                return;
            }
            if (first is null) _firstContacts[req.Address] = new FirstContact(req);
            // No session: random content provokes a WHOAREYOU (discv5-theory.md "Sessions").
            _random.Fill(nonce);
            Span<byte> body = stackalloc byte[44];
            _random.Fill(body);
            n = PacketCodec.EncodeRandomMessage(_sendBuffer, req.Address.Id, iv, nonce, LocalId, body);
        }
        var key = Nonce96.From(nonce);
        _byNonce[key] = (req, false);
        req.Nonces.Add(key);
        Send(_sendBuffer.AsSpan(0, n), req.Address.EndPoint);
    }

    private void OnRequestTimeout(PendingRequest req)
    {
        lock (_gate)
        {
            if (!_pending.TryGetValue(req.Message.RequestId.Value, out var cur) || cur != req) return;
            if (req.Records is { Count: > 0 })
            {
                // some NODES messages arrived: return what we have
                CompleteRequest(req, req.Records);
                return;
            }
            if (req.Attempts <= req.Retries)
            {
                // a lost handshake leaves a session the remote does not have: start over without it
                if (_sessions.TryGetValue(req.Address, out var s) && req.Nonces.Count > 0 && _byNonce.TryGetValue(req.Nonces[^1], out var last) && last.WasHandshake)
                {
                    _sessions.Remove(req.Address);
                    s.Previous?.Dispose();
                    s.Dispose();
                }
                SendRequestPacket(req);
                req.Timer?.Change(req.Timeout, Timeout.InfiniteTimeSpan);
                return;
            }
            FailRequest(req, RequestFailure.Timeout);
        }
    }

    private void RemoveRequest(PendingRequest req)
    {
        if (_pending.TryGetValue(req.Message.RequestId.Value, out var cur) && cur == req) _pending.Remove(req.Message.RequestId.Value);
        foreach (var n in req.Nonces) _byNonce.Remove(n);
        req.Timer?.Dispose();
        if (_firstContacts.TryGetValue(req.Address, out var first))
        {
            if (first.Leader != req)
            {
                first.Waiting.Remove(req);
            }
            else if (first.Waiting.Count == 0 || _disposed)
            {
                _firstContacts.Remove(req.Address);
            }
            else
            {
                // the opener is gone without a session: the next waiting request opens it
                first.Leader = first.Waiting[0];
                first.Waiting.RemoveAt(0);
                SendRequestPacket(first.Leader, countAttempt: false);
            }
        }
    }

    private void FailRequest(PendingRequest req, RequestFailure reason)
    {
        if (reason == RequestFailure.Timeout && req.Handshake is null && _givenUp.Count < _options.MaxPendingRequests)
        {
            long now = _time.GetTimestamp();
            foreach (var n in req.Nonces)
                if (_byNonce.TryGetValue(n, out var e) && !e.WasHandshake) _givenUp[n] = (req.Address, now);
        }
        RemoveRequest(req);
        Discv5Metrics.Requests.Add(1, new KeyValuePair<string, object?>("type", req.Message.Type.ToString()), new KeyValuePair<string, object?>("outcome", reason.ToString()));
        req.Completion.TrySetException(new Discv5RequestException(reason, $"{req.Message.Type} to {req.Address.Id} at {req.Address.EndPoint}: {reason}"));
    }

    private void CompleteRequest(PendingRequest req, object result)
    {
        RemoveRequest(req);
        Discv5Metrics.Requests.Add(1, new KeyValuePair<string, object?>("type", req.Message.Type.ToString()), new KeyValuePair<string, object?>("outcome", "ok"));
        // the node answered at the endpoint its record names: it is alive, table it (PITFALLS 5)
        if (req.Address.EndPoint.Equals(EndpointFor(req.Node)) && _options.ContactFilter(req.Node))
            _table.AddOrUpdate(KnownRecord(req.Node.NodeId) is { } k && k.Seq > req.Node.Seq ? k : req.Node, _time.GetTimestamp());
        req.Completion.TrySetResult(result);
    }

    private DropReason HandleMessage(NodeAddress addr, Session s, ReadOnlySpan<byte> pt)
    {
        if (!MessageCodec.TryDecode(pt, out var m, out _)) return DropReason.MessageInvalid;
        switch (m)
        {
            case PingMessage ping:
                SendMessage(addr, s, new PongMessage(ping.RequestId, LocalEnr.Seq, addr.EndPoint.Address, addr.EndPoint.Port));
                Discv5Metrics.RequestsServed.Add(1, new KeyValuePair<string, object?>("type", "ping"));
                if (s.Remote is { } r && ping.EnrSeq > r.Seq) ScheduleRefresh(r);
                return DropReason.None;
            case FindNodeMessage fn:
                ServeFindNode(addr, s, fn);
                Discv5Metrics.RequestsServed.Add(1, new KeyValuePair<string, object?>("type", "findnode"));
                return DropReason.None;
            case TalkReqMessage talk:
                // no TALK protocols: answer with an empty response (discv5-wire.md TALKRESP)
                SendMessage(addr, s, new TalkRespMessage(talk.RequestId, ReadOnlyMemory<byte>.Empty));
                Discv5Metrics.RequestsServed.Add(1, new KeyValuePair<string, object?>("type", "talkreq"));
                return DropReason.None;
        }
        if (!_pending.TryGetValue(m!.RequestId.Value, out var req)) return DropReason.ResponseUnknownRequest;
        if (!req.Address.Equals(addr)) return DropReason.ResponseWrongSender;
        switch (m)
        {
            case PongMessage pong when req.Message is PingMessage:
                {
                    var rtt = _time.GetElapsedTime(req.Started);
                    CompleteRequest(req, new PongInfo(pong.EnrSeq, new IPEndPoint(pong.RecipientIp, pong.RecipientPort), rtt));
                    // PITFALLS 9: a higher seq in a PONG means the record changed: fetch it with FINDNODE [0]
                    var known = KnownRecord(addr.Id) ?? req.Node;
                    if (pong.EnrSeq > known.Seq) ScheduleRefresh(known);
                    return DropReason.None;
                }
            case NodesMessage nodes when req.Message is FindNodeMessage fn:
                return HandleNodes(req, fn, nodes, addr);
            case TalkRespMessage talk when req.Message is TalkReqMessage:
                CompleteRequest(req, talk);
                return DropReason.None;
            default:
                return DropReason.ResponseTypeMismatch;
        }
    }

    private DropReason HandleNodes(PendingRequest req, FindNodeMessage fn, NodesMessage nodes, NodeAddress addr)
    {
        // PITFALLS 6: total is the number of NODES messages; some send 0 for an empty answer.
        int total = Math.Max(1, nodes.Total);
        if (total > MaxNodesMessages) return DropReason.NodesBadTotal;
        if (req.NodesReceived == 0) req.NodesTotal = total;
        req.NodesReceived++;
        req.Records ??= [];
        req.Seen ??= [];
        req.PerDistance ??= [];
        int maxRecords = Math.Min(fn.Distances.Count * MaxRecordsPerDistance, MaxNodesMessages * MaxRecordsPerDistance);
        foreach (var raw in nodes.Records)
        {
            if (!TryDecodeRecord(raw.Span, out var enr)) { DropRecord(RecordDropReason.Invalid, addr.Id); continue; }
            int d = NodeId.LogDistance(enr!.NodeId, addr.Id);
            if (!fn.Distances.Contains(d)) { DropRecord(RecordDropReason.WrongDistance, addr.Id); continue; }
            if (!req.Seen.Add(enr.NodeId)) { DropRecord(RecordDropReason.Duplicate, addr.Id); continue; }
            int c = req.PerDistance.GetValueOrDefault(d);
            // PITFALLS 7: distance 0 is exactly one record (the node's own); others at most a bucket.
            if ((d == 0 && c >= 1) || c >= MaxRecordsPerDistance) { DropRecord(RecordDropReason.BucketOverflow, addr.Id); continue; }
            if (req.Records.Count >= maxRecords) { DropRecord(RecordDropReason.TooMany, addr.Id); continue; }
            req.PerDistance[d] = c + 1;
            req.Records.Add(enr);
            Remember(enr);
            if (d == 0 && _table.Get(enr.NodeId) is { } inTable && enr.Seq > inTable.Seq) _table.AddOrUpdate(enr, _time.GetTimestamp());
        }
        if (req.NodesReceived >= req.NodesTotal) CompleteRequest(req, req.Records);
        return DropReason.None;
    }

    private void DropRecord(RecordDropReason reason, NodeId from)
    {
        Interlocked.Increment(ref _recordDrops[(int)reason]);
        Discv5Metrics.RecordsDropped.Add(1, new KeyValuePair<string, object?>("reason", Kebab(reason.ToString())));
        LogRecordDrop(_log, reason, from);
    }

    private void ServeFindNode(NodeAddress addr, Session s, FindNodeMessage fn)
    {
        var records = new List<ReadOnlyMemory<byte>>(MaxRecordsPerResponse);
        var seen = new HashSet<int>();
        foreach (int d in fn.Distances)
        {
            if (!seen.Add(d)) continue;
            if (d == 0) { records.Add(LocalEnr.Raw); }
            else
            {
                foreach (var e in _table.Bucket(d))
                {
                    if (records.Count >= MaxRecordsPerResponse) break;
                    if (e.NodeId == addr.Id) continue;
                    records.Add(e.Raw);
                }
            }
            if (records.Count >= MaxRecordsPerResponse) break;
        }
        // pack by encoded size (PITFALLS 6): each message must fit one packet
        const int overhead = 1 + 3 + 9 + 2 + 3;
        var chunks = new List<List<ReadOnlyMemory<byte>>>();
        var cur = new List<ReadOnlyMemory<byte>>();
        int size = 0;
        foreach (var r in records)
        {
            if (cur.Count > 0 && size + r.Length + overhead > MaxMessagePlaintext)
            {
                chunks.Add(cur); cur = []; size = 0;
            }
            cur.Add(r); size += r.Length;
        }
        if (cur.Count > 0 || chunks.Count == 0) chunks.Add(cur);
        foreach (var c in chunks) SendMessage(addr, s, new NodesMessage(fn.RequestId, chunks.Count, c));
    }

    private void ScheduleRefresh(Enr node)
    {
        if (!_refreshing.Add(node.NodeId)) return;
        _ = Task.Run(async () =>
        {
            try
            {
                var res = await FindNodeAsync(node, [0], _cts.Token).ConfigureAwait(false);
                if (res.Count == 1) lock (_gate) Remember(res[0]);
            }
            catch (Discv5RequestException) { }
            catch (OperationCanceledException) { }
            catch (ObjectDisposedException) { }
            finally
            {
                lock (_gate) _refreshing.Remove(node.NodeId);
            }
        });
    }

    private async Task LivenessCheckAsync()
    {
        Enr? target = null;
        lock (_gate)
        {
            if (_disposed) return;
            var ds = _table.NonEmptyDistances().ToArray();
            if (ds.Length == 0) return;
            Span<byte> r = stackalloc byte[4];
            _random.Fill(r);
            target = _table.LeastRecentlySeen(ds[(int)(BitConverter.ToUInt32(r) % (uint)ds.Length)]);
        }
        if (target is null) return;
        try
        {
            var pong = await PingAsync(target, _cts.Token).ConfigureAwait(false);
            if (pong is null)
                lock (_gate) _table.Remove(target.NodeId, _time.GetTimestamp());
        }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
        catch (InvalidOperationException) { }
    }
}
