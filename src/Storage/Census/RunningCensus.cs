using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ClP2p.Storage;

/// <summary>
/// The census of running crawls, kept up to date from what was written instead of counted again after every write. Per
/// crawl it holds each of its visits with the group it falls in on every dimension (<see cref="CensusSql.CrawlVisitKeys"/>:
/// the same expressions as the live census), read once; after a commit it reads, in one read transaction, the
/// <see cref="CensusChanges"/> committed since, the crawl's visits appended since (checked against the count the writers
/// logged, so a batch that committed out of id order is never missed) and, again, the visits whose geo row or ENR row was
/// written since. Any other change (<see cref="CensusChangeKinds.All"/>: visits updated or deleted, agents or digest names
/// rewritten, old change rows pruned) reads the crawl again. Censuses are then counted from memory.
/// Thread-safe: one refresh per crawl at a time; a published state is never changed.
/// </summary>
internal sealed class RunningCensus(StorageOptions options)
{
    /// <summary>Most crawls kept (running crawls are few; past it the states start over).</summary>
    public const int Capacity = 16;

    /// <summary>The dimensions kept per visit: every stored one, in declaration order.</summary>
    public static readonly IReadOnlyList<CensusDimension> Stored = [.. CensusDimensions.All.Where(d => !CensusDimensions.IsComputed(d))];

    private static readonly (string Key, string? Label, bool LabelIsGroup)[] StoredColumns = [.. Stored.Select(CensusSql.Columns)];

    private static readonly int[] StoredIndex = BuildIndex();

    private static long s_generation;

    private readonly ConcurrentDictionary<long, State> _states = new();
    private readonly ConcurrentDictionary<long, SemaphoreSlim> _locks = new();

    /// <summary>A visit as the census groups it: per stored dimension its key and label, and its sync health groups.</summary>
    internal sealed record Visit(long Id, string? Ip, string Node, string? NodeNetwork, string? EnrNetwork, string?[] Keys, string?[] Labels, string? Sync, string? Lag);

    /// <summary>
    /// A crawl's visits at the database state of <see cref="Token"/>. <see cref="Generation"/> changes exactly when the
    /// visits do (a write that changed none of them, such as a heartbeat or another crawl's batch, keeps it).
    /// </summary>
    internal sealed record State(string DataVersion, string Token, long MaxId, IReadOnlyDictionary<long, Visit> Visits, Aggregate Counts, long Generation);

    /// <summary>Classifies a visit's sync health: (ENR network name, visited_at, head slot, finalized epoch) → groups.</summary>
    public delegate (string? Sync, string? Lag) SyncClassifier(string? enrNetwork, DateTime visitedAt, long? head, long? finalized);

    /// <summary>
    /// The visits of running crawl <paramref name="crawlId"/> as of now. <paramref name="dataVersion"/> was read (on
    /// <paramref name="conn"/>, the request's open connection) just before: while it is unchanged, the state is served.
    /// </summary>
    public async Task<State> GetAsync(DbConnection conn, long crawlId, string dataVersion, SyncClassifier classify, CancellationToken ct)
    {
        if (_states.TryGetValue(crawlId, out State? held) && held.DataVersion == dataVersion) return held;
        SemaphoreSlim gate = _locks.GetOrAdd(crawlId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_states.TryGetValue(crawlId, out held) && held.DataVersion == dataVersion) return held;
            State next;
            await using (DbTransaction tx = await BeginReadAsync(conn, ct).ConfigureAwait(false))
            {
                string token = await CensusChanges.TokenAsync(conn, tx, options.Provider, ct).ConfigureAwait(false);
                next = (held is null ? null : await UpdateAsync(conn, tx, crawlId, held, token, dataVersion, classify, ct).ConfigureAwait(false))
                    ?? await LoadAsync(conn, tx, crawlId, token, dataVersion, classify, ct).ConfigureAwait(false);
                await tx.CommitAsync(ct).ConfigureAwait(false);
            }
            if (_states.Count >= Capacity && !_states.ContainsKey(crawlId)) _states.Clear();
            _states[crawlId] = next;
            return next;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Forgets a crawl (once it is finished its census is stored).</summary>
    public void Forget(long crawlId)
    {
        if (!_states.IsEmpty) _states.TryRemove(crawlId, out _);
    }

    private async Task<DbTransaction> BeginReadAsync(DbConnection conn, CancellationToken ct)
    {
        // One snapshot for the token and every read after it. SQLite: a deferred transaction only reads (an immediate one,
        // the default, would take the write lock).
        if (conn is SqliteConnection sqlite) return sqlite.BeginTransaction(deferred: true);
        return await conn.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct).ConfigureAwait(false);
    }

    private async Task<State> LoadAsync(DbConnection conn, DbTransaction tx, long crawlId, string token, string dataVersion, SyncClassifier classify, CancellationToken ct)
    {
        var visits = new Dictionary<long, Visit>();
        var counts = new Aggregate();
        foreach (Visit v in await ReadAsync(conn, tx, crawlId, "", [], classify, ct).ConfigureAwait(false))
        {
            visits[v.Id] = v;
            counts.Add(v, 1);
        }
        return new State(dataVersion, token, visits.Count == 0 ? 0 : visits.Keys.Max(), visits, counts, Interlocked.Increment(ref s_generation));
    }

    // The state brought up to date from the changes since its token, or null when the crawl must be read again.
    private async Task<State?> UpdateAsync(DbConnection conn, DbTransaction tx, long crawlId, State held, string token, string dataVersion,
        SyncClassifier classify, CancellationToken ct)
    {
        List<CensusChanges.Change> changes = await CensusChanges.SinceAsync(conn, tx, options.Provider, held.Token, ct).ConfigureAwait(false);
        long appended = 0;
        var ips = new HashSet<string>(StringComparer.Ordinal);
        var nodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (CensusChanges.Change c in changes)
        {
            switch (c.Kind)
            {
                case CensusChangeKinds.Visits:
                    if (c.CrawlId == crawlId) appended += c.Rows;
                    break;
                case CensusChangeKinds.Geo:
                    Split(c.Keys, ips);
                    break;
                case CensusChangeKinds.Enr:
                    Split(c.Keys, nodes);
                    break;
                default:
                    if (c.Kind != CensusChangeKinds.All || c.CrawlId is null || c.CrawlId == crawlId) return null;
                    break;
            }
        }
        List<long> affected = ips.Count == 0 && nodes.Count == 0 ? [] :
            [.. held.Visits.Values.Where(v => (v.Ip is not null && ips.Contains(v.Ip)) || nodes.Contains(v.Node)).Select(v => v.Id)];
        if (appended == 0 && affected.Count == 0) return held with { DataVersion = dataVersion, Token = token };

        List<Visit> added = appended == 0 ? [] : await ReadAsync(conn, tx, crawlId, " AND v.id > @after", [("after", held.MaxId)], classify, ct).ConfigureAwait(false);
        // every visit appended since was logged with its batch: fewer found above the last id read means one committed
        // below it (its batch drew its ids before a batch that committed first)
        if (added.Count != appended) return null;
        List<Visit> reread = [];
        if (affected.Count > 0)
        {
            (string Name, object? Value) ids = options.Provider == StorageProvider.Postgres
                ? ("ids", affected.ToArray())
                : ("ids", "[" + string.Join(',', affected.Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]");
            string where = options.Provider == StorageProvider.Postgres ? " AND v.id = ANY(@ids)" : " AND v.id IN (SELECT value FROM json_each(@ids))";
            reread = await ReadAsync(conn, tx, crawlId, where, [ids], classify, ct).ConfigureAwait(false);
            if (reread.Count != affected.Count) return null;
        }
        var visits = new Dictionary<long, Visit>(held.Visits);
        Aggregate counts = held.Counts.Clone();
        foreach (Visit v in reread)
        {
            counts.Add(visits[v.Id], -1);
            counts.Add(v, 1);
            visits[v.Id] = v;
        }
        foreach (Visit v in added)
        {
            counts.Add(v, 1);
            visits.Add(v.Id, v);
        }
        long maxId = added.Count == 0 ? held.MaxId : Math.Max(held.MaxId, added.Max(v => v.Id));
        return new State(dataVersion, token, maxId, visits, counts, Interlocked.Increment(ref s_generation));
    }

    private static void Split(string? keys, HashSet<string> into)
    {
        if (keys is null) return;
        foreach (string k in keys.Split('\n')) into.Add(k);
    }

    private static async Task<List<Visit>> ReadAsync(DbConnection conn, DbTransaction tx, long crawlId, string where, (string, object?)[] parameters,
        SyncClassifier classify, CancellationToken ct)
    {
        var visits = new List<Visit>();
        // group keys and labels repeat across visits (a few hundred distinct values): one string each
        var pool = new Dictionary<string, string>(StringComparer.Ordinal);
        string? Pooled(string? value) => value is null ? null : pool.TryGetValue(value, out string? held) ? held : pool[value] = value;
        await using DbCommand cmd = Sql.Command(conn, tx, CensusSql.CrawlVisitKeys(Stored, where), [("crawl", crawlId), .. parameters]);
        await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            var keys = new string?[Stored.Count];
            var labels = new string?[Stored.Count];
            for (int d = 0; d < Stored.Count; d++)
            {
                int i = StoredIndex[d];
                keys[d] = Pooled(r.IsDBNull(i) ? null : Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture));
                if (StoredColumns[d].Label is not null) labels[d] = Pooled(r.GetStringOrNull(i + 1));
            }
            string? enrNetwork = Pooled(r.GetStringOrNull(4));
            (string? sync, string? lag) = classify(enrNetwork, r.GetUtc(5), r.GetInt64OrNull(6), r.GetInt64OrNull(7));
            visits.Add(new Visit(r.GetInt64(0), r.GetStringOrNull(1), Convert.ToHexStringLower((byte[])r.GetValue(2)), Pooled(r.GetStringOrNull(3)), enrNetwork,
                keys, labels, sync, lag));
        }
        return visits;
    }

    // The column of each stored dimension's key in CensusSql.CrawlVisitKeys (its label, when it has one, follows it).
    private static int[] BuildIndex()
    {
        var index = new int[Stored.Count];
        int column = 8;
        for (int d = 0; d < Stored.Count; d++)
        {
            index[d] = column;
            column += StoredColumns[d].Label is null ? 1 : 2;
        }
        return index;
    }

    /// <summary>
    /// A crawl's visits counted per dimension, network (the one the census filters by: <see cref="Visit.NodeNetwork"/>,
    /// for sync health <see cref="Visit.EnrNetwork"/>) and group, with the labels of each group counted so that the
    /// greatest stays known when a visit leaves it. Changed only while a state is built.
    /// </summary>
    internal sealed class Aggregate
    {
        // one table per stored dimension, then sync health and finalized lag
        private readonly Dictionary<(string? Network, string? Key, string? Label), Group>[] _groups;

        public Aggregate()
        {
            _groups = new Dictionary<(string?, string?, string?), Group>[Stored.Count + 2];
            for (int i = 0; i < _groups.Length; i++) _groups[i] = [];
        }

        private Aggregate(Dictionary<(string?, string?, string?), Group>[] groups) => _groups = groups;

        private sealed class Group
        {
            public long Count;
            public Dictionary<string, long>? Labels;

            public Group Clone() => new() { Count = Count, Labels = Labels is null ? null : new Dictionary<string, long>(Labels, StringComparer.Ordinal) };
        }

        public Aggregate Clone() => new([.. _groups.Select(t => t.ToDictionary(kv => kv.Key, kv => kv.Value.Clone()))]);

        /// <summary>Counts <paramref name="v"/> in (sign 1) or out of (sign −1) its groups.</summary>
        public void Add(Visit v, int sign)
        {
            for (int d = 0; d < Stored.Count; d++)
            {
                bool labelIsGroup = StoredColumns[d].LabelIsGroup;
                string? label = v.Labels[d];
                Bump(_groups[d], (v.NodeNetwork, v.Keys[d], labelIsGroup ? label : null), labelIsGroup ? null : label, sign);
            }
            Bump(_groups[Stored.Count], (v.EnrNetwork, v.Sync, null), null, sign);
            Bump(_groups[Stored.Count + 1], (v.EnrNetwork, v.Lag, null), null, sign);
        }

        private static void Bump(Dictionary<(string?, string?, string?), Group> table, (string?, string?, string?) key, string? label, int sign)
        {
            if (!table.TryGetValue(key, out Group? g)) table[key] = g = new Group();
            g.Count += sign;
            if (label is null) return;
            g.Labels ??= new Dictionary<string, long>(StringComparer.Ordinal);
            long n = g.Labels.GetValueOrDefault(label) + sign;
            if (n == 0) g.Labels.Remove(label);
            else g.Labels[label] = n;
        }

        /// <summary>
        /// The groups of <paramref name="dimension"/> (of nodes counted on <paramref name="network"/> when given), as the
        /// live census query gives them: (key, label, count), the label of a group being its visits' greatest (MAX: ordinal,
        /// as SQLite and PostgreSQL's C collation order text).
        /// </summary>
        public List<(string? Key, string? Label, long Count)> Groups(CensusDimension dimension, string? network)
        {
            int d = dimension switch
            {
                CensusDimension.SyncHealth => Stored.Count,
                CensusDimension.FinalizedLag => Stored.Count + 1,
                _ => IndexOf(dimension),
            };
            var merged = new Dictionary<(string? Key, string? Label), (string? Label, long Count)>();
            foreach (((string? net, string? key, string? groupLabel), Group g) in _groups[d])
            {
                if (g.Count == 0 || (network is not null && net != network)) continue;
                string? label = groupLabel ?? g.Labels?.Keys.Max(StringComparer.Ordinal);
                merged[(key, groupLabel)] = merged.TryGetValue((key, groupLabel), out var m)
                    ? (string.CompareOrdinal(label, m.Label) > 0 ? label : m.Label, m.Count + g.Count)
                    : (label, g.Count);
            }
            return [.. merged.Select(kv => (kv.Key.Key, kv.Value.Label, kv.Value.Count))];
        }
    }

    private static int IndexOf(CensusDimension dimension)
    {
        for (int i = 0; i < Stored.Count; i++)
            if (Stored[i] == dimension) return i;
        throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "not a stored dimension");
    }
}
