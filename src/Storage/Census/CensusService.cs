using System.Buffers.Text;
using System.Data.Common;
using System.Runtime.CompilerServices;

namespace ClP2p.Storage;

/// <summary>
/// Read-only census queries used by the CLI and the API. "Nodes seen in a crawl" are the crawl's visits of kind
/// crawl (one per node). Census counts of finished crawls come from the pre-aggregated table crawl_census (built by
/// <c>CrawlStore.FinishCrawlAsync</c>), those of running crawls are computed live from visits; both give the
/// same numbers. Thread-safe; every call opens its own pooled connection. Methods take a CancellationToken: the API
/// should pass a token with its query timeout.
/// </summary>
public sealed partial class CensusService
{
    /// <summary>Largest page size <see cref="ListCrawlsAsync"/> and <see cref="ListNodesAsync"/> accept.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>Most visits returned by <see cref="GetNodeHistoryAsync"/>.</summary>
    public const int MaxHistoryVisits = 1000;

    private readonly StorageOptions _options;

    private readonly Func<string, NetworkClock?> _clocks;

    /// <summary>The clocks this service was created with.</summary>
    internal Func<string, NetworkClock?> Clocks => _clocks;

    /// <summary>Creates the service over a migrated database. <paramref name="clocks"/> gives a network's clock by the
    /// name the crawler gives its fork digests (for sync health); a crawl's own parameters add the clock of its network.</summary>
    public CensusService(StorageOptions options, Func<string, NetworkClock?>? clocks = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _clocks = clocks ?? (_ => null);
        _dataVersion = new DataVersion(options);
        _running = new RunningCensus(options);
    }

    private const string CrawlColumns = """
        c.id, c.network, c.state, c.started_at, c.finished_at, c.nodes_found, c.cl_nodes, c.dialled, c.dial_ok, c.failures,
        c.parameters_json, c.summary_json, c.census_built_at,
        COALESCE((SELECT SUM(s.count) FROM crawl_census s WHERE s.crawl_id = c.id AND s.dimension = 'dial_outcome'),
                 (SELECT COUNT(*) FROM visits v WHERE v.crawl_id = c.id AND v.kind = 'crawl')),
        c.vantage, c.source_crawl_id
        """;

    // The same columns (ReadCrawl reads them by position: keep both lists in step) without counting a running crawl's visits: the census of a running crawl counts them anyway
    // (its total), so counting them twice would double the work of the live census.
    private const string CrawlColumnsNoLiveCount = """
        c.id, c.network, c.state, c.started_at, c.finished_at, c.nodes_found, c.cl_nodes, c.dialled, c.dial_ok, c.failures,
        c.parameters_json, c.summary_json, c.census_built_at,
        (SELECT SUM(s.count) FROM crawl_census s WHERE s.crawl_id = c.id AND s.dimension = 'dial_outcome'),
        c.vantage, c.source_crawl_id
        """;

    private async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        DbConnection conn = Sql.Open(_options);
        try
        {
            await conn.OpenAsync(ct).ConfigureAwait(false);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A crawl row: the crawl, and when its census was built (null: not built, e.g. still running).</summary>
    private readonly record struct CrawlRow(CrawlInfo Info, DateTime? BuiltAt)
    {
        public bool Built => BuiltAt is not null;

        /// <summary>The crawl as <see cref="FinishedCrawlCache{T}"/> keys it: cacheable once finished and built.</summary>
        public CrawlKey Key => new(Info.Id, Info.State == CrawlStates.Running ? null : BuiltAt);
    }

    private static CrawlRow ReadCrawl(DbDataReader r) => new(new CrawlInfo
    {
        Id = r.GetInt64(0),
        Network = r.GetString(1),
        State = r.GetString(2),
        StartedAt = r.GetUtc(3),
        FinishedAt = r.GetUtcOrNull(4),
        Counts = new CrawlCounts(r.GetInt32(5), r.GetInt32(6), r.GetInt32(7), r.GetInt32(8), r.GetInt32(9)),
        ParametersJson = r.GetStringOrNull(10),
        SummaryJson = r.GetStringOrNull(11),
        Visits = r.IsDBNull(13) ? 0 : Convert.ToInt64(r.GetValue(13), System.Globalization.CultureInfo.InvariantCulture),
        Vantage = r.GetString(14),
        SourceCrawlId = r.GetInt64OrNull(15),
    }, r.IsDBNull(12) ? null : r.GetUtc(12));

    private static Task<CrawlRow?> QueryCrawlAsync(DbConnection conn, string where, CancellationToken ct, params (string, object?)[] parameters) =>
        QueryCrawlAsync(conn, CrawlColumns, where, ct, parameters);

    private static async Task<CrawlRow?> QueryCrawlAsync(DbConnection conn, string columns, string where, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using DbCommand cmd = Sql.Command(conn, null, $"SELECT {columns} FROM crawls c {where}", parameters);
        await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await r.ReadAsync(ct).ConfigureAwait(false) ? ReadCrawl(r) : null;
    }

    /// <summary>One crawl, or null if there is no such crawl.</summary>
    public async Task<CrawlInfo?> GetCrawlAsync(long crawlId, CancellationToken ct = default)
    {
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        return (await QueryCrawlAsync(conn, "WHERE c.id = @id", ct, ("id", crawlId)).ConfigureAwait(false))?.Info;
    }

    /// <summary>
    /// The crawl census queries use by default: the newest crawl (by start time) that succeeded; when none has, the
    /// newest crawl in any state. <paramref name="crawlNetwork"/> restricts to crawls of that network. Null when none.
    /// </summary>
    public async Task<CrawlInfo?> GetLatestCrawlAsync(string? crawlNetwork = null, CancellationToken ct = default)
    {
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        return (await LatestAsync(conn, crawlNetwork, ct).ConfigureAwait(false))?.Info;
    }

    private static async Task<CrawlRow?> LatestAsync(DbConnection conn, string? crawlNetwork, CancellationToken ct)
    {
        string net = crawlNetwork is null ? "" : " AND c.network = @net";
        return await QueryCrawlAsync(conn, $"WHERE c.state = 'succeeded'{net} ORDER BY c.started_at DESC, c.id DESC LIMIT 1", ct, ("net", crawlNetwork)).ConfigureAwait(false)
            ?? await QueryCrawlAsync(conn, $"WHERE 1 = 1{net} ORDER BY c.started_at DESC, c.id DESC LIMIT 1", ct, ("net", crawlNetwork)).ConfigureAwait(false);
    }

    /// <summary>Crawls, newest first (by start time), optionally of one network; a page of at most <see cref="MaxPageSize"/>.</summary>
    public async Task<Page<CrawlInfo>> ListCrawlsAsync(int offset = 0, int limit = 50, string? crawlNetwork = null, CancellationToken ct = default)
    {
        CheckPage(offset, limit);
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        string where = crawlNetwork is null ? "" : "WHERE c.network = @net";
        var items = new List<CrawlInfo>();
        await using (DbCommand cmd = Sql.Command(conn, null, $"SELECT {CrawlColumns} FROM crawls c {where} ORDER BY c.started_at DESC, c.id DESC LIMIT @limit OFFSET @offset",
            ("net", crawlNetwork), ("limit", limit), ("offset", offset)))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false)) items.Add(ReadCrawl(r).Info);
        }
        long total = Convert.ToInt64(await Sql.ScalarAsync(conn, $"SELECT COUNT(*) FROM crawls c {where}", ct, ("net", crawlNetwork)).ConfigureAwait(false),
            System.Globalization.CultureInfo.InvariantCulture);
        return new Page<CrawlInfo>(items, offset, limit, total);
    }

    /// <summary>
    /// Census of one crawl (the latest, see <see cref="GetLatestCrawlAsync"/>, when <paramref name="crawlId"/> is null)
    /// grouped by <paramref name="dimension"/>, optionally only nodes whose ENR fork digest belongs to
    /// <paramref name="network"/> ("mainnet"). Null when the crawl does not exist (or there is no crawl at all).
    /// </summary>
    public async Task<CensusResult?> GetCensusAsync(CensusDimension dimension, long? crawlId = null, string? network = null, CancellationToken ct = default)
    {
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        if (await ResolveForCensusAsync(conn, crawlId, ct).ConfigureAwait(false) is not { } c) return null;
        return await CensusOfAsync(conn, c, crawlId is not null, dimension, network, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="GetCensusAsync"/> for several dimensions of one crawl at once (one connection, the crawl resolved once):
    /// each census equals what <see cref="GetCensusAsync"/> answers for it. Null when the crawl does not exist.
    /// </summary>
    public async Task<CensusSet?> GetCensusesAsync(IReadOnlyList<CensusDimension> dimensions, long? crawlId = null, string? network = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        if (await ResolveForCensusAsync(conn, crawlId, ct).ConfigureAwait(false) is not { } c) return null;
        List<CensusDimension> dims = [.. dimensions.Distinct()];
        if (!c.Built)
        {
            // A running crawl's censuses are counted from its visits as RunningCensus keeps them, again only when they changed.
            RunningCensus.State state = await RunningStateAsync(conn, c.Info, ct).ConfigureAwait(false);
            string query = string.Join(',', dims.Select(CensusSql.DimensionName)) + "\n" + network;
            LiveSet live = await _liveSets.GetOrComputeAsync(c.Info.Id, state.Generation.ToString(System.Globalization.CultureInfo.InvariantCulture), query,
                () => Task.FromResult(new LiveSet([.. dims.Select(d =>
                {
                    (long total, IReadOnlyList<CensusGroup> groups) = ToGroups(state.Counts.Groups(d, network));
                    return new DimensionCensus(d, total, groups);
                })], state.Visits.Count))).ConfigureAwait(false);
            return new CensusSet { Crawl = crawlId is null ? c.Info : c.Info with { Visits = live.Visits }, Network = network, Censuses = live.Censuses };
        }
        _running.Forget(c.Info.Id);   // finished and built: its stored census answers from now on
        var censuses = new List<DimensionCensus>(dims.Count);
        foreach (CensusDimension d in dims)
        {
            CensusResult r = await CensusOfAsync(conn, c, crawlId is not null, d, network, ct).ConfigureAwait(false);
            censuses.Add(new DimensionCensus(r.Dimension, r.Total, r.Groups));
        }
        return new CensusSet { Crawl = c.Info, Network = network, Censuses = censuses };
    }

    /// <summary>A running crawl's censuses, and its visits.</summary>
    private sealed record LiveSet(IReadOnlyList<DimensionCensus> Censuses, long Visits);

    private readonly DataVersion _dataVersion;

    private readonly RunningCrawlCache<LiveSet> _liveSets = new();

    private readonly RunningCensus _running;

    /// <summary>The visits of running crawl <paramref name="crawl"/> as <see cref="RunningCensus"/> keeps them, brought up to date.</summary>
    private async Task<RunningCensus.State> RunningStateAsync(DbConnection conn, CrawlInfo crawl, CancellationToken ct)
    {
        string version = await _dataVersion.ReadAsync(conn, ct).ConfigureAwait(false);
        NetworkClock? crawlClock = NetworkClock.FromCrawlParameters(crawl.ParametersJson);
        var clocks = new Dictionary<string, NetworkClock?>(StringComparer.Ordinal);
        return await _running.GetAsync(conn, crawl.Id, version,
            (network, visitedAt, head, finalized) => ClassifySync(head is null ? null : SyncClock(network, crawlClock, clocks), visitedAt, head, finalized), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A running crawl's censuses counted from its visits by SQL, with nothing kept (what <see cref="RunningCensus"/> must
    /// equal): the census set's dimensions and the crawl's visits.
    /// </summary>
    internal async Task<(IReadOnlyList<DimensionCensus> Censuses, long Visits)> CountFromVisitsAsync(long crawlId, IReadOnlyList<CensusDimension> dimensions, string? network, CancellationToken ct = default)
    {
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        CrawlRow c = await QueryCrawlAsync(conn, CrawlColumnsNoLiveCount, "WHERE c.id = @id", ct, ("id", crawlId)).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"crawl {crawlId} does not exist");
        LiveSet live = await LiveCensusesAsync(conn, c.Info, true, [.. dimensions], network, ct).ConfigureAwait(false);
        return (live.Censuses, live.Visits);
    }

    // A running crawl's censuses: every stored dimension in one pass over its visits (CensusSql.LiveCensuses), the
    // computed ones (sync health) from their own read. The same numbers as one LiveCensusAsync per dimension.
    private async Task<LiveSet> LiveCensusesAsync(DbConnection conn, CrawlInfo crawl, bool explicitCrawl, List<CensusDimension> dims, string? network, CancellationToken ct)
    {
        List<CensusDimension> stored = [.. dims.Where(d => !CensusDimensions.IsComputed(d))];
        var rows = dims.ToDictionary(d => d, _ => new List<(string? Key, string? Label, long Count)>());
        if (stored.Count > 0)
        {
            await using DbCommand cmd = Sql.Command(conn, null, CensusSql.LiveCensuses(stored, network is not null, _options.Provider == StorageProvider.Postgres), ("crawl", crawl.Id), ("network", network));
            await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                rows[stored[Convert.ToInt32(r.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)]].Add((
                    r.IsDBNull(1) ? null : Convert.ToString(r.GetValue(1), System.Globalization.CultureInfo.InvariantCulture), r.GetStringOrNull(2),
                    Convert.ToInt64(r.GetValue(3), System.Globalization.CultureInfo.InvariantCulture)));
        }
        List<CensusDimension> computed = [.. dims.Where(CensusDimensions.IsComputed)];
        if (computed.Count > 0)
            foreach (var (d, groups) in await ReadSyncGroupsAsync(conn, crawl, computed, network, ct).ConfigureAwait(false)) rows[d] = groups;
        var censuses = dims.Select(d =>
        {
            (long total, IReadOnlyList<CensusGroup> groups) = ToGroups(rows[d]);
            return new DimensionCensus(d, total, groups);
        }).ToList();
        // as GetCensusAsync answers a running crawl asked for by id: its visits are the census total when the whole crawl is counted
        long visits = !explicitCrawl ? crawl.Visits
            : network is null && stored.Count > 0 ? censuses[dims.IndexOf(stored[0])].Total
            : Convert.ToInt64(await Sql.ScalarAsync(conn, "SELECT COUNT(*) FROM visits v WHERE v.crawl_id = @crawl AND v.kind = 'crawl'", ct, ("crawl", crawl.Id)).ConfigureAwait(false),
                System.Globalization.CultureInfo.InvariantCulture);
        return new LiveSet(censuses, visits);
    }

    private static async Task<CrawlRow?> ResolveForCensusAsync(DbConnection conn, long? crawlId, CancellationToken ct) =>
        crawlId is { } id
            ? await QueryCrawlAsync(conn, CrawlColumnsNoLiveCount, "WHERE c.id = @id", ct, ("id", id)).ConfigureAwait(false)
            : await LatestAsync(conn, null, ct).ConfigureAwait(false);

    private sealed record GroupCounts(long Total, IReadOnlyList<CensusGroup> Groups);

    private readonly FinishedCrawlCache<GroupCounts> _censusCache = new();

    private async Task<CensusResult> CensusOfAsync(DbConnection conn, CrawlRow c, bool explicitCrawl, CensusDimension dimension, string? network, CancellationToken ct)
    {
        string dim = CensusSql.DimensionName(dimension);
        if (!c.Built)
        {
            // a running crawl (or one whose census is not built yet): counted from its visits as RunningCensus keeps them
            RunningCensus.State state = await RunningStateAsync(conn, c.Info, ct).ConfigureAwait(false);
            (long total, IReadOnlyList<CensusGroup> groups) = ToGroups(state.Counts.Groups(dimension, network));
            return new CensusResult
            {
                Crawl = explicitCrawl ? c.Info with { Visits = state.Visits.Count } : c.Info, Dimension = dimension, Network = network, Total = total, Groups = groups,
            };
        }
        GroupCounts counts = await _censusCache.GetOrComputeAsync(c.Key, 0, dim + "\n" + network, async () =>
        {
            if (CensusDimensions.IsComputed(dimension))
            {
                (long t, IReadOnlyList<CensusGroup> g) = ToGroups(await ReadSyncGroupsAsync(conn, c.Info, dimension, network, ct).ConfigureAwait(false));
                return new GroupCounts(t, g);
            }
            List<(string? Key, string? Label, long Count)> rows = c.Built
                ? await ReadGroupsAsync(conn, CensusSql.StoredCensus(network is not null), ct, ("crawl", c.Info.Id), ("dimension", dim), ("network", network)).ConfigureAwait(false)
                : [];
            // Crawls whose census was built before a dimension existed have no rows for it: count those live.
            if (rows.Count == 0)
                rows = await ReadGroupsAsync(conn, CensusSql.LiveCensus(dimension, network is not null), ct, ("crawl", c.Info.Id), ("network", network)).ConfigureAwait(false);
            (long total, IReadOnlyList<CensusGroup> groups) = ToGroups(rows);
            return new GroupCounts(total, groups);
        }).ConfigureAwait(false);
        return new CensusResult { Crawl = c.Info, Dimension = dimension, Network = network, Total = counts.Total, Groups = counts.Groups };
    }

    /// <summary>
    /// The census by <paramref name="dimension"/> of every crawl started in [<paramref name="from"/>, <paramref name="to"/>),
    /// oldest first, optionally only crawls of <paramref name="crawlNetwork"/> and only nodes of ENR network
    /// <paramref name="network"/>.
    /// </summary>
    public async Task<CensusSeries> GetTimeSeriesAsync(CensusDimension dimension, DateTimeOffset from, DateTimeOffset to, string? network = null,
        string? crawlNetwork = null, CancellationToken ct = default)
    {
        if (CensusDimensions.IsComputed(dimension))
            throw new ArgumentException($"{CensusDimensions.Name(dimension)} is computed per crawl and has no time series", nameof(dimension));
        string dim = CensusSql.DimensionName(dimension);
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        var crawls = new List<CrawlRow>();
        string net = crawlNetwork is null ? "" : " AND c.network = @net";
        await using (DbCommand cmd = Sql.Command(conn, null,
            // without a running crawl's visit count: its point is counted below anyway, and the series shows no visit counts
            $"SELECT {CrawlColumnsNoLiveCount} FROM crawls c WHERE c.started_at >= @from AND c.started_at < @to{net} ORDER BY c.started_at, c.id",
            ("from", from.UtcDateTime), ("to", to.UtcDateTime), ("net", crawlNetwork)))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false)) crawls.Add(ReadCrawl(r));
        }

        // Finished crawls' points come from the cache; the stored series is read when one of them is missing.
        string pointQuery = dim + "\n" + network;
        var stored = new Dictionary<long, List<(string?, string?, long)>>();
        foreach (CrawlRow c in crawls)
        {
            if (_seriesCache.TryGet(c.Key, pointQuery, out var cached)) stored[c.Info.Id] = cached;
        }
        if (crawls.Any(c => c.Built && !stored.ContainsKey(c.Info.Id)))
        {
            stored.Clear();
            await using DbCommand cmd = Sql.Command(conn, null, CensusSql.StoredSeries(network is not null, crawlNetwork is not null),
                ("from", from.UtcDateTime), ("to", to.UtcDateTime), ("dimension", dim), ("network", network), ("crawlNetwork", crawlNetwork));
            await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                long id = r.GetInt64(0);
                if (!stored.TryGetValue(id, out var list)) stored[id] = list = [];
                list.Add((r.GetStringOrNull(1), r.GetStringOrNull(2), Convert.ToInt64(r.GetValue(3), System.Globalization.CultureInfo.InvariantCulture)));
            }
            foreach (CrawlRow c in crawls.Where(c => c.Built))
                _seriesCache.Set(c.Key, pointQuery, stored.GetValueOrDefault(c.Info.Id) ?? []);
        }

        var points = new List<CensusSeriesPoint>(crawls.Count);
        // the points of crawls without a built census (running) are counted from their visits as RunningCensus keeps them
        foreach ((CrawlInfo info, DateTime? builtAt) in crawls)
        {
            bool built = builtAt is not null;
            RunningCensus.State? state = built ? null : await RunningStateAsync(conn, info, ct).ConfigureAwait(false);
            List<(string?, string?, long)> rows = state is null
                ? stored.GetValueOrDefault(info.Id) ?? []
                : await _runningPoints.GetOrComputeAsync(info.Id, state.Generation.ToString(System.Globalization.CultureInfo.InvariantCulture), pointQuery,
                    () => Task.FromResult(state.Counts.Groups(dimension, network))).ConfigureAwait(false);
            (long total, IReadOnlyList<CensusGroup> groups) = ToGroups(rows);
            points.Add(new CensusSeriesPoint { CrawlId = info.Id, CrawlNetwork = info.Network, StartedAt = info.StartedAt, Total = total, Groups = groups });
        }
        return new CensusSeries { Dimension = dimension, Network = network, From = from, To = to, Points = points };
    }

    // One entry per finished crawl, dimension and network: a year of hourly crawls is 8,760 points per series.
    private readonly FinishedCrawlCache<List<(string?, string?, long)>> _seriesCache = new(65_536);

    private readonly RunningCrawlCache<List<(string?, string?, long)>> _runningPoints = new();

    private static async Task<List<(string? Key, string? Label, long Count)>> ReadGroupsAsync(DbConnection conn, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        var rows = new List<(string?, string?, long)>();
        await using DbCommand cmd = Sql.Command(conn, null, sql, parameters);
        await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
            rows.Add((r.IsDBNull(0) ? null : Convert.ToString(r.GetValue(0), System.Globalization.CultureInfo.InvariantCulture), r.GetStringOrNull(1),
                Convert.ToInt64(r.GetValue(2), System.Globalization.CultureInfo.InvariantCulture)));
        return rows;
    }

    private static (long Total, IReadOnlyList<CensusGroup> Groups) ToGroups(List<(string? Key, string? Label, long Count)> rows)
    {
        long total = rows.Sum(r => r.Count);
        var groups = rows
            .Where(r => r.Count > 0)
            .Select(r => new CensusGroup(r.Key, r.Label, r.Count, total == 0 ? 0 : (double)r.Count / total))
            .OrderByDescending(g => g.Count).ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
        return (total, groups);
    }

    /// <summary>The fields of a visit in a node's history: the visit columns and the agent string's parts.</summary>
    private static readonly IReadOnlyList<SelectColumn> HistoryColumns =
    [
        .. VisitColumns.All.Where(c => c.Name is not ("node_id" or "agent_version_id")).Select(c => c.Select()),
        new("agent_version", "a.raw", ColumnKind.Text),
        new("client", "a.client", ColumnKind.Text),
        new("client_inferred", "a.client_inferred", ColumnKind.Bool),
        new("client_version", "a.version", ColumnKind.Text),
    ];

    // One node's visits without an index led by node_id: a probe of ix_visits_crawl_id_node_id per crawl (a year of hourly
    // crawls is 8,760 probes, a few milliseconds), plus the re-dials, which have no crawl.
    private const string NodeVisits = """
        (SELECT v.* FROM crawls c JOIN visits v ON v.crawl_id = c.id AND v.node_id = @id
         UNION ALL
         SELECT v.* FROM visits v WHERE v.crawl_id IS NULL AND v.node_id = @id)
        """;

    private const string NodeJoins = """
        FROM visits v
        LEFT JOIN enr_history e ON e.node_id = v.node_id AND e.seq = v.enr_seq
        LEFT JOIN agent_versions a ON a.id = v.agent_version_id
        LEFT JOIN ip_addresses g ON g.address = v.ip
        LEFT JOIN fork_digests ed ON ed.digest = e.fork_digest
        LEFT JOIN fork_digests sd ON sd.digest = v.status_fork_digest
        """;

    /// <summary>
    /// Nodes seen in a crawl (the latest when <see cref="NodeFilter.CrawlId"/> is null) matching the filter, ordered by
    /// node id; a page of at most <see cref="MaxPageSize"/>. Null when the crawl does not exist.
    /// </summary>
    public async Task<Page<NodeSummary>?> ListNodesAsync(NodeFilter filter, int offset = 0, int limit = 50, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        CheckPage(offset, limit);
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        CrawlRow? crawl = filter.CrawlId is { } id
            ? await QueryCrawlAsync(conn, "WHERE c.id = @id", ct, ("id", id)).ConfigureAwait(false)
            : await LatestAsync(conn, null, ct).ConfigureAwait(false);
        if (crawl is not { } c) return null;

        (string where, (string, object?)[] filterParameters) = NodeWhere(filter, c.Info.Id);
        (string, object?)[] p = [.. filterParameters, ("limit", limit), ("offset", offset)];
        // A finished crawl's page never changes (GeoIP enrichment rebuilds the census, which renews the key); a running
        // crawl's is kept until the database changes.
        string query = string.Join("\n", p.Select(x => x.Item2 is null ? "\0" : x.Item2 is byte[] b ? Convert.ToHexString(b) : Convert.ToString(x.Item2, System.Globalization.CultureInfo.InvariantCulture)));
        if (c.Key.BuiltAt is null)
            return await _runningNodes.GetOrComputeAsync(c.Info.Id, await _dataVersion.ReadAsync(conn, ct).ConfigureAwait(false), query,
                () => ReadNodesAsync(conn, where, p, offset, limit, ct)).ConfigureAwait(false);
        return await _nodesCache.GetOrComputeAsync(c.Key, 0, query, () => ReadNodesAsync(conn, where, p, offset, limit, ct)).ConfigureAwait(false);
    }

    private readonly FinishedCrawlCache<Page<NodeSummary>> _nodesCache = new();

    private readonly RunningCrawlCache<Page<NodeSummary>> _runningNodes = new();

    private static async Task<Page<NodeSummary>> ReadNodesAsync(DbConnection conn, string where, (string, object?)[] p, int offset, int limit, CancellationToken ct)
    {
        var items = new List<NodeSummary>();
        await using (DbCommand cmd = Sql.Command(conn, null, $"""
            SELECT v.node_id, (SELECT n.peer_id FROM nodes n WHERE n.node_id = v.node_id), v.ip, v.enr_seq, e.fork_digest, {CensusSql.EnrForkName}, {CensusSql.NodeNetwork},
                   a.client, a.version, v.dial_outcome, g.country, g.asn, g.as_org, v.visited_at
            {NodeJoins}
            {where}
            ORDER BY v.node_id, v.id
            LIMIT @limit OFFSET @offset
            """, p))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                items.Add(new NodeSummary
                {
                    NodeId = Convert.ToHexStringLower((byte[])r.GetValue(0)),
                    PeerId = r.GetStringOrNull(1),
                    Ip = r.GetStringOrNull(2),
                    Seq = Sql.Unsigned(r.GetInt64OrNull(3)),
                    ForkDigest = r.GetStringOrNull(4),
                    ForkName = r.GetStringOrNull(5),
                    NetworkName = r.GetStringOrNull(6),
                    Client = r.GetStringOrNull(7),
                    ClientVersion = r.GetStringOrNull(8),
                    DialOutcome = r.GetString(9),
                    Country = r.GetStringOrNull(10),
                    Asn = r.GetInt64OrNull(11),
                    AsOrg = r.GetStringOrNull(12),
                    VisitedAt = r.GetUtc(13),
                });
            }
        }
        long total = Convert.ToInt64(await Sql.ScalarAsync(conn, $"SELECT COUNT(*) {NodeJoins} {where}", ct, p).ConfigureAwait(false),
            System.Globalization.CultureInfo.InvariantCulture);
        return new Page<NodeSummary>(items, offset, limit, total);
    }

    /// <summary>The WHERE clause (over <see cref="NodeJoins"/>) and parameters of a node filter on one crawl's visits.</summary>
    private static (string Where, (string, object?)[] Parameters) NodeWhere(NodeFilter filter, long crawlId)
    {
        string where = "WHERE v.crawl_id = @crawl AND v.kind = 'crawl'"
            + (filter.Network is null ? "" : $" AND {CensusSql.NodeNetwork} = @network")
            + (filter.Client is null ? "" : " AND a.client = @client")
            + (filter.ClientVersion is null ? "" : " AND a.version = @version")
            + (filter.Fork is null ? "" : $" AND (e.fork_digest = @fork OR {CensusSql.EnrForkName} = @fork)")
            + (filter.Country is null ? "" : " AND g.country = @country")
            + (filter.DialOutcome is null ? "" : " AND v.dial_outcome = @outcome")
            + (filter.DigestMismatch is null ? "" : " AND v.digest_mismatch = @mismatch")
            + (filter.Search is null ? "" : " AND (v.ip = @q OR LOWER(a.raw) LIKE LOWER(@qlike) OR v.node_id = @qid OR v.node_id IN (SELECT n.node_id FROM nodes n WHERE n.peer_id = @q))");
        byte[]? searchId = filter.Search is { Length: 64 } sq && sq.All(Uri.IsHexDigit) ? Convert.FromHexString(sq) : null;
        (string, object?)[] p =
        [
            ("crawl", crawlId), ("network", filter.Network), ("client", filter.Client), ("version", filter.ClientVersion), ("fork", filter.Fork?.ToLowerInvariant() is { Length: 8 } hex && IsHex(hex) ? hex : filter.Fork),
            ("country", filter.Country), ("outcome", filter.DialOutcome), ("mismatch", filter.DigestMismatch), ("q", filter.Search), ("qlike", filter.Search is null ? null : "%" + filter.Search.Replace("%", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal) + "%"), ("qid", searchId ?? [0xff]),
        ];
        return (where, p);
    }

    /// <summary>
    /// A node's history: identity, every ENR seq (newest first), its last <paramref name="maxVisits"/> visits (newest
    /// first, with Status and MetaData) and the agent strings it used. Null when the node is unknown.
    /// </summary>
    /// <param name="nodeId">32-byte node id.</param>
    /// <param name="maxVisits">Visits to return, 1..<see cref="MaxHistoryVisits"/>.</param>
    /// <param name="ct">Cancellation.</param>
    public async Task<NodeHistory?> GetNodeHistoryAsync(byte[] nodeId, int maxVisits = 100, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxVisits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxVisits, MaxHistoryVisits);
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        NodeInfo? node = null;
        await using (DbCommand cmd = Sql.Command(conn, null, "SELECT node_id, public_key, peer_id, first_seen, last_seen, latest_seq FROM nodes WHERE node_id = @id", ("id", nodeId)))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            if (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                node = new NodeInfo
                {
                    NodeId = Convert.ToHexStringLower((byte[])r.GetValue(0)),
                    PublicKey = Sql.Hex(r.GetBytesOrNull(1)),
                    PeerId = r.GetStringOrNull(2),
                    FirstSeen = r.GetUtc(3),
                    LastSeen = r.GetUtc(4),
                    LatestSeq = unchecked((ulong)r.GetInt64(5)),
                };
            }
        }
        if (node is null) return null;

        var enrs = new List<EnrRecord>();
        await using (DbCommand cmd = Sql.Command(conn, null, $"""
            SELECT e.seq, e.raw, e.seen_at, e.ip4, e.ip6, e.udp, e.tcp, e.quic, e.fork_digest, {CensusSql.EnrForkName}, {CensusSql.EnrNetworkName},
                   e.next_fork_version, e.next_fork_epoch, e.attnets, e.syncnets, e.cgc, e.nfd, {CensusSql.CgcOutOfRange}
            FROM enr_history e LEFT JOIN fork_digests ed ON ed.digest = e.fork_digest WHERE e.node_id = @id ORDER BY e.seq DESC
            """, ("id", nodeId)))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                enrs.Add(new EnrRecord
                {
                    Seq = unchecked((ulong)r.GetInt64(0)),
                    Enr = EnrText((byte[])r.GetValue(1)),
                    SeenAt = r.GetUtc(2),
                    Ip4 = r.GetStringOrNull(3),
                    Ip6 = r.GetStringOrNull(4),
                    Udp = r.GetInt32OrNull(5),
                    Tcp = r.GetInt32OrNull(6),
                    Quic = r.GetInt32OrNull(7),
                    ForkDigest = r.GetStringOrNull(8),
                    ForkName = r.GetStringOrNull(9),
                    NetworkName = r.GetStringOrNull(10),
                    NextForkVersion = r.GetStringOrNull(11),
                    NextForkEpoch = Sql.Unsigned(r.GetInt64OrNull(12)),
                    Attnets = r.GetStringOrNull(13),
                    Syncnets = r.GetStringOrNull(14),
                    Cgc = Sql.Unsigned(r.GetInt64OrNull(15)),
                    Nfd = r.GetStringOrNull(16),
                    CgcOutOfRange = r.GetBooleanOrNull(17),
                });
            }
        }

        var visits = new List<VisitRecord>();
        await using (DbCommand cmd = Sql.Command(conn, null, $"""
            SELECT {SelectColumn.List(HistoryColumns)}
            FROM {NodeVisits} v LEFT JOIN agent_versions a ON a.id = v.agent_version_id
            ORDER BY v.visited_at DESC, v.id DESC LIMIT @limit
            """, ("id", nodeId), ("limit", maxVisits)))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                var fields = new Dictionary<string, object?>(HistoryColumns.Count, StringComparer.Ordinal);
                for (int i = 0; i < HistoryColumns.Count; i++) fields[HistoryColumns[i].Name] = HistoryColumns[i].Read(r, i);
                visits.Add(new VisitRecord(fields));
            }
        }

        if (visits.Count > 0 && visits[0].VisitedAt > node.LastSeen) node = node with { LastSeen = visits[0].VisitedAt };

        var agents = new List<AgentRecord>();
        await using (DbCommand cmd = Sql.Command(conn, null, $"""
            SELECT a.raw, a.client, a.version, a.os, a.arch, MIN(v.visited_at), MAX(v.visited_at), COUNT(*)
            FROM {NodeVisits} v JOIN agent_versions a ON a.id = v.agent_version_id
            GROUP BY a.id, a.raw, a.client, a.version, a.os, a.arch
            ORDER BY MAX(v.visited_at) DESC
            """, ("id", nodeId)))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                agents.Add(new AgentRecord(r.GetString(0), r.GetStringOrNull(1), r.GetStringOrNull(2), r.GetStringOrNull(3), r.GetStringOrNull(4),
                    r.GetUtc(5), r.GetUtc(6), Convert.ToInt32(r.GetValue(7), System.Globalization.CultureInfo.InvariantCulture)));
            }
        }
        return new NodeHistory(node, enrs, visits, agents);
    }

    /// <summary>
    /// Streams one <see cref="ExportRow"/> per node seen in the crawl, ordered by node id, without holding the crawl
    /// in memory. Yields nothing for an unknown crawl (check with <see cref="GetCrawlAsync"/> first).
    /// </summary>
    public IAsyncEnumerable<ExportRow> ExportAsync(long crawlId, CancellationToken ct = default) => ExportAsync(crawlId, null, ct);

    /// <summary>
    /// <see cref="ExportAsync(long, CancellationToken)"/> of the nodes matching <paramref name="filter"/> (the same
    /// selection as <see cref="ListNodesAsync"/>; its <see cref="NodeFilter.CrawlId"/> is ignored): what the dashboard's
    /// export buttons download for the page's network and filters. Null exports every node of the crawl.
    /// </summary>
    public async IAsyncEnumerable<ExportRow> ExportAsync(long crawlId, NodeFilter? filter, [EnumeratorCancellation] CancellationToken ct = default)
    {
        (string where, (string, object?)[] p) = NodeWhere(filter ?? new NodeFilter(), crawlId);
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        await using DbCommand cmd = Sql.Command(conn, null, $"""
            SELECT {SelectColumn.List(ExportRow.Columns)}
            {NodeJoins}
            JOIN nodes n ON n.node_id = v.node_id
            JOIN crawls c ON c.id = v.crawl_id
            {where}
            ORDER BY v.node_id, v.id
            """, p);
        await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        IReadOnlyList<SelectColumn> columns = ExportRow.Columns;
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            var values = new object?[columns.Count];
            for (int i = 0; i < values.Length; i++) values[i] = columns[i].Read(r, i);
            yield return new ExportRow(values);
        }
    }

    /// <summary>
    /// Distinct visit IPs with no geo row yet (for the GeoIP enrichment job), most recently visited first.
    /// <paramref name="crawlId"/> restricts to one crawl.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListIpsWithoutGeoAsync(long? crawlId = null, int limit = 10_000, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using DbConnection conn = await OpenAsync(ct).ConfigureAwait(false);
        var ips = new List<string>();
        await using DbCommand cmd = Sql.Command(conn, null, $"""
            SELECT v.ip FROM visits v LEFT JOIN ip_addresses g ON g.address = v.ip
            WHERE v.ip IS NOT NULL AND g.address IS NULL{(crawlId is null ? "" : " AND v.crawl_id = @crawl")}
            GROUP BY v.ip ORDER BY MAX(v.visited_at) DESC LIMIT @limit
            """, ("crawl", crawlId), ("limit", limit));
        await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false)) ips.Add(r.GetString(0));
        return ips;
    }

    /// <summary>The text form of an ENR: "enr:" + URL-safe base64 without padding (EIP-778).</summary>
    public static string EnrText(byte[] raw) => "enr:" + Base64Url.EncodeToString(raw);

    private static bool IsHex(string s) => s.All(char.IsAsciiHexDigitLower);

    private static void CheckPage(int offset, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxPageSize);
    }
}
