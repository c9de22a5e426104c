using System.Data.Common;

namespace ClP2p.Storage;

public sealed partial class CensusService
{
    /// <summary>
    /// The merged census of every vantage point over the crawls started in [<paramref name="from"/>, <paramref name="to"/>)
    /// (whatever their state: a failed crawl's sightings are sightings), optionally only crawls of
    /// <paramref name="crawlNetwork"/> and only nodes whose ENR names <paramref name="network"/>. A node is seen by a
    /// vantage when any of its crawls in the window has a visit of it; each node counts once however many crawls and
    /// vantages saw it.
    /// </summary>
    public async Task<MergedCensus> GetMergedCensusAsync(DateTimeOffset from, DateTimeOffset to, string? network = null, string? crawlNetwork = null,
        CancellationToken ct = default)
    {
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        string crawlFilter = crawlNetwork is null ? "" : " AND c.network = @crawlNetwork";
        var crawlsByVantage = new SortedDictionary<string, List<long>>(StringComparer.Ordinal);
        await using (DbCommand cmd = Sql.Command(conn, null,
            $"SELECT c.vantage, c.id FROM crawls c WHERE c.started_at >= @from AND c.started_at < @to{crawlFilter} ORDER BY c.id",
            ("from", from.UtcDateTime), ("to", to.UtcDateTime), ("crawlNetwork", crawlNetwork)))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                string v = r.GetString(0);
                if (!crawlsByVantage.TryGetValue(v, out var list)) crawlsByVantage[v] = list = [];
                list.Add(r.GetInt64(1));
            }
        }
        var names = crawlsByVantage.Keys.ToList();
        var index = names.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i, StringComparer.Ordinal);

        // Each node's capture history: bit i = vantage names[i] saw it.
        var histories = new Dictionary<byte[], long>(ByteArrayComparer.Instance);
        string enrJoin = network is null ? "" : " JOIN enr_history e ON e.node_id = v.node_id AND e.seq = v.enr_seq";
        string enrFilter = network is null ? "" : " AND e.network_name = @network";
        await using (DbCommand cmd = Sql.Command(conn, null, $"""
            SELECT DISTINCT c.vantage, v.node_id
            FROM crawls c JOIN visits v ON v.crawl_id = c.id{enrJoin}
            WHERE c.started_at >= @from AND c.started_at < @to AND v.kind = 'crawl'{crawlFilter}{enrFilter}
            """, ("from", from.UtcDateTime), ("to", to.UtcDateTime), ("crawlNetwork", crawlNetwork), ("network", network)))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                long bit = 1L << index[r.GetString(0)];
                byte[] node = (byte[])r.GetValue(1);
                histories[node] = histories.GetValueOrDefault(node) | bit;
            }
        }
        return Merge(from, to, network, crawlNetwork, names, crawlsByVantage, histories.Values);
    }

    /// <summary>The merged census from each node's capture history (bit i = vantage <paramref name="names"/>[i]).</summary>
    internal static MergedCensus Merge(DateTimeOffset from, DateTimeOffset to, string? network, string? crawlNetwork, IReadOnlyList<string> names,
        IReadOnlyDictionary<string, List<long>> crawls, IEnumerable<long> nodeHistories)
    {
        if (names.Count > 62) throw new ArgumentException("a merged census takes at most 62 vantages", nameof(names));
        var counts = new Dictionary<long, long>();
        foreach (long h in nodeHistories) counts[h] = counts.GetValueOrDefault(h) + 1;
        long observed = counts.Values.Sum();
        int k = names.Count;

        PopulationEstimate? estimate = k <= CaptureRecapture.MaxSamples
            ? CaptureRecapture.Estimate(k, counts.ToDictionary(kv => (int)kv.Key, kv => kv.Value))
            : null;
        double? population = estimate is { Valid: true } e ? e.Estimate : null;

        var vantages = new List<VantageCoverage>(k);
        for (int i = 0; i < k; i++)
        {
            long bit = 1L << i;
            long seen = counts.Where(kv => (kv.Key & bit) != 0).Sum(kv => kv.Value);
            long only = counts.GetValueOrDefault(bit);
            vantages.Add(new VantageCoverage(names[i], crawls[names[i]], seen, only, observed == 0 ? 0 : (double)seen / observed,
                population is > 0 ? seen / population.Value : null));
        }
        var overlaps = new List<VantageOverlap>();
        for (int i = 0; i < k; i++)
        {
            for (int j = i + 1; j < k; j++)
            {
                long pair = (1L << i) | (1L << j);
                long both = counts.Where(kv => (kv.Key & pair) == pair).Sum(kv => kv.Value);
                long either = counts.Where(kv => (kv.Key & pair) != 0).Sum(kv => kv.Value);
                overlaps.Add(new VantageOverlap(names[i], names[j], both, either == 0 ? 0 : (double)both / either));
            }
        }
        var histories = counts
            .Select(kv => new CaptureHistory(Enumerable.Range(0, k).Where(i => (kv.Key & (1L << i)) != 0).Select(i => names[i]).ToList(), kv.Value))
            .OrderByDescending(h => h.Count).ThenBy(h => string.Join(",", h.Vantages), StringComparer.Ordinal)
            .ToList();
        return new MergedCensus
        {
            From = from, To = to, Network = network, CrawlNetwork = crawlNetwork, Observed = observed,
            Vantages = vantages, Overlaps = overlaps, Histories = histories, Estimate = estimate,
        };
    }
}
