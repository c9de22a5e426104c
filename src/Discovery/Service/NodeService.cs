using System.Collections.Concurrent;
using System.Threading.Channels;
using ClP2p.Discovery.Sessions;
using ClP2p.Discovery.Table;
using Microsoft.Extensions.Logging;

namespace ClP2p.Discovery.Service;

/// <summary>
/// The service layer: the routing table and the records known by node id, and the background work that keeps them
/// fresh (a record refresh when a node shows a higher seq, a periodic liveness check). Handler shards call it
/// directly for the cheap, synchronous bits (look up or store a record, table a node that answered; one short lock,
/// no crypto) and post the slow bits (refreshes) on its channel, which it serves with requests through the node.
/// </summary>
internal sealed partial class NodeService
{
    private readonly object _gate = new();
    private readonly RoutingTable _table;
    // read without the lock (a crawl looks up every record of every answer, nearly all already known); written under it
    private readonly ConcurrentDictionary<NodeId, Enr> _known = new();
    private int _knownCount;
    private readonly HashSet<NodeId> _refreshing = [];
    private readonly Channel<Enr?> _work = Channel.CreateUnbounded<Enr?>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Discv5Options _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private Task _loop = Task.CompletedTask;
    private ITimer? _liveness;

    public NodeService(NodeId localId, Discv5Options options, TimeProvider time, ILogger log)
    {
        _table = new RoutingTable(localId);
        _options = options;
        _time = time;
        _log = log;
    }

    public int TableCount { get { lock (_gate) return _table.Count; } }

    public IReadOnlyList<Enr> TableNodes() { lock (_gate) return _table.All(); }

    public IReadOnlyList<Enr> Bucket(int distance) { lock (_gate) return _table.Bucket(distance); }

    public List<Enr> Closest(NodeId target, int count) { lock (_gate) return _table.Closest(target, count); }

    public Enr? KnownRecord(NodeId id)
    {
        if (_known.TryGetValue(id, out var e)) return e;
        lock (_gate) return _known.TryGetValue(id, out e) ? e : _table.Get(id);
    }

    // nodes that sent us anything in answer to a request of ours (bounded: cleared when full)
    private readonly ConcurrentDictionary<NodeId, byte> _responded = new();
    private int _respondedCount;

    // replaced when _responded is cleared: a session marked with an older one records its node again
    private object _respondedToken = new();

    /// <summary>A node answered one of our packets (a WHOAREYOU to it, or a message): it is there, however slow.</summary>
    public void Responded(NodeId id)
    {
        if (_responded.ContainsKey(id)) return;
        if (Interlocked.Increment(ref _respondedCount) > _options.MaxKnownRecords)
        {
            _responded.Clear();
            Volatile.Write(ref _respondedToken, new object());
            Volatile.Write(ref _respondedCount, 1);
        }
        _responded.TryAdd(id, 0);
    }

    /// <summary>As <see cref="Responded(NodeId)"/> for a message that came over a session: the session remembers
    /// that its node was recorded, so its every later message skips the lookup (one per packet received).</summary>
    public void Responded(NodeId id, Session session)
    {
        var token = Volatile.Read(ref _respondedToken);
        if (ReferenceEquals(session.RespondedToken, token)) return;
        Responded(id);
        session.RespondedToken = token;
    }

    public bool HasResponded(NodeId id) => _responded.ContainsKey(id);

    /// <summary>Keeps the newest record of a node (bounded: an arbitrary eighth goes when full).</summary>
    public void Remember(Enr enr)
    {
        // this instance was remembered (or found no newer than the kept one) since the last eviction: nothing changed
        var token = Volatile.Read(ref _knownToken);
        if (ReferenceEquals(Volatile.Read(ref enr.RememberedBy), token)) return;
        if (_known.TryGetValue(enr.NodeId, out var old) && old.Seq >= enr.Seq)
        {
            Volatile.Write(ref enr.RememberedBy, token);
            return;
        }
        lock (_gate) RememberLocked(enr);
    }

    // replaced at each eviction: an instance marked with an older one is looked up again
    private object _knownToken = new();

    private void RememberLocked(Enr enr)
    {
        if (_known.TryGetValue(enr.NodeId, out var old) && old.Seq >= enr.Seq)
        {
            Volatile.Write(ref enr.RememberedBy, _knownToken);
            return;
        }
        if (_knownCount >= _options.MaxKnownRecords && old is null)
        {
            int drop = _knownCount / 8;
            foreach (var k in _known.Keys.Take(drop).ToArray())
                if (_known.TryRemove(k, out _)) _knownCount--;
            Volatile.Write(ref _knownToken, new object());
        }
        _known[enr.NodeId] = enr;
        if (old is null) _knownCount++;
        Volatile.Write(ref enr.RememberedBy, _knownToken);
    }

    /// <summary>Adds a record to the table without contacting it (as JS addEnr).</summary>
    public bool AddToTable(Enr enr)
    {
        lock (_gate)
        {
            RememberLocked(enr);
            return _table.AddOrUpdate(enr, _time.GetTimestamp()) is TableResult.Added or TableResult.Updated;
        }
    }

    /// <summary>
    /// A node answered from the endpoint its record names: it is alive, table it (the newest record we know of it),
    /// if the contact filter lets us talk to it. Only such a node goes in: a record whose endpoint is not where the
    /// packet came from would put an unverified address in our answers (discv5-theory.md "Table Maintenance In
    /// Practice": "implementations must avoid relaying any nodes whose liveness has not been verified").
    /// </summary>
    public void Contacted(Enr record)
    {
        // a crawled node answers a dozen requests within a second or two: the same record tabled again within a
        // second would only move it to its bucket's end once more (a lock, two lookups and a bucket scan per answer)
        long now = _time.GetTimestamp();
        if (ReferenceEquals(Volatile.Read(ref record.TabledBy), this) && now - Volatile.Read(ref record.TabledAt) < _time.TimestampFrequency) return;
        if (!_options.ContactFilter(record)) return;
        lock (_gate)
        {
            record.TabledAt = now;
            Volatile.Write(ref record.TabledBy, this);
            RememberLocked(record);
            var best = _known.TryGetValue(record.NodeId, out var k) && k.Seq > record.Seq ? k : record;
            _table.AddOrUpdate(best, now);
        }
    }

    /// <summary>A node's own record (FINDNODE distance 0): replaces its tabled one when newer.</summary>
    public void OwnRecord(Enr enr)
    {
        lock (_gate)
        {
            RememberLocked(enr);
            if (_table.Get(enr.NodeId) is { } inTable && enr.Seq > inTable.Seq) _table.AddOrUpdate(enr, _time.GetTimestamp());
        }
    }

    /// <summary>Asks for a node's current record with FINDNODE [0] (a PING or PONG showed a higher seq than ours),
    /// once at a time per node.</summary>
    public void ScheduleRefresh(Enr node) => _work.Writer.TryWrite(node);

    public void Start(Discv5Node node, CancellationToken ct)
    {
        _loop = Task.Run(() => RunAsync(node, ct), CancellationToken.None);
        if (_options.LivenessInterval > TimeSpan.Zero)
            _liveness = _time.CreateTimer(static s => ((NodeService)s!)._work.Writer.TryWrite(null), this, _options.LivenessInterval, _options.LivenessInterval);
    }

    public async Task StopAsync()
    {
        _liveness?.Dispose();
        _work.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync(Discv5Node node, CancellationToken ct)
    {
        var running = new List<Task>();
        await foreach (var item in _work.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (ct.IsCancellationRequested) continue;
            running.RemoveAll(t => t.IsCompleted);
            if (item is null) running.Add(LivenessCheckAsync(node, ct));
            else
            {
                lock (_gate) if (!_refreshing.Add(item.NodeId)) continue;
                running.Add(RefreshAsync(node, item, ct));
            }
        }
        try
        {
            await Task.WhenAll(running).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // the node is stopping; the refreshes and checks in flight were cancelled with it
        }
    }

    private async Task RefreshAsync(Discv5Node node, Enr enr, CancellationToken ct)
    {
        try
        {
            var res = await node.FindNodeAsync(enr, [0], ct).ConfigureAwait(false);
            if (res.TryGetValue(out var records) && records.Count == 1) Remember(records[0]);
            else LogRefreshFailed(_log, enr.NodeId, res.Failure?.ToString() ?? $"{records?.Count} records");
        }
        finally
        {
            lock (_gate) _refreshing.Remove(enr.NodeId);
        }
    }

    /// <summary>Pings the least recently seen node of a random bucket; one that does not answer leaves the table.</summary>
    private async Task LivenessCheckAsync(Discv5Node node, CancellationToken ct)
    {
        Enr? target;
        lock (_gate)
        {
            var ds = _table.NonEmptyDistances().ToArray();
            if (ds.Length == 0) return;
            Span<byte> r = stackalloc byte[4];
            _options.Random.Fill(r);
            target = _table.LeastRecentlySeen(ds[(int)(BitConverter.ToUInt32(r) % (uint)ds.Length)]);
        }
        if (target is null) return;
        var pong = await node.PingAsync(target, ct).ConfigureAwait(false);
        if (pong.Failure is RequestFailure.Timeout or RequestFailure.HandshakeRejected)
            lock (_gate) _table.Remove(target.NodeId, _time.GetTimestamp());
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "record refresh of {NodeId} failed: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, NodeId nodeId, string reason);
}
