using System.Data.Common;
using ClP2p.Storage.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Storage;

/// <summary>Counts a crawl reports when it ends (also shown in its summary JSON).</summary>
/// <param name="NodesFound">Distinct nodes found by discovery (all ENRs, CL or not).</param>
/// <param name="ClNodes">Nodes whose ENR has an eth2 field.</param>
/// <param name="Dialled">Nodes dialled.</param>
/// <param name="DialOk">Dials that reached Status/MetaData.</param>
/// <param name="Failures">Dials that failed.</param>
public readonly record struct CrawlCounts(int NodesFound, int ClNodes, int Dialled, int DialOk, int Failures);

/// <summary>
/// Crawl lifecycle: start a crawl row, finish it with its counts (and build its pre-aggregated census), and mark
/// crawls left running by a killed process as failed. Thread-safe; each call uses its own connection.
/// </summary>
public sealed class CrawlStore
{
    private readonly StorageOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the store. The database must be migrated (<see cref="StorageMigrator.MigrateAsync"/>).</summary>
    public CrawlStore(StorageOptions options, TimeProvider? time = null, ILogger<CrawlStore>? logger = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _time = time ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Inserts a crawl in state <c>running</c> and returns its id.</summary>
    /// <param name="network">Network crawled ("mainnet", "hoodi", "custom", ...).</param>
    /// <param name="startedAt">Start instant.</param>
    /// <param name="parametersJson">The crawl's parameters as JSON (options, bootnodes), or null.</param>
    /// <param name="ct">Cancellation.</param>
    public Task<long> StartCrawlAsync(string network, DateTimeOffset startedAt, string? parametersJson, CancellationToken ct = default) =>
        StartCrawlAsync(network, CrawlVantage.Default, startedAt, parametersJson, null, ct);

    /// <summary>Inserts a crawl of a vantage point in state <c>running</c> and returns its id.</summary>
    /// <param name="network">Network crawled ("mainnet", "hoodi", "custom", ...).</param>
    /// <param name="vantage">The vantage point (<see cref="CrawlVantage.IsValid"/>).</param>
    /// <param name="startedAt">Start instant.</param>
    /// <param name="parametersJson">The crawl's parameters as JSON (options, bootnodes), or null.</param>
    /// <param name="sourceCrawlId">For an imported crawl, its id in the database it came from; else null.</param>
    /// <param name="ct">Cancellation.</param>
    public async Task<long> StartCrawlAsync(string network, string vantage, DateTimeOffset startedAt, string? parametersJson, long? sourceCrawlId, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(network);
        if (!CrawlVantage.IsValid(vantage)) throw new ArgumentException($"invalid vantage name '{vantage}'", nameof(vantage));
        await using ClP2pDbContext db = _options.CreateDbContext();
        var crawl = new CrawlEntity
        {
            Network = network, Vantage = vantage, SourceCrawlId = sourceCrawlId, StartedAt = startedAt.UtcDateTime, State = CrawlStates.Running,
            ParametersJson = parametersJson, HeartbeatAt = _time.GetUtcNow().UtcDateTime,
        };
        db.Crawls.Add(crawl);
        await db.SaveChangesAsync(ct).ConfigureAwait(false);
        await using (DbConnection connection = Sql.Open(_options))
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            DateTime now = _time.GetUtcNow().UtcDateTime;
            await CensusChanges.PruneAsync(connection, _options.Provider, now, now - CensusChanges.Retention, ct).ConfigureAwait(false);
        }
        return crawl.Id;
    }

    /// <summary>The local id of the crawl imported from <paramref name="sourceCrawlId"/> of <paramref name="vantage"/>, or null.</summary>
    public async Task<long?> FindImportedAsync(string vantage, long sourceCrawlId, CancellationToken ct = default)
    {
        await using ClP2pDbContext db = _options.CreateDbContext();
        return await db.Crawls.Where(c => c.Vantage == vantage && c.SourceCrawlId == sourceCrawlId).Select(c => (long?)c.Id)
            .FirstOrDefaultAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Ends a crawl: sets its state (succeeded, failed or aborted), end time, counts and summary, then builds its
    /// pre-aggregated census rows. Flush the <see cref="ResultWriter"/> first so that every visit is counted.
    /// Throws <see cref="KeyNotFoundException"/> for an unknown id.
    /// </summary>
    public Task FinishCrawlAsync(long crawlId, string state, CrawlCounts counts, string? summaryJson, CancellationToken ct = default) =>
        FinishCrawlAsync(crawlId, state, counts, summaryJson, null, ct);

    /// <summary>
    /// <see cref="FinishCrawlAsync(long, string, CrawlCounts, string?, CancellationToken)"/> with the end instant given
    /// (an imported crawl keeps the one it had); now when <paramref name="finishedAt"/> is null.
    /// </summary>
    public async Task FinishCrawlAsync(long crawlId, string state, CrawlCounts counts, string? summaryJson, DateTimeOffset? finishedAt, CancellationToken ct = default)
    {
        if (!CrawlStates.IsKnown(state) || state == CrawlStates.Running)
            throw new ArgumentException($"a finished crawl is succeeded, failed or aborted, not '{state}'", nameof(state));
        await using (ClP2pDbContext db = _options.CreateDbContext())
        {
            CrawlEntity crawl = await db.Crawls.SingleOrDefaultAsync(c => c.Id == crawlId, ct).ConfigureAwait(false)
                ?? throw new KeyNotFoundException($"crawl {crawlId} does not exist");
            crawl.State = state;
            crawl.FinishedAt = (finishedAt ?? _time.GetUtcNow()).UtcDateTime;
            crawl.NodesFound = counts.NodesFound;
            crawl.ClNodes = counts.ClNodes;
            crawl.Dialled = counts.Dialled;
            crawl.DialOk = counts.DialOk;
            crawl.Failures = counts.Failures;
            crawl.SummaryJson = summaryJson;
            await db.SaveChangesAsync(ct).ConfigureAwait(false);
        }
        await BuildCensusAsync(crawlId, ct).ConfigureAwait(false);
    }

    /// <summary>Replaces a crawl's summary (the JSON its row keeps). Throws <see cref="KeyNotFoundException"/> for an unknown id.</summary>
    public async Task SetSummaryAsync(long crawlId, string? summaryJson, CancellationToken ct = default)
    {
        await using ClP2pDbContext db = _options.CreateDbContext();
        CrawlEntity crawl = await db.Crawls.SingleOrDefaultAsync(c => c.Id == crawlId, ct).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"crawl {crawlId} does not exist");
        crawl.SummaryJson = summaryJson;
        await db.SaveChangesAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// (Re)builds the pre-aggregated census rows (table crawl_census) of a crawl from its visits, replacing old ones.
    /// Called by <c>FinishCrawlAsync</c>; call it again after enriching IPs with geo data so country and
    /// ASN groups include them.
    /// </summary>
    public async Task BuildCensusAsync(long crawlId, CancellationToken ct = default)
    {
        await using var connection = Sql.Open(_options);
        CensusSql.RegisterHexBits(connection);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await Sql.ExecuteAsync(connection, tx, "DELETE FROM crawl_census WHERE crawl_id = @crawl", ct, ("crawl", crawlId)).ConfigureAwait(false);
        // every stored dimension in one statement: the crawl's visits are joined to their records once, not once per dimension
        var stored = Enum.GetValues<CensusDimension>().Where(d => !CensusDimensions.IsComputed(d)).ToList();
        string sql = CensusSql.BuildAggregateInserts(stored, _options.Provider == StorageProvider.Postgres);
        await Sql.ExecuteAsync(connection, tx, sql, ct, ("crawl", crawlId)).ConfigureAwait(false);
        // Each build gets a later census_built_at than the last (even on a clock that did not move): readers key what
        // they keep about a finished crawl by it (CensusService's cache).
        DateTime builtAt = _time.GetUtcNow().UtcDateTime;
        await using (DbCommand last = Sql.Command(connection, tx, "SELECT census_built_at FROM crawls WHERE id = @crawl", ("crawl", crawlId)))
        await using (DbDataReader r = await last.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            if (await r.ReadAsync(ct).ConfigureAwait(false) && r.GetUtcOrNull(0) is { } previous && previous >= builtAt)
                builtAt = previous.AddMilliseconds(1);
        }
        await Sql.ExecuteAsync(connection, tx, "UPDATE crawls SET census_built_at = @now WHERE id = @crawl", ct,
            ("crawl", crawlId), ("now", builtAt)).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>How far back an inbound contact counts for a crawl's reachability (<see cref="ApplyInboundAsync"/>).</summary>
    public static readonly TimeSpan InboundWindow = TimeSpan.FromHours(24);

    private const string InboundKinds = "('" + VisitKinds.InboundDiscv5 + "', '" + VisitKinds.InboundLibp2p + "')";

    /// <summary>
    /// Brings a crawl's inbound census up to date before it is finished: every visit of the crawl gets
    /// <c>seen_inbound</c> (did the node contact us in [<paramref name="to"/> − <see cref="InboundWindow"/>,
    /// <paramref name="to"/>]), and every node that contacted us in that window but is not in the crawl gets a visit of
    /// the crawl copied from its latest inbound contact (its libp2p one first: agent, Status, MetaData), not dialled,
    /// <c>dial_error</c> "inbound_only". Returns (visits marked seen inbound, inbound-only visits added). Flush the
    /// inbound writer first so that every contact is counted.
    /// </summary>
    public async Task<(int SeenInbound, int InboundOnly)> ApplyInboundAsync(long crawlId, DateTimeOffset to, CancellationToken ct = default)
    {
        var from = (to - InboundWindow).UtcDateTime;
        await using var connection = Sql.Open(_options);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await Sql.ExecuteAsync(connection, tx, SeenInboundSql, ct, ("crawl", crawlId), ("from", from), ("to", to.UtcDateTime)).ConfigureAwait(false);
        int added = await Sql.ExecuteAsync(connection, tx, InboundOnlySql, ct, ("crawl", crawlId), ("from", from), ("to", to.UtcDateTime)).ConfigureAwait(false);
        int marked = Convert.ToInt32(await CountSeenAsync(connection, tx, crawlId, ct).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        // visits updated, not only appended: a running census of the crawl counts it again
        await CensusChanges.AllAsync(connection, tx, _options.Provider, _time.GetUtcNow().UtcDateTime, crawlId, ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        _logger.LogInformation("crawl {CrawlId}: {Seen} of its nodes contacted us in the last {Window}; {Added} nodes seen only inbound added", crawlId, marked - added, InboundWindow, added);
        return (marked - added, added);
    }

    // an inbound contact of node i in the window; the partial index on inbound visits (node_id, visited_at) answers it,
    // so each of the crawl's nodes costs one index probe (StorageTests check the plans)
    private const string InboundWindowSql = "j.node_id = i.node_id AND j.kind IN " + InboundKinds + " AND j.visited_at >= @from AND j.visited_at <= @to";

    /// <summary>Marks each of crawl @crawl's visits seen_inbound when its node contacted us in [@from, @to].</summary>
    internal static readonly string SeenInboundSql = $"""
        UPDATE visits SET seen_inbound = (EXISTS (SELECT 1 FROM visits j WHERE {InboundWindowSql.Replace("i.node_id", "visits.node_id", StringComparison.Ordinal)}))
        WHERE crawl_id = @crawl AND kind = '{VisitKinds.Crawl}'
        """;

    /// <summary>Adds to crawl @crawl a visit for each node that contacted us in [@from, @to] but is not in the crawl,
    /// copied from its latest inbound contact (its libp2p one first).</summary>
    internal static readonly string InboundOnlySql = $"""
        INSERT INTO visits ({VisitColumns.NameList})
        SELECT {string.Join(", ", VisitColumns.All.Select(c => c.Name switch
        {
            "crawl_id" => "@crawl",
            "kind" => "'" + VisitKinds.Crawl + "'",
            "enr_seq" => $"(SELECT MAX(j.enr_seq) FROM visits j WHERE {InboundWindowSql})",
            "discovery_answered" or "neighbours" or "discovery_error" or "failed_step" or "latency_ms" or "ipv4_answered" or "ipv6_answered" => "NULL",
            "dial_outcome" => "'" + DialOutcomes.NotDialled + "'",
            "dial_error" => "'inbound_only'",
            "seen_inbound" => "1 = 1",
            _ => "i." + c.Name,
        }))}
        FROM visits i
        WHERE i.kind IN {InboundKinds} AND i.visited_at >= @from AND i.visited_at <= @to
          AND i.id = (SELECT j.id FROM visits j WHERE {InboundWindowSql}
                      ORDER BY CASE WHEN j.kind = '{VisitKinds.InboundLibp2p}' THEN 0 ELSE 1 END, j.visited_at DESC, j.id DESC LIMIT 1)
          AND NOT EXISTS (SELECT 1 FROM visits c WHERE c.crawl_id = @crawl AND c.node_id = i.node_id AND c.kind = '{VisitKinds.Crawl}')
        """;

    private static async Task<object?> CountSeenAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction tx, long crawlId, CancellationToken ct)
    {
        await using var cmd = Sql.Command(connection, tx, $"SELECT COUNT(*) FROM visits WHERE crawl_id = @crawl AND kind = '{VisitKinds.Crawl}' AND seen_inbound", ("crawl", crawlId));
        return await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
    }

    /// <summary>How long a running crawl's lease lasts without a heartbeat (the process renews it every quarter of this).</summary>
    public static readonly TimeSpan DefaultLease = TimeSpan.FromSeconds(90);

    /// <summary>Renews the lease of a running crawl (its heartbeat). Returns false when the crawl is no longer running
    /// (another process found its lease expired and marked it failed).</summary>
    public async Task<bool> RenewLeaseAsync(long crawlId, CancellationToken ct = default)
    {
        await using var connection = Sql.Open(_options);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        int n = await Sql.ExecuteAsync(connection, null, "UPDATE crawls SET heartbeat_at = @now WHERE id = @crawl AND state = @running", ct,
            ("now", _time.GetUtcNow().UtcDateTime), ("crawl", crawlId), ("running", CrawlStates.Running)).ConfigureAwait(false);
        return n > 0;
    }

    /// <summary>
    /// Marks as <c>failed</c> every crawl in state <c>running</c> whose lease has expired: its heartbeat (or, for rows
    /// from before leases, its start) is older than <paramref name="lease"/>, so the process running it died. A crawl
    /// whose process is alive renews its heartbeat and is left alone, whatever other process asks. Each crawl marked
    /// gets the counts its visits support (nodes found, CL nodes, dialled, ok, failures) and its census rows. Returns
    /// the ids marked.
    /// </summary>
    public async Task<IReadOnlyList<long>> MarkInterruptedAsync(TimeSpan lease, CancellationToken ct = default)
    {
        List<long> ids;
        DateTime now = _time.GetUtcNow().UtcDateTime;
        DateTime expired = now - lease;
        await using (ClP2pDbContext db = _options.CreateDbContext())
        {
            List<CrawlEntity> running = await db.Crawls
                .Where(c => c.State == CrawlStates.Running && (c.HeartbeatAt ?? c.StartedAt) < expired)
                .ToListAsync(ct).ConfigureAwait(false);
            foreach (CrawlEntity c in running)
            {
                c.State = CrawlStates.Failed;
                c.FinishedAt = now;
                c.SummaryJson ??= $$"""{"state":"failed","ended_by":"interrupted","error":"interrupted: the crawling process stopped renewing its lease (last heartbeat {{(c.HeartbeatAt ?? c.StartedAt):O}}) without finishing the crawl"}""";
            }
            await db.SaveChangesAsync(ct).ConfigureAwait(false);
            ids = running.Select(c => c.Id).ToList();
        }
        foreach (long id in ids)
        {
            _logger.LogWarning("Crawl {CrawlId} stopped renewing its lease (its process died); marked failed", id);
            await CountFromVisitsAsync(id, ct).ConfigureAwait(false);
            await BuildCensusAsync(id, ct).ConfigureAwait(false);
        }
        return ids;
    }

    /// <summary>Sets a crawl's counts from the visits it wrote (for a crawl whose process died before it counted).</summary>
    private async Task CountFromVisitsAsync(long crawlId, CancellationToken ct)
    {
        await using var connection = Sql.Open(_options);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        const string sql = """
            UPDATE crawls SET
              nodes_found = (SELECT count(*) FROM visits v WHERE v.crawl_id = @crawl),
              cl_nodes = (SELECT count(*) FROM visits v JOIN enr_history e ON e.node_id = v.node_id AND e.seq = v.enr_seq
                          WHERE v.crawl_id = @crawl AND e.fork_digest IS NOT NULL),
              dialled = (SELECT count(*) FROM visits v WHERE v.crawl_id = @crawl AND v.dial_outcome <> 'not_dialled'),
              dial_ok = (SELECT count(*) FROM visits v WHERE v.crawl_id = @crawl AND v.dial_outcome = 'ok'),
              failures = (SELECT count(*) FROM visits v WHERE v.crawl_id = @crawl AND v.dial_outcome NOT IN ('ok', 'not_dialled'))
            WHERE id = @crawl
            """;
        await Sql.ExecuteAsync(connection, null, sql, ct, ("crawl", crawlId)).ConfigureAwait(false);
    }
}
