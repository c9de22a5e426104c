namespace ClP2p.Discovery;

public sealed partial class Discv5Node
{
    /// <summary>discv5-theory.md "Lookup": α = 3 concurrent queries.</summary>
    public const int LookupAlpha = 3;

    /// <summary>
    /// Iterative lookup towards target (discv5-theory.md "Lookup"): ask the closest not yet asked nodes, α at a
    /// time, for the distances around the target (d, d+1, d-1), until the k closest have all been asked.
    /// Returns up to k records satisfying predicate, closest to target first, out of every record seen.
    /// </summary>
    public Task<IReadOnlyList<Enr>> LookupAsync(NodeId target, Func<Enr, bool>? predicate = null, int k = 16, CancellationToken cancellationToken = default) =>
        LookupCoreAsync(target, predicate, k, null, null, cancellationToken);

    /// <summary>A lookup towards a random target (a random walk).</summary>
    public Task<IReadOnlyList<Enr>> RandomWalkAsync(Func<Enr, bool>? predicate = null, int k = 16, CancellationToken cancellationToken = default)
    {
        Span<byte> t = stackalloc byte[32];
        _options.Random.Fill(t);
        return LookupAsync(new NodeId(t), predicate, k, cancellationToken);
    }

    internal async Task<IReadOnlyList<Enr>> LookupCoreAsync(NodeId target, Func<Enr, bool>? predicate, int k, IEnumerable<Enr>? initial,
        Action<Enr, Enr>? onFound, CancellationToken ct, Func<Enr, bool>? canContact = null, Func<Enr, Enr?, bool>? trustRelay = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        canContact ??= _options.ContactFilter;
        trustRelay ??= ContactFilters.RelayTrusted;
        var all = new Dictionary<NodeId, Enr>();
        var asked = new HashSet<NodeId>();
        var candidates = new List<Enr>();
        void Add(Enr e, Enr? relayer)
        {
            if (e.NodeId == LocalId) return;
            if (all.TryGetValue(e.NodeId, out var old))
            {
                if (e.Seq > old.Seq) all[e.NodeId] = e;
                return;
            }
            all[e.NodeId] = e;
            // a private address relayed by a public node is kept in the results but never asked (geth
            // netutil.CheckRelayIP: a LAN or loopback address from a public node is an attack or a stale record)
            if (canContact(e) && trustRelay(e, relayer)) candidates.Add(e);
        }
        foreach (var e in _service.Closest(target, k)) Add(e, null);
        if (candidates.Count == 0) foreach (var b in _options.Bootnodes) Add(b, null);
        if (initial != null) foreach (var e in initial) Add(e, null);

        var inflight = new Dictionary<Task<RequestResult<IReadOnlyList<Enr>>>, Enr>();
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            candidates.Sort((x, y) => NodeId.CompareDistance(target, x.NodeId, y.NodeId));
            int considered = 0;
            for (int i = 0; i < candidates.Count && considered < k && inflight.Count < LookupAlpha; i++, considered++)
            {
                var c = candidates[i];
                if (!asked.Add(c.NodeId)) continue;
                int d = NodeId.LogDistance(target, c.NodeId);
                inflight[FindNodeAsync(c, LookupDistances(d), ct)] = c;
            }
            if (inflight.Count == 0) break;
            var done = await Task.WhenAny(inflight.Keys).ConfigureAwait(false);
            var from = inflight[done];
            inflight.Remove(done);
            if (!(await done.ConfigureAwait(false)).TryGetValue(out var found))
            {
                candidates.RemoveAll(x => x.NodeId == from.NodeId);
                continue;
            }
            foreach (var e in found)
            {
                onFound?.Invoke(e, from);
                Add(e, from);
            }
        }
        var result = new List<Enr>();
        foreach (var e in all.Values) if (predicate is null || predicate(e)) result.Add(e);
        result.Sort((x, y) => NodeId.CompareDistance(target, x.NodeId, y.NodeId));
        if (result.Count > k) result.RemoveRange(k, result.Count - k);
        return result;
    }

    /// <summary>geth lookupDistances: the target's distance from the node and its neighbours.</summary>
    internal static int[] LookupDistances(int d) => d switch
    {
        0 => [1, 2, 3],
        256 => [256, 255, 254],
        1 => [1, 2, 3],
        _ => [d, d + 1, d - 1],
    };
}
