using System.Data.Common;

namespace ClP2p.Storage;

/// <summary>The name of a fork digest, as the crawler's network registry gives it.</summary>
/// <param name="Digest">8 lowercase hex digits.</param>
/// <param name="Network">Network name ("mainnet").</param>
/// <param name="Fork">Fork name ("gloas", "bpo2", "pre-genesis").</param>
/// <param name="Kind">fork, unscheduled or pre_genesis.</param>
public sealed record DigestNameRow(string Digest, string Network, string Fork, string Kind);

/// <summary>The parts of an agent string, as the crawler's parser gives them.</summary>
public sealed record AgentParts(string? Client, string? Version, string? Os, string? Arch, bool? ClientInferred);

/// <summary>The consensus fields of a stored ENR, decoded again from its raw bytes.</summary>
/// <param name="Cgc">The cgc value; null when the record has no (valid) cgc.</param>
public sealed record EnrRedecode(ulong? Cgc);

/// <summary>
/// Brings stored rows in line with what this build knows: digest names from the network registry (query-time names,
/// rewritten on every start), agent strings parsed again, and ENR fields decoded again from the stored records. Storage
/// knows no ENR or agent format, so the crawler passes the decoders.
/// </summary>
public static class StoredDataRepair
{
    /// <summary>
    /// Replaces the table fork_digests with <paramref name="names"/>. Where a digest gains a name or changes it, the
    /// pre-aggregated census of the crawls that met it is rebuilt, so finished crawls count those nodes on their network.
    /// Returns the digests added or renamed.
    /// </summary>
    public static async Task<int> SyncDigestNamesAsync(StorageOptions options, IReadOnlyCollection<DigestNameRow> names, TimeProvider? time = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(names);
        var stored = new Dictionary<string, (string Network, string Fork, string Kind)>(StringComparer.Ordinal);
        var changed = new List<string>();
        await using (DbConnection conn = Sql.Open(options))
        {
            await conn.OpenAsync(ct).ConfigureAwait(false);
            await using (DbCommand cmd = Sql.Command(conn, null, "SELECT digest, network, fork, kind FROM fork_digests"))
            await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await r.ReadAsync(ct).ConfigureAwait(false)) stored[r.GetString(0)] = (r.GetString(1), r.GetString(2), r.GetString(3));
            }
            var wanted = names.GroupBy(n => n.Digest, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            bool same = stored.Count == wanted.Count && wanted.Values.All(n => stored.TryGetValue(n.Digest, out var s) && s == (n.Network, n.Fork, n.Kind));
            if (same) return 0;
            foreach (DigestNameRow n in wanted.Values)
                if (!stored.TryGetValue(n.Digest, out var s) || (s.Network, s.Fork) != (n.Network, n.Fork)) changed.Add(n.Digest);
            await using DbTransaction tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
            await Sql.ExecuteAsync(conn, tx, "DELETE FROM fork_digests", ct).ConfigureAwait(false);
            await using (DbCommand insert = Sql.Command(conn, tx, "INSERT INTO fork_digests (digest, network, fork, kind) VALUES (@d, @n, @f, @k)",
                ("d", ""), ("n", ""), ("f", ""), ("k", "")))
            {
                foreach (DigestNameRow n in wanted.Values)
                {
                    (insert.Parameters[0].Value, insert.Parameters[1].Value, insert.Parameters[2].Value, insert.Parameters[3].Value) = (n.Digest, n.Network, n.Fork, n.Kind);
                    await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }
            }
            await CensusChanges.AllAsync(conn, tx, options.Provider, (time ?? TimeProvider.System).GetUtcNow().UtcDateTime, null, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
        }
        if (changed.Count > 0) await RebuildCensusOfCrawlsWithAsync(options, changed, time, ct).ConfigureAwait(false);
        return changed.Count;
    }

    /// <summary>
    /// Rebuilds the pre-aggregated census of the finished crawls that hold a node which answered discovery but was not
    /// fully enumerated (a discovery_error), so that their discovery census counts it "incomplete" as a live census
    /// does (a census built before that value counted it "answered"). Returns the crawls rebuilt.
    /// </summary>
    public static async Task<int> RebuildCensusOfCrawlsWithIncompleteDiscoveryAsync(StorageOptions options, TimeProvider? time = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var crawls = new List<long>();
        await using (DbConnection conn = Sql.Open(options))
        {
            await conn.OpenAsync(ct).ConfigureAwait(false);
            await using DbCommand cmd = Sql.Command(conn, null, "SELECT c.id FROM crawls c WHERE c.census_built_at IS NOT NULL AND EXISTS"
                + $" (SELECT 1 FROM visits v WHERE v.crawl_id = c.id AND ({CensusSql.Discovery}) = 'incomplete')");
            await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false)) crawls.Add(r.GetInt64(0));
        }
        await BuildCensusOfAsync(options, crawls, time, ct).ConfigureAwait(false);
        return crawls.Count;
    }

    private static async Task RebuildCensusOfCrawlsWithAsync(StorageOptions options, List<string> digests, TimeProvider? time, CancellationToken ct)
    {
        var crawls = new List<long>();
        await using (DbConnection conn = Sql.Open(options))
        {
            await conn.OpenAsync(ct).ConfigureAwait(false);
            // Digests are few (tens); one probe each over the built crawls' visits.
            for (int i = 0; i < digests.Count; i++)
            {
                await using DbCommand cmd = Sql.Command(conn, null, """
                    SELECT DISTINCT v.crawl_id FROM crawls c
                    JOIN visits v ON v.crawl_id = c.id
                    LEFT JOIN enr_history e ON e.node_id = v.node_id AND e.seq = v.enr_seq
                    WHERE c.census_built_at IS NOT NULL AND (e.fork_digest = @d OR v.status_fork_digest = @d)
                    """, ("d", digests[i]));
                await using DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await r.ReadAsync(ct).ConfigureAwait(false)) crawls.Add(r.GetInt64(0));
            }
        }
        await BuildCensusOfAsync(options, crawls.Distinct(), time, ct).ConfigureAwait(false);
    }

    private static async Task BuildCensusOfAsync(StorageOptions options, IEnumerable<long> crawls, TimeProvider? time, CancellationToken ct)
    {
        var store = new CrawlStore(options, time);
        foreach (long id in crawls) await store.BuildCensusAsync(id, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Parses every stored agent string again with <paramref name="parse"/> and updates the rows whose parts change
    /// (a parser that learns a client, or stops reporting a library's version as the client's). Returns the rows updated.
    /// </summary>
    public static async Task<int> ReparseAgentsAsync(StorageOptions options, Func<string, AgentParts> parse, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(parse);
        var updates = new List<(long Id, AgentParts Parts)>();
        await using DbConnection conn = Sql.Open(options);
        await conn.OpenAsync(ct).ConfigureAwait(false);
        await using (DbCommand cmd = Sql.Command(conn, null, "SELECT id, raw, client, version, os, arch, client_inferred FROM agent_versions"))
        await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                var now = new AgentParts(r.GetStringOrNull(2), r.GetStringOrNull(3), r.GetStringOrNull(4), r.GetStringOrNull(5), r.GetBooleanOrNull(6));
                AgentParts parts = parse(r.GetString(1));
                parts = parts with { Client = Sql.PgText(parts.Client), Version = Sql.PgText(parts.Version) };
                if (parts != now) updates.Add((r.GetInt64(0), parts));
            }
        }
        if (updates.Count == 0) return 0;
        await using DbTransaction tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using (DbCommand update = Sql.Command(conn, tx,
            "UPDATE agent_versions SET client = @c, version = @v, os = @o, arch = @a, client_inferred = @i WHERE id = @id",
            ("c", null), ("v", null), ("o", null), ("a", null), ("i", null), ("id", 0L)))
        {
            foreach ((long id, AgentParts p) in updates)
            {
                update.Parameters[0].Value = (object?)p.Client ?? DBNull.Value;
                update.Parameters[1].Value = (object?)p.Version ?? DBNull.Value;
                update.Parameters[2].Value = (object?)p.Os ?? DBNull.Value;
                update.Parameters[3].Value = (object?)p.Arch ?? DBNull.Value;
                update.Parameters[4].Value = (object?)p.ClientInferred ?? DBNull.Value;
                update.Parameters[5].Value = id;
                await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
        }
        await CensusChanges.AllAsync(conn, tx, options.Provider, TimeProvider.System.GetUtcNow().UtcDateTime, null, ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return updates.Count;
    }

    /// <summary>
    /// Decodes the cgc of stored ENRs again from their raw records (<paramref name="decode"/>) where it may be wrong: every
    /// row whose cgc is 0 or null (records without a cgc key were stored as 0 before migration DataCorrectness, and a
    /// Nimbus-style single 0x00 byte as null). Updates the rows whose value changes; returns how many.
    /// </summary>
    public static async Task<int> RedecodeEnrCgcAsync(StorageOptions options, Func<byte[], EnrRedecode> decode, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(decode);
        int updated = 0;
        await using DbConnection read = Sql.Open(options);
        await read.OpenAsync(ct).ConfigureAwait(false);
        await using DbConnection write = Sql.Open(options);
        await write.OpenAsync(ct).ConfigureAwait(false);
        byte[] after = [];
        long afterSeq = long.MinValue;
        const int Page = 5000;
        while (true)
        {
            var page = new List<(byte[] Id, long Seq, long? Cgc, byte[] Raw)>(Page);
            await using (DbCommand cmd = Sql.Command(read, null, """
                SELECT node_id, seq, cgc, raw FROM enr_history
                WHERE (cgc IS NULL OR cgc = 0) AND (node_id > @id OR (node_id = @id AND seq > @seq))
                ORDER BY node_id, seq LIMIT @page
                """, ("id", after), ("seq", afterSeq), ("page", Page)))
            await using (DbDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                    page.Add(((byte[])r.GetValue(0), r.GetInt64(1), r.GetInt64OrNull(2), (byte[])r.GetValue(3)));
            }
            if (page.Count == 0) break;
            await using (DbTransaction tx = await write.BeginTransactionAsync(ct).ConfigureAwait(false))
            {
                bool changed = false;
                await using DbCommand update = Sql.Command(write, tx, "UPDATE enr_history SET cgc = @cgc WHERE node_id = @id AND seq = @seq",
                    ("cgc", null), ("id", Array.Empty<byte>()), ("seq", 0L));
                foreach ((byte[] id, long seq, long? cgc, byte[] raw) in page)
                {
                    long? decoded = Sql.Signed(decode(raw).Cgc);
                    if (decoded == cgc) continue;
                    update.Parameters[0].Value = (object?)decoded ?? DBNull.Value;
                    update.Parameters[1].Value = id;
                    update.Parameters[2].Value = seq;
                    updated += await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                    changed = true;
                }
                if (changed) await CensusChanges.AllAsync(write, tx, options.Provider, TimeProvider.System.GetUtcNow().UtcDateTime, null, ct).ConfigureAwait(false);
                await tx.CommitAsync(ct).ConfigureAwait(false);
            }
            (after, afterSeq) = (page[^1].Id, page[^1].Seq);
            if (page.Count < Page) break;
        }
        return updated;
    }
}
