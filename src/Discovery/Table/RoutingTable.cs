namespace ClP2p.Discovery.Table;

public enum TableResult
{
    Added,
    Updated,
    /// <summary>The bucket is full; the record went to the bucket's replacement cache.</summary>
    BucketFull,
    Ignored,
}

/// <summary>
/// Kademlia table of 256 k-buckets indexed by log2 distance (discv5-theory.md "Routing Table"), k = 16,
/// each with a replacement cache. Entries are kept least recently seen first. Not thread-safe.
/// </summary>
public sealed class RoutingTable
{
    /// <summary>discv5-theory.md: "k-buckets ... k = 16".</summary>
    public const int BucketSize = 16;
    public const int BucketCount = 256;
    public const int ReplacementCacheSize = 10;

    private sealed class Entry(Enr enr, long lastSeen)
    {
        public Enr Enr = enr;
        public long LastSeen = lastSeen;
    }

    private readonly List<Entry>[] _buckets = new List<Entry>[BucketCount];
    private readonly List<Enr>[] _replacements = new List<Enr>[BucketCount];

    public RoutingTable(NodeId localId)
    {
        LocalId = localId;
        for (int i = 0; i < BucketCount; i++) { _buckets[i] = []; _replacements[i] = []; }
    }

    public NodeId LocalId { get; }

    public int Count { get; private set; }

    public TableResult AddOrUpdate(Enr enr, long nowTicks)
    {
        int d = NodeId.LogDistance(LocalId, enr.NodeId);
        if (d == 0) return TableResult.Ignored;
        var bucket = _buckets[d - 1];
        for (int i = 0; i < bucket.Count; i++)
        {
            if (bucket[i].Enr.NodeId != enr.NodeId) continue;
            var e = bucket[i];
            if (enr.Seq >= e.Enr.Seq) e.Enr = enr;
            e.LastSeen = nowTicks;
            bucket.RemoveAt(i);
            bucket.Add(e);
            return TableResult.Updated;
        }
        if (bucket.Count < BucketSize)
        {
            bucket.Add(new Entry(enr, nowTicks));
            Count++;
            RemoveReplacement(_replacements[d - 1], enr.NodeId);
            return TableResult.Added;
        }
        var rep = _replacements[d - 1];
        RemoveReplacement(rep, enr.NodeId);
        rep.Add(enr);
        if (rep.Count > ReplacementCacheSize) rep.RemoveAt(0);
        return TableResult.BucketFull;
    }

    // a loop, not RemoveAll with a lambda: a crawl adds every record it meets, and each call made a closure
    private static void RemoveReplacement(List<Enr> replacements, NodeId id)
    {
        for (int i = replacements.Count - 1; i >= 0; i--)
            if (replacements[i].NodeId == id) replacements.RemoveAt(i);
    }

    /// <summary>Removes a node (failed liveness check) and promotes the most recent replacement.</summary>
    public bool Remove(NodeId id, long nowTicks)
    {
        int d = NodeId.LogDistance(LocalId, id);
        if (d == 0) return false;
        var bucket = _buckets[d - 1];
        int i = bucket.FindIndex(e => e.Enr.NodeId == id);
        if (i < 0) return false;
        bucket.RemoveAt(i);
        Count--;
        var rep = _replacements[d - 1];
        if (rep.Count > 0)
        {
            var promoted = rep[^1];
            rep.RemoveAt(rep.Count - 1);
            bucket.Insert(0, new Entry(promoted, nowTicks));
            Count++;
        }
        return true;
    }

    public Enr? Get(NodeId id)
    {
        int d = NodeId.LogDistance(LocalId, id);
        if (d == 0) return null;
        foreach (var e in _buckets[d - 1]) if (e.Enr.NodeId == id) return e.Enr;
        return null;
    }

    public IReadOnlyList<Enr> Bucket(int distance)
    {
        if (distance is < 1 or > BucketCount) return [];
        var b = _buckets[distance - 1];
        var o = new Enr[b.Count];
        for (int i = 0; i < b.Count; i++) o[i] = b[i].Enr;
        return o;
    }

    public IReadOnlyList<Enr> Replacements(int distance) =>
        distance is < 1 or > BucketCount ? [] : _replacements[distance - 1].ToArray();

    /// <summary>The least recently seen node of the bucket at this distance.</summary>
    public Enr? LeastRecentlySeen(int distance) =>
        distance is < 1 or > BucketCount || _buckets[distance - 1].Count == 0 ? null : _buckets[distance - 1][0].Enr;

    public IEnumerable<int> NonEmptyDistances()
    {
        for (int i = 0; i < BucketCount; i++) if (_buckets[i].Count > 0) yield return i + 1;
    }

    /// <summary>The count closest nodes to target by xor distance.</summary>
    public List<Enr> Closest(NodeId target, int count)
    {
        var all = new List<Enr>(Count);
        foreach (var b in _buckets) foreach (var e in b) all.Add(e.Enr);
        all.Sort((x, y) => NodeId.CompareDistance(target, x.NodeId, y.NodeId));
        if (all.Count > count) all.RemoveRange(count, all.Count - count);
        return all;
    }

    public List<Enr> All()
    {
        var all = new List<Enr>(Count);
        foreach (var b in _buckets) foreach (var e in b) all.Add(e.Enr);
        return all;
    }
}
