namespace ClP2p.Storage;

/// <summary>A node row merged from the ENRs and visits of one batch.</summary>
internal sealed class NodeRow
{
    public required byte[] NodeId { get; init; }
    public byte[]? PublicKey { get; set; }
    public string? PeerId { get; set; }
    public DateTime FirstSeen { get; set; }
    public DateTime LastSeen { get; set; }
    public long LatestSeq { get; set; }
    /// <summary>
    /// True when the batch holds an ENR of the node (discovery saw it): the row then moves the node's last_seen.
    /// Rows made from visits only insert unknown nodes and fill in what the node row lacks, without rewriting it.
    /// </summary>
    public bool Sighted { get; set; }

    /// <summary>
    /// Merges the batch's ENRs and visits into one row per node id, sorted by node id (stable lock order). Visits for
    /// which <paramref name="skipVisit"/> is true add nothing (their node's committed row already holds what they
    /// would add), unless their node already has a row in the merge (the batch sights it, or an earlier visit adds to it).
    /// </summary>
    public static List<NodeRow> Merge(Batch batch, Func<VisitObservation, bool>? skipVisit = null)
    {
        var rows = new Dictionary<byte[], NodeRow>(ByteArrayComparer.Instance);
        foreach (EnrObservation e in batch.Enrs)
        {
            NodeRow r = Get(rows, e.NodeId, e.SeenAt.UtcDateTime);
            r.Sighted = true;
            r.PublicKey ??= e.PublicKey;
            r.PeerId ??= e.PeerId;
            r.LatestSeq = Math.Max(r.LatestSeq, unchecked((long)e.Seq));
        }
        foreach (VisitObservation v in batch.Visits)
        {
            if (skipVisit is not null && !rows.ContainsKey(v.NodeId) && skipVisit(v)) continue;
            NodeRow r = Get(rows, v.NodeId, v.VisitedAt.UtcDateTime);
            r.PeerId ??= v.PeerId;
            if (v.EnrSeq is { } seq) r.LatestSeq = Math.Max(r.LatestSeq, unchecked((long)seq));
        }
        var list = rows.Values.ToList();
        list.Sort((a, b) => a.NodeId.AsSpan().SequenceCompareTo(b.NodeId));
        return list;
    }

    private static NodeRow Get(Dictionary<byte[], NodeRow> rows, byte[] id, DateTime seen)
    {
        if (!rows.TryGetValue(id, out NodeRow? r))
        {
            r = new NodeRow { NodeId = id, FirstSeen = seen, LastSeen = seen };
            rows.Add(id, r);
        }
        else
        {
            if (seen < r.FirstSeen) r.FirstSeen = seen;
            if (seen > r.LastSeen) r.LastSeen = seen;
        }
        return r;
    }

    /// <summary>Distinct ENRs of a batch by (node id, seq); the first wins (the same seq means the same record).</summary>
    public static List<EnrObservation> DistinctEnrs(Batch batch)
    {
        var seen = new HashSet<(byte[], ulong)>(new EnrKeyComparer());
        var list = new List<EnrObservation>(batch.Enrs.Count);
        foreach (EnrObservation e in batch.Enrs)
            if (seen.Add((e.NodeId, e.Seq))) list.Add(e);
        list.Sort((a, b) => a.NodeId.AsSpan().SequenceCompareTo(b.NodeId) is var c && c != 0 ? c : a.Seq.CompareTo(b.Seq));
        return list;
    }

    /// <summary>Geo rows by address; the latest lookup wins.</summary>
    public static List<IpGeo> DistinctGeos(Batch batch)
    {
        var map = new Dictionary<string, IpGeo>(StringComparer.Ordinal);
        foreach (IpGeo g in batch.Geos)
            if (!map.TryGetValue(g.Ip, out IpGeo? old) || old.LookedUpAt <= g.LookedUpAt) map[g.Ip] = g;
        return map.Values.OrderBy(g => g.Ip, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Distinct agent strings of the batch's visits with their parsed parts (the first seen wins), in ordinal order,
    /// leaving out those <paramref name="skip"/> says are stored already.
    /// </summary>
    public static List<KeyValuePair<string, VisitObservation>> DistinctAgents(Batch batch, Func<string, bool>? skip = null)
    {
        var map = new Dictionary<string, VisitObservation>(StringComparer.Ordinal);
        foreach (VisitObservation v in batch.Visits)
            if (v.AgentVersion is { } a && !map.ContainsKey(a) && (skip is null || !skip(a))) map.Add(a, v);
        var list = map.ToList();
        list.Sort((x, y) => string.CompareOrdinal(x.Key, y.Key));
        return list;
    }

    private sealed class EnrKeyComparer : IEqualityComparer<(byte[] Id, ulong Seq)>
    {
        public bool Equals((byte[] Id, ulong Seq) x, (byte[] Id, ulong Seq) y) => x.Seq == y.Seq && x.Id.AsSpan().SequenceEqual(y.Id);
        public int GetHashCode((byte[] Id, ulong Seq) obj) => HashCode.Combine(ByteArrayComparer.Instance.GetHashCode(obj.Id), obj.Seq);
    }
}
