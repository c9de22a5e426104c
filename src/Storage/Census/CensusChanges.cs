using System.Data.Common;
using System.Globalization;

namespace ClP2p.Storage;

/// <summary>Kinds of <see cref="Model.CensusChangeEntity"/> rows.</summary>
public static class CensusChangeKinds
{
    /// <summary>Crawl visits appended to a crawl (rows: how many).</summary>
    public const string Visits = "visits";

    /// <summary>Geo rows inserted or updated (keys: the addresses).</summary>
    public const string Geo = "geo";

    /// <summary>ENR rows inserted (keys: the node ids, hex).</summary>
    public const string Enr = "enr";

    /// <summary>Anything else that can change a census (visits updated or deleted, agents parsed again, digests renamed,
    /// old change rows pruned): a reader counts the crawl (or, with no crawl, every crawl) again.</summary>
    public const string All = "all";
}

/// <summary>
/// Appends <see cref="Model.CensusChangeEntity"/> rows in a writer's transaction, and reads the ones committed after a
/// token (RunningCensus). PostgreSQL's token is a snapshot (<c>pg_current_snapshot()</c>): the rows of the
/// transactions it did not see are the ones committed after it, whatever order their ids were drawn in (two batches
/// commit in either order). SQLite's is the largest row id: one writer at a time, so ids grow in commit order.
/// </summary>
internal static class CensusChanges
{
    /// <summary>Change rows older than this are pruned when a crawl starts; a reader older than the prune counts again.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(1);

    private const string PgTxid = "CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT)";

    /// <summary>One change row to append.</summary>
    public readonly record struct Change(string Kind, long? CrawlId, long Rows, string? Keys);

    /// <summary>What a writer's batch changes: the crawl visits it appends per crawl, the geo rows and ENRs it writes.</summary>
    public static List<Change> Of(Batch batch, IReadOnlyCollection<EnrObservation> enrs, IReadOnlyCollection<IpGeo> geos)
    {
        var changes = new List<Change>();
        foreach (var crawl in batch.Visits.Where(v => v.CrawlId is not null && v.Kind == VisitKinds.Crawl).GroupBy(v => v.CrawlId!.Value))
            changes.Add(new Change(CensusChangeKinds.Visits, crawl.Key, crawl.Count(), null));
        if (geos.Count > 0) changes.Add(new Change(CensusChangeKinds.Geo, null, 0, string.Join('\n', geos.Select(g => g.Ip))));
        if (enrs.Count > 0) changes.Add(new Change(CensusChangeKinds.Enr, null, 0, string.Join('\n', enrs.Select(e => Convert.ToHexStringLower(e.NodeId)))));
        return changes;
    }

    /// <summary>Appends <paramref name="changes"/> in <paramref name="tx"/> (one statement).</summary>
    public static async Task AppendAsync(DbConnection conn, DbTransaction? tx, StorageProvider provider, DateTime at, IReadOnlyList<Change> changes, CancellationToken ct)
    {
        if (changes.Count == 0) return;
        string txid = provider == StorageProvider.Postgres ? PgTxid : "NULL";
        var parameters = new List<(string, object?)> { ("at", at) };
        var values = new List<string>(changes.Count);
        for (int i = 0; i < changes.Count; i++)
        {
            string n = i.ToString(CultureInfo.InvariantCulture);
            values.Add($"({txid}, @at, @k{n}, @c{n}, @r{n}, @s{n})");
            parameters.Add(("k" + n, changes[i].Kind));
            parameters.Add(("c" + n, changes[i].CrawlId));
            parameters.Add(("r" + n, changes[i].Rows));
            parameters.Add(("s" + n, changes[i].Keys));
        }
        await Sql.ExecuteAsync(conn, tx, $"INSERT INTO census_changes (txid, at, kind, crawl_id, rows, keys) VALUES {string.Join(", ", values)}", ct,
            [.. parameters]).ConfigureAwait(false);
    }

    /// <summary>Appends one <see cref="CensusChangeKinds.All"/> row for <paramref name="crawlId"/> (null: every crawl).</summary>
    public static Task AllAsync(DbConnection conn, DbTransaction? tx, StorageProvider provider, DateTime at, long? crawlId, CancellationToken ct) =>
        AppendAsync(conn, tx, provider, at, [new Change(CensusChangeKinds.All, crawlId, 0, null)], ct);

    /// <summary>
    /// Deletes change rows older than <paramref name="cutoff"/> and, when it deleted any, appends an
    /// <see cref="CensusChangeKinds.All"/> row (readers that might have needed them count again). The newest row is always
    /// kept, so that SQLite's next id stays above every token read before.
    /// </summary>
    public static async Task PruneAsync(DbConnection conn, StorageProvider provider, DateTime now, DateTime cutoff, CancellationToken ct)
    {
        await using DbTransaction tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
        int deleted = await Sql.ExecuteAsync(conn, tx, "DELETE FROM census_changes WHERE at < @cutoff AND id < (SELECT MAX(id) FROM census_changes)", ct,
            ("cutoff", cutoff)).ConfigureAwait(false);
        if (deleted > 0) await AllAsync(conn, tx, provider, now, null, ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The token of the read transaction <paramref name="tx"/> (its first statement on PostgreSQL, which fixes its snapshot).</summary>
    public static async Task<string> TokenAsync(DbConnection conn, DbTransaction tx, StorageProvider provider, CancellationToken ct)
    {
        await using DbCommand cmd = Sql.Command(conn, tx, provider == StorageProvider.Postgres
            ? "SELECT CAST(pg_current_snapshot() AS TEXT)"
            : "SELECT COALESCE(MAX(id), 0) FROM census_changes");
        return Convert.ToString(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture) ?? "";
    }

    /// <summary>The change rows committed after <paramref name="token"/> and seen by <paramref name="tx"/>.</summary>
    public static async Task<List<Change>> SinceAsync(DbConnection conn, DbTransaction tx, StorageProvider provider, string token, CancellationToken ct)
    {
        // PostgreSQL: every transaction the snapshot did not see is at or above its xmin (the oldest one then in progress)
        string sql = provider == StorageProvider.Postgres
            ? """
              SELECT kind, crawl_id, rows, keys FROM census_changes
              WHERE txid >= CAST(CAST(pg_snapshot_xmin(CAST(@token AS pg_snapshot)) AS TEXT) AS BIGINT)
                AND NOT pg_visible_in_snapshot(CAST(CAST(txid AS TEXT) AS xid8), CAST(@token AS pg_snapshot))
              """
            : "SELECT kind, crawl_id, rows, keys FROM census_changes WHERE id > @token";
        object tokenValue = provider == StorageProvider.Postgres ? token : long.Parse(token, CultureInfo.InvariantCulture);
        var changes = new List<Change>();
        await using DbCommand cmd = Sql.Command(conn, tx, sql, ("token", tokenValue));
        await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
            changes.Add(new Change(r.GetString(0), r.GetInt64OrNull(1), r.GetInt64(2), r.GetStringOrNull(3)));
        return changes;
    }
}
