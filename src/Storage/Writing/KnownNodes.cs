namespace ClP2p.Storage;

/// <summary>
/// What one writer has committed about node rows, so that a visit of a node whose row already holds everything the
/// visit would add (the row exists, has a peer id if the visit brings one, a seq at least the visit's, a first sighting
/// no later than the visit) sends no node statement at all. In a crawl every node is first sighted by discovery (its
/// ENR creates or refreshes the row), so a crawl's visits go to the database as one COPY and nothing else.
/// <para>
/// A remembered fact stays true: node rows are never deleted (retention removes visits only), a peer id once set is
/// kept, latest_seq only rises and first_seen only falls. Facts are recorded after the transaction commits, and only
/// as strong as what this writer wrote (the row may know more), so the cache can make the writer do a redundant
/// upsert but never skip a needed one. Bounded: when full it starts again empty.
/// </para>
/// </summary>
internal sealed class KnownNodes(int capacity)
{
    private readonly Dictionary<byte[], Fact> _facts = new(ByteArrayComparer.Instance);
    private readonly Lock _lock = new();

    private readonly record struct Fact(bool HasPeer, long LatestSeq, DateTime FirstSeen);

    /// <summary>Entries held now.</summary>
    public int Count
    {
        get { lock (_lock) return _facts.Count; }
    }

    /// <summary>True when the committed row already holds everything <paramref name="row"/> (made from visits) would add.</summary>
    public bool Covers(NodeRow row) => Covers(row.NodeId, row.PeerId is not null, row.LatestSeq, row.FirstSeen);

    /// <summary>True when the committed row already holds everything <paramref name="visit"/> would add to it.</summary>
    public bool Covers(VisitObservation visit) =>
        Covers(visit.NodeId, visit.PeerId is not null, visit.EnrSeq is { } s ? unchecked((long)s) : 0, visit.VisitedAt.UtcDateTime);

    /// <summary>Records what a read of a committed node row showed.</summary>
    public void RememberStored(byte[] nodeId, bool hasPeer, long latestSeq, DateTime firstSeen)
    {
        if (capacity <= 0) return;
        lock (_lock) Add(nodeId, hasPeer, latestSeq, firstSeen);
    }

    /// <summary>Records rows whose upsert has committed.</summary>
    public void Remember(IEnumerable<NodeRow> rows)
    {
        if (capacity <= 0) return;
        lock (_lock)
        {
            foreach (NodeRow r in rows) Add(r.NodeId, r.PeerId is not null, r.LatestSeq, r.FirstSeen);
        }
    }

    private bool Covers(byte[] nodeId, bool bringsPeer, long seq, DateTime firstSeen)
    {
        lock (_lock)
        {
            return _facts.TryGetValue(nodeId, out Fact f)
                && (!bringsPeer || f.HasPeer)
                && f.LatestSeq >= seq
                && f.FirstSeen <= firstSeen;
        }
    }

    /// <summary>Merges one fact in (caller holds the lock); a full cache starts again empty.</summary>
    private void Add(byte[] nodeId, bool hasPeer, long latestSeq, DateTime firstSeen)
    {
        if (_facts.Count >= capacity && !_facts.ContainsKey(nodeId)) _facts.Clear();
        _facts[nodeId] = _facts.TryGetValue(nodeId, out Fact f)
            ? new Fact(f.HasPeer || hasPeer, Math.Max(f.LatestSeq, latestSeq), f.FirstSeen < firstSeen ? f.FirstSeen : firstSeen)
            : new Fact(hasPeer, latestSeq, firstSeen);
    }
}
