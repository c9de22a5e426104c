using System.Data.Common;
using System.Globalization;

namespace ClP2p.Storage;

// Sync health, churn between two crawls, uptime from the liveness re-dials, and the ENR rows fork readiness is
// computed from. Read-only like the rest of the census.
public sealed partial class CensusService
{
    /// <summary>Most nodes listed per kind of change by <see cref="GetChurnAsync"/>.</summary>
    public const int MaxChurnList = 1000;

    private async Task<CrawlRow?> ResolveAsync(DbConnection conn, long? crawlId, CancellationToken ct) =>
        crawlId is { } id
            ? await QueryCrawlAsync(conn, "WHERE c.id = @id", ct, ("id", id)).ConfigureAwait(false)
            : await LatestAsync(conn, null, ct).ConfigureAwait(false);

    private NetworkClock? ClockOf(string? network, NetworkClock? crawlClock)
    {
        if (network is null) return null;
        if (crawlClock is not null && crawlClock.Name == network) return crawlClock;
        return _clocks(network);
    }

    /// <summary>A visit's sync health and finalized lag groups (null: unknown) against <paramref name="clock"/>, the clock of the
    /// network its ENR names when it has a head slot (else null).</summary>
    internal static (string? Sync, string? Lag) ClassifySync(NetworkClock? clock, DateTime visitedAt, long? head, long? finalized)
    {
        if (clock is null || head is not { } h) return (null, null);
        long wall = clock.SlotAt(new DateTimeOffset(visitedAt));
        string sync = SyncHealth.Classify(wall - h, clock.SlotsPerEpoch);
        return (sync, finalized is { } f ? SyncHealth.FinalizedBucket(Math.Max(0, wall / clock.SlotsPerEpoch) - f) : null);
    }

    /// <summary>The clock <see cref="ClassifySync"/> takes for a visit whose ENR names
    /// <paramref name="network"/>, one lookup per network in <paramref name="clocks"/>.</summary>
    private NetworkClock? SyncClock(string? network, NetworkClock? crawlClock, Dictionary<string, NetworkClock?> clocks)
    {
        if (network is null) return null;
        if (!clocks.TryGetValue(network, out NetworkClock? clock)) clocks[network] = clock = ClockOf(network, crawlClock);
        return clock;
    }

    // Sync health and finalized lag of one crawl: Status fields of every visit, classified against the clock of the
    // network its ENR names (a query, not a stored census, because it needs each network's genesis).
    private async Task<List<(string? Key, string? Label, long Count)>> ReadSyncGroupsAsync(DbConnection conn, CrawlInfo crawl, CensusDimension dimension,
        string? network, CancellationToken ct) =>
        (await ReadSyncGroupsAsync(conn, crawl, [dimension], network, ct).ConfigureAwait(false))[dimension];

    // Both computed dimensions (or one) from one read of the crawl's visits.
    private async Task<Dictionary<CensusDimension, List<(string? Key, string? Label, long Count)>>> ReadSyncGroupsAsync(DbConnection conn, CrawlInfo crawl,
        IReadOnlyCollection<CensusDimension> dimensions, string? network, CancellationToken ct)
    {
        NetworkClock? crawlClock = NetworkClock.FromCrawlParameters(crawl.ParametersJson);
        bool sync = dimensions.Contains(CensusDimension.SyncHealth), lag = dimensions.Contains(CensusDimension.FinalizedLag);
        var syncCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lagCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        long syncUnknown = 0, lagUnknown = 0;
        var clocks = new Dictionary<string, NetworkClock?>(StringComparer.Ordinal);   // one lookup per network, not per visit
        await using (DbCommand cmd = Sql.Command(conn, null, $"""
            SELECT e.network_name, v.visited_at, v.head_slot, v.finalized_epoch
            FROM visits v LEFT JOIN enr_history e ON e.node_id = v.node_id AND e.seq = v.enr_seq
            WHERE v.crawl_id = @crawl AND v.kind = 'crawl'{(network is null ? "" : " AND e.network_name = @network")}
            """, ("crawl", crawl.Id), ("network", network)))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                long? head = r.GetInt64OrNull(2);
                long? finalized = r.GetInt64OrNull(3);
                NetworkClock? clock = head is null ? null : SyncClock(r.GetStringOrNull(0), crawlClock, clocks);
                (string? syncKey, string? lagKey) = ClassifySync(clock, r.GetUtc(1), head, finalized);
                if (syncKey is null) syncUnknown++;
                else syncCounts[syncKey] = syncCounts.GetValueOrDefault(syncKey) + 1;
                if (lagKey is null) lagUnknown++;
                else lagCounts[lagKey] = lagCounts.GetValueOrDefault(lagKey) + 1;
            }
        }
        static List<(string?, string?, long)> Rows(Dictionary<string, long> counts, long unknown)
        {
            var rows = counts.Select(kv => ((string?)kv.Key, (string?)null, kv.Value)).ToList();
            if (unknown > 0) rows.Add((null, null, unknown));
            return rows;
        }
        var result = new Dictionary<CensusDimension, List<(string? Key, string? Label, long Count)>>();
        if (sync) result[CensusDimension.SyncHealth] = Rows(syncCounts, syncUnknown);
        if (lag) result[CensusDimension.FinalizedLag] = Rows(lagCounts, lagUnknown);
        return result;
    }

    /// <summary>
    /// What changed between crawl <paramref name="fromCrawl"/> and crawl <paramref name="toCrawl"/>: nodes seen only in
    /// the second (appeared), only in the first (vanished), and seen in both with another client or client version, or
    /// another ENR fork digest. <paramref name="toCrawl"/> defaults to the latest crawl, <paramref name="fromCrawl"/> to
    /// the crawl of the same network started just before it. <paramref name="network"/> keeps nodes whose ENR (in the
    /// crawl where it is seen, the second for changes) names that network. Null when a crawl is missing.
    /// </summary>
    public async Task<ChurnResult?> GetChurnAsync(long? fromCrawl, long? toCrawl, string? network = null, int limit = 100, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxChurnList);
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        if (await ResolveAsync(conn, toCrawl, ct).ConfigureAwait(false) is not { } to) return null;
        CrawlRow? from = fromCrawl is { } f
            ? await QueryCrawlAsync(conn, "WHERE c.id = @id", ct, ("id", f)).ConfigureAwait(false)
            : await QueryCrawlAsync(conn, "WHERE c.network = @net AND (c.started_at < @at OR (c.started_at = @at AND c.id < @id)) ORDER BY c.started_at DESC, c.id DESC LIMIT 1", ct,
                ("net", to.Info.Network), ("at", to.Info.StartedAt.UtcDateTime), ("id", to.Info.Id)).ConfigureAwait(false);
        if (from is not { } a) return null;
        // Between two finished crawls the answer never changes: keyed by both crawls and their census builds.
        CrawlKey key = a.Key.BuiltAt is null ? new CrawlKey(to.Info.Id, null) : to.Key;
        string query = string.Create(CultureInfo.InvariantCulture, $"{a.Key.BuiltAt?.Ticks}\n{network}\n{limit}");
        return await _churnCache.GetOrComputeAsync(key, a.Info.Id, query, () => ChurnAsync(conn, a, to, network, limit, ct)).ConfigureAwait(false);
    }

    private readonly FinishedCrawlCache<ChurnResult> _churnCache = new();

    private static async Task<ChurnResult> ChurnAsync(DbConnection conn, CrawlRow a, CrawlRow to, string? network, int limit, CancellationToken ct)
    {
        string net(string e) => network is null ? "" : $" AND {e}.network_name = @network";

        async Task<(long Count, List<ChurnNode> Items)> OnlyInAsync(long inCrawl, long notIn, CancellationToken t)
        {
            var items = new List<ChurnNode>();
            long count = 0;
            await using DbCommand cmd = Sql.Command(conn, null, $"""
                SELECT b.node_id, ab.client, ab.version, eb.fork_digest
                FROM visits b LEFT JOIN agent_versions ab ON ab.id = b.agent_version_id
                LEFT JOIN enr_history eb ON eb.node_id = b.node_id AND eb.seq = b.enr_seq
                WHERE b.crawl_id = @in AND b.kind = 'crawl'{net("eb")}
                  AND NOT EXISTS (SELECT 1 FROM visits o WHERE o.crawl_id = @notin AND o.node_id = b.node_id AND o.kind = 'crawl')
                ORDER BY b.node_id
                """, ("in", inCrawl), ("notin", notIn), ("network", network));
            await using DbDataReader r = await cmd.ExecuteReaderAsync(t).ConfigureAwait(false);
            while (await r.ReadAsync(t).ConfigureAwait(false))
            {
                if (count++ < limit)
                    items.Add(new ChurnNode(Convert.ToHexStringLower((byte[])r.GetValue(0)), r.GetStringOrNull(1), null, VersionOf(r.GetStringOrNull(1), r.GetStringOrNull(2)), r.GetStringOrNull(3)));
            }
            return (count, items);
        }

        var appeared = await OnlyInAsync(to.Info.Id, a.Info.Id, ct).ConfigureAwait(false);
        var vanished = await OnlyInAsync(a.Info.Id, to.Info.Id, ct).ConfigureAwait(false);
        var versionChanged = new List<ChurnNode>();
        var forkChanged = new List<ChurnNode>();
        long versionCount = 0, forkCount = 0;
        await using (DbCommand cmd = Sql.Command(conn, null, $"""
            SELECT b.node_id, ab.client, aa.client, aa.version, ab.version, ea.fork_digest, eb.fork_digest
            FROM visits b JOIN visits a ON a.crawl_id = @from AND a.node_id = b.node_id AND a.kind = 'crawl'
            LEFT JOIN agent_versions aa ON aa.id = a.agent_version_id
            LEFT JOIN agent_versions ab ON ab.id = b.agent_version_id
            LEFT JOIN enr_history ea ON ea.node_id = a.node_id AND ea.seq = a.enr_seq
            LEFT JOIN enr_history eb ON eb.node_id = b.node_id AND eb.seq = b.enr_seq
            WHERE b.crawl_id = @to AND b.kind = 'crawl'{net("eb")}
              AND ((aa.id IS NOT NULL AND ab.id IS NOT NULL AND aa.id <> ab.id AND (COALESCE(aa.client, '') <> COALESCE(ab.client, '') OR COALESCE(aa.version, '') <> COALESCE(ab.version, '')))
                   OR (ea.fork_digest IS NOT NULL AND eb.fork_digest IS NOT NULL AND ea.fork_digest <> eb.fork_digest))
            ORDER BY b.node_id
            """, ("from", a.Info.Id), ("to", to.Info.Id), ("network", network)))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                string id = Convert.ToHexStringLower((byte[])r.GetValue(0));
                string? fromVersion = VersionOf(r.GetStringOrNull(2), r.GetStringOrNull(3)), toVersion = VersionOf(r.GetStringOrNull(1), r.GetStringOrNull(4));
                if (fromVersion is not null && toVersion is not null && fromVersion != toVersion && versionCount++ < limit)
                    versionChanged.Add(new ChurnNode(id, r.GetStringOrNull(1), fromVersion, toVersion, r.GetStringOrNull(6)));
                string? fd = r.GetStringOrNull(5), td = r.GetStringOrNull(6);
                if (fd is not null && td is not null && fd != td && forkCount++ < limit)
                    forkChanged.Add(new ChurnNode(id, r.GetStringOrNull(1), fd, td, td));
            }
        }
        return new ChurnResult
        {
            From = a.Info, To = to.Info, Network = network,
            Appeared = appeared.Count, Vanished = vanished.Count, ClientVersionChanged = versionCount, ForkChanged = forkCount,
            AppearedNodes = appeared.Items, VanishedNodes = vanished.Items, ClientVersionChangedNodes = versionChanged, ForkChangedNodes = forkChanged,
        };
    }

    private static string? VersionOf(string? client, string? version) => client is null ? null : client + "/" + (version ?? "");

    /// <summary>Crawls that started this long before an uptime window are not searched for visits in it (visits are
    /// found through their crawl's index; a crawl runs for minutes to hours).</summary>
    public static readonly TimeSpan MaxCrawlSpan = TimeSpan.FromDays(1);

    /// <summary>
    /// Nodes up in the window (<paramref name="now"/> - <paramref name="window"/>, <paramref name="now"/>]: a dial of
    /// theirs succeeded (ok) in a crawl or a liveness re-dial in that window; grouped by client. <paramref name="network"/>
    /// keeps nodes whose ENR at that visit names that network.
    /// </summary>
    public async Task<UptimeWindow> GetUpCensusAsync(TimeSpan window, DateTimeOffset now, string? network = null, CancellationToken ct = default)
    {
        DateTime since = (now - window).UtcDateTime;
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        // Two index-friendly halves (a crawl's visits through its crawl id, re-dials through crawl_id IS NULL) instead of
        // one OR, which PostgreSQL answers with a scan of every visit.
        string enr = network is null ? "" : " JOIN enr_history e ON e.node_id = v.node_id AND e.seq = v.enr_seq";
        string filter = "v.dial_outcome = 'ok' AND v.visited_at > @since AND v.visited_at <= @now" + (network is null ? "" : " AND e.network_name = @network");
        var rows = await ReadGroupsAsync(conn, $"""
            SELECT u.client, CAST(NULL AS TEXT), COUNT(*) FROM (
              SELECT x.node_id, MAX(x.client) AS client FROM (
                SELECT v.node_id, a.client
                FROM crawls c JOIN visits v ON v.crawl_id = c.id{enr} LEFT JOIN agent_versions a ON a.id = v.agent_version_id
                WHERE c.started_at > @crawlsFrom AND (c.finished_at IS NULL OR c.finished_at > @since) AND {filter}
                UNION ALL
                SELECT v.node_id, a.client
                FROM visits v{enr} LEFT JOIN agent_versions a ON a.id = v.agent_version_id
                WHERE v.crawl_id IS NULL AND {filter}) x
              GROUP BY x.node_id) u
            GROUP BY u.client
            """, ct, ("since", since), ("now", now.UtcDateTime), ("network", network), ("crawlsFrom", since - MaxCrawlSpan)).ConfigureAwait(false);
        (long total, IReadOnlyList<CensusGroup> groups) = ToGroups(rows);
        return new UptimeWindow { Window = window, Since = since, Until = now, Up = total, Groups = groups };
    }

    /// <summary>
    /// A node's uptime sessions from its dialled visits (crawls and liveness re-dials), oldest first: a session is a run
    /// of successful dials, from the first to the last of the run, ended by the next failed dial (as Nebula's monitor
    /// keeps them). Visits that did not dial (not_dialled) say nothing about liveness and are skipped. Null when unknown.
    /// </summary>
    public async Task<NodeUptime?> GetNodeUptimeAsync(byte[] nodeId, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        if (await Sql.ScalarAsync(conn, "SELECT 1 FROM nodes WHERE node_id = @id", ct, ("id", nodeId)).ConfigureAwait(false) is null) return null;
        var sessions = new List<UptimeSession>();
        int dialled = 0, ok = 0;
        DateTimeOffset? first = null, last = null;
        int runVisits = 0;
        bool lastOk = false;
        await using (DbCommand cmd = Sql.Command(conn, null, $"""
            SELECT v.visited_at, v.dial_outcome FROM {NodeVisits} v WHERE v.dial_outcome <> 'not_dialled' ORDER BY v.visited_at, v.id
            """, ("id", nodeId)))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                DateTimeOffset at = r.GetUtc(0);
                dialled++;
                lastOk = r.GetString(1) == "ok";
                if (lastOk)
                {
                    ok++;
                    first ??= at;
                    last = at;
                    runVisits++;
                }
                else if (first is not null)
                {
                    sessions.Add(new UptimeSession(first.Value, last!.Value, at, runVisits));
                    first = last = null;
                    runVisits = 0;
                }
            }
        }
        if (first is not null) sessions.Add(new UptimeSession(first.Value, last!.Value, null, runVisits));
        return new NodeUptime { NodeId = Convert.ToHexStringLower(nodeId), DialledVisits = dialled, OkVisits = ok, UpAtLastDial = dialled > 0 && lastOk, Sessions = sessions };
    }

    /// <summary>
    /// The parameters JSON of the newest crawls (at most <paramref name="max"/>, newest first) that name
    /// <paramref name="networkName"/> as their network (<c>network_name</c>, as <c>clp2p crawl</c> stores it with the
    /// network's clock and, for a custom network, its config): where a custom network's fork schedule is found.
    /// </summary>
    public async Task<IReadOnlyList<string>> GetNetworkParametersAsync(string networkName, int max = 20, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(networkName);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        var found = new List<string>();
        // LIKE narrows to the name as the crawler's JSON writes it; the parsed JSON decides.
        string written = System.Text.Json.JsonSerializer.Serialize(networkName);
        string like = "%\"network_name\":" + written.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal)
            .Replace("_", "\\_", StringComparison.Ordinal) + "%";
        await using DbCommand cmd = Sql.Command(conn, null,
            "SELECT c.parameters_json FROM crawls c WHERE c.parameters_json LIKE @like ESCAPE '\\' ORDER BY c.started_at DESC, c.id DESC",
            ("like", like));
        await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (found.Count < max && await r.ReadAsync(ct).ConfigureAwait(false))
        {
            string json = r.GetString(0);
            if (NetworkNameOf(json) == networkName) found.Add(json);
        }
        return found;
    }

    private static string? NetworkNameOf(string parametersJson)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(parametersJson);
            return doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("network_name", out var n)
                && n.ValueKind == System.Text.Json.JsonValueKind.String ? n.GetString() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The ENR fork fields and client of every node seen in a crawl (latest when null) whose ENR fork digest names
    /// <paramref name="network"/>, grouped: the input of fork readiness. Null when the crawl does not exist.
    /// </summary>
    public async Task<(CrawlInfo Crawl, IReadOnlyList<ForkFieldsRow> Rows)?> GetForkFieldsAsync(long? crawlId, string network, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(network);
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        if (await ResolveAsync(conn, crawlId, ct).ConfigureAwait(false) is not { } c) return null;
        return (c.Info, await _forkFieldsCache.GetOrComputeAsync(c.Key, 0, network, () => ReadForkFieldsAsync(conn, c.Info.Id, network, ct)).ConfigureAwait(false));
    }

    private readonly FinishedCrawlCache<IReadOnlyList<ForkFieldsRow>> _forkFieldsCache = new();

    private static async Task<IReadOnlyList<ForkFieldsRow>> ReadForkFieldsAsync(DbConnection conn, long crawlId, string network, CancellationToken ct)
    {
        var rows = new List<ForkFieldsRow>();
        await using DbCommand cmd = Sql.Command(conn, null, """
            SELECT a.client, a.version, e.fork_digest, e.next_fork_version, e.next_fork_epoch, e.nfd, COUNT(*)
            FROM visits v JOIN enr_history e ON e.node_id = v.node_id AND e.seq = v.enr_seq
            LEFT JOIN agent_versions a ON a.id = v.agent_version_id
            WHERE v.crawl_id = @crawl AND v.kind = 'crawl' AND e.network_name = @network
            GROUP BY a.client, a.version, e.fork_digest, e.next_fork_version, e.next_fork_epoch, e.nfd
            """, ("crawl", crawlId), ("network", network));
        await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
            rows.Add(new ForkFieldsRow(r.GetStringOrNull(0), r.GetStringOrNull(1), r.GetStringOrNull(2), r.GetStringOrNull(3), Sql.Unsigned(r.GetInt64OrNull(4)),
                r.GetStringOrNull(5), Convert.ToInt64(r.GetValue(6), CultureInfo.InvariantCulture)));
        return rows;
    }
}

/// <summary>A node in a churn list.</summary>
/// <param name="NodeId">64 hex digits.</param>
/// <param name="Client">Client in the later crawl (or the only one it was seen in).</param>
/// <param name="From">The earlier value (client/version or fork digest) for a change; null for appeared/vanished.</param>
/// <param name="To">The later value for a change; the node's client/version for appeared/vanished.</param>
/// <param name="ForkDigest">ENR fork digest where it was seen (the later crawl for a change).</param>
public sealed record ChurnNode(string NodeId, string? Client, string? From, string? To, string? ForkDigest);

/// <summary>Nodes that appeared, vanished or changed between two crawls (counts, and the first nodes of each list by node id).</summary>
public sealed record ChurnResult
{
    public required CrawlInfo From { get; init; }
    public required CrawlInfo To { get; init; }
    public string? Network { get; init; }
    public required long Appeared { get; init; }
    public required long Vanished { get; init; }
    public required long ClientVersionChanged { get; init; }
    public required long ForkChanged { get; init; }
    public required IReadOnlyList<ChurnNode> AppearedNodes { get; init; }
    public required IReadOnlyList<ChurnNode> VanishedNodes { get; init; }
    public required IReadOnlyList<ChurnNode> ClientVersionChangedNodes { get; init; }
    public required IReadOnlyList<ChurnNode> ForkChangedNodes { get; init; }
}

/// <summary>Nodes up (a successful dial) in a time window, by client.</summary>
public sealed record UptimeWindow
{
    public required TimeSpan Window { get; init; }
    public required DateTimeOffset Since { get; init; }
    public required DateTimeOffset Until { get; init; }
    public required long Up { get; init; }
    public required IReadOnlyList<CensusGroup> Groups { get; init; }
}

/// <summary>One uptime session: a run of successful dials.</summary>
/// <param name="FirstOk">First successful dial of the run.</param>
/// <param name="LastOk">Last successful dial of the run.</param>
/// <param name="FirstFailed">The failed dial that ended it; null while the node is still up.</param>
/// <param name="OkVisits">Successful dials in the run.</param>
public sealed record UptimeSession(DateTimeOffset FirstOk, DateTimeOffset LastOk, DateTimeOffset? FirstFailed, int OkVisits);

/// <summary>A node's uptime sessions.</summary>
public sealed record NodeUptime
{
    public required string NodeId { get; init; }
    public required int DialledVisits { get; init; }
    public required int OkVisits { get; init; }
    public required bool UpAtLastDial { get; init; }
    public required IReadOnlyList<UptimeSession> Sessions { get; init; }
}

/// <summary>ENR fork fields with the client of the nodes that carry them, and how many nodes.</summary>
public sealed record ForkFieldsRow(string? Client, string? Version, string? ForkDigest, string? NextForkVersion, ulong? NextForkEpoch, string? Nfd, long Count);
