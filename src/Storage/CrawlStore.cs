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
            ParametersJson = parametersJson,
        };
        db.Crawls.Add(crawl);
        await db.SaveChangesAsync(ct).ConfigureAwait(false);
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

    /// <summary>
    /// (Re)builds the pre-aggregated census rows (table crawl_census) of a crawl from its visits, replacing old ones.
    /// Called by <c>FinishCrawlAsync</c>; call it again after enriching IPs with geo data so country and
    /// ASN groups include them.
    /// </summary>
    public async Task BuildCensusAsync(long crawlId, CancellationToken ct = default)
    {
        await using var connection = Sql.Open(_options);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await Sql.ExecuteAsync(connection, tx, "DELETE FROM crawl_census WHERE crawl_id = @crawl", ct, ("crawl", crawlId)).ConfigureAwait(false);
        foreach (CensusDimension dimension in Enum.GetValues<CensusDimension>())
        {
            if (CensusDimensions.IsComputed(dimension)) continue;
            string sql = CensusSql.BuildAggregateInsert(dimension);
            await Sql.ExecuteAsync(connection, tx, sql, ct, ("crawl", crawlId), ("dimension", CensusSql.DimensionName(dimension))).ConfigureAwait(false);
        }
        await Sql.ExecuteAsync(connection, tx, "UPDATE crawls SET census_built_at = @now WHERE id = @crawl", ct,
            ("crawl", crawlId), ("now", _time.GetUtcNow().UtcDateTime)).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Marks every crawl still in state <c>running</c> as <c>failed</c> (their process was killed): call once on start,
    /// before starting a new crawl, when this process is the only crawler of the database. Their census rows are built
    /// from the visits they wrote. Returns the ids marked.
    /// </summary>
    public Task<IReadOnlyList<long>> MarkInterruptedAsync(CancellationToken ct = default) => MarkInterruptedAsync(null, ct);

    /// <summary>
    /// As <see cref="MarkInterruptedAsync(CancellationToken)"/>, but only the crawls of <paramref name="vantage"/> (all
    /// when null): several crawlers, each with its own vantage, share one database, and a crawler that starts must not
    /// fail the crawl another vantage is running.
    /// </summary>
    public async Task<IReadOnlyList<long>> MarkInterruptedAsync(string? vantage, CancellationToken ct = default)
    {
        List<long> ids;
        await using (ClP2pDbContext db = _options.CreateDbContext())
        {
            List<CrawlEntity> running = await db.Crawls.Where(c => c.State == CrawlStates.Running && (vantage == null || c.Vantage == vantage))
                .ToListAsync(ct).ConfigureAwait(false);
            DateTime now = _time.GetUtcNow().UtcDateTime;
            foreach (CrawlEntity c in running)
            {
                c.State = CrawlStates.Failed;
                c.FinishedAt = now;
                c.SummaryJson ??= """{"error":"interrupted: the crawling process ended without finishing the crawl"}""";
            }
            await db.SaveChangesAsync(ct).ConfigureAwait(false);
            ids = running.Select(c => c.Id).ToList();
        }
        foreach (long id in ids)
        {
            _logger.LogWarning("Crawl {CrawlId} was left running by a previous process; marked failed", id);
            await BuildCensusAsync(id, ct).ConfigureAwait(false);
        }
        return ids;
    }
}
