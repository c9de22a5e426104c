using Microsoft.Data.Sqlite;

namespace ClP2p.Storage;

/// <summary>SQLite batch writer: one transaction per batch, one prepared statement per table reused for every row.</summary>
internal sealed class SqliteBatchSink : IBatchSink
{
    private const string UpsertNode = """
        INSERT INTO nodes (node_id, public_key, peer_id, first_seen, last_seen, latest_seq)
        VALUES ($id, $pk, $peer, $first, $last, $seq)
        ON CONFLICT (node_id) DO UPDATE SET
            public_key = COALESCE(excluded.public_key, public_key),
            peer_id = COALESCE(excluded.peer_id, peer_id),
            first_seen = MIN(first_seen, excluded.first_seen),
            last_seen = MAX(last_seen, excluded.last_seen),
            latest_seq = MAX(latest_seq, excluded.latest_seq)
        """;

    // A node met only through visits: inserted when unknown, otherwise only what the visit adds (see PostgresBatchSink).
    private const string EnsureNode = """
        INSERT INTO nodes (node_id, public_key, peer_id, first_seen, last_seen, latest_seq)
        VALUES ($id, $pk, $peer, $first, $last, $seq)
        ON CONFLICT (node_id) DO UPDATE SET
            peer_id = COALESCE(peer_id, excluded.peer_id),
            first_seen = MIN(first_seen, excluded.first_seen),
            latest_seq = MAX(latest_seq, excluded.latest_seq)
        WHERE (peer_id IS NULL AND excluded.peer_id IS NOT NULL)
            OR first_seen > excluded.first_seen
            OR latest_seq < excluded.latest_seq
        """;

    private const string InsertEnr = """
        INSERT INTO enr_history (node_id, seq, raw, seen_at, ip4, ip6, udp, tcp, quic, udp6, tcp6, fork_digest, fork_name,
            network_name, next_fork_version, next_fork_epoch, attnets, syncnets, cgc, nfd)
        VALUES ($id, $seq, $raw, $seen, $ip4, $ip6, $udp, $tcp, $quic, $udp6, $tcp6, $fd, $fname, $net, $nfv, $nfe, $att, $sync, $cgc, $nfd)
        ON CONFLICT (node_id, seq) DO NOTHING
        """;

    private const string UpsertGeo = """
        INSERT INTO ip_addresses (address, country, city, asn, as_org, looked_up_at)
        VALUES ($ip, $country, $city, $asn, $org, $at)
        ON CONFLICT (address) DO UPDATE SET country = excluded.country, city = excluded.city, asn = excluded.asn,
            as_org = excluded.as_org, looked_up_at = excluded.looked_up_at
        """;

    private const string InsertAgent =
        "INSERT INTO agent_versions (raw, client, version, os, arch, client_inferred) VALUES ($raw, $client, $version, $os, $arch, $inferred) ON CONFLICT (raw) DO NOTHING";

    private static readonly string[] NodeParameters = ["$id", "$pk", "$peer", "$first", "$last", "$seq"];
    private static readonly string[] EnrParameters =
        ["$id", "$seq", "$raw", "$seen", "$ip4", "$ip6", "$udp", "$tcp", "$quic", "$udp6", "$tcp6", "$fd", "$fname", "$net", "$nfv", "$nfe", "$att", "$sync", "$cgc", "$nfd"];
    private static readonly string[] GeoParameters = ["$ip", "$country", "$city", "$asn", "$org", "$at"];
    private static readonly string[] AgentParameters = ["$raw", "$client", "$version", "$os", "$arch", "$inferred"];
    private static readonly string[] VisitParameters = [.. VisitColumns.All.Select(c => "$" + c.Name)];
    private static readonly string InsertVisit = $"INSERT INTO visits ({VisitColumns.NameList}) VALUES ({string.Join(", ", VisitParameters)})";

    /// <summary>
    /// The writer's connection settings, set on each lease of the pooled connection (they last as long as it does).
    /// A page cache of 64 MiB instead of SQLite's 2 MiB holds the indexes a crawl's inserts land on in random places
    /// (node ids are random), so a batch does not read them back from the file one page at a time; and a checkpoint
    /// every 8,192 pages of write-ahead log instead of 1,000 copies a page rewritten by several batches to the database
    /// once rather than once per 1,000 pages (sqlite.org/pragma.html#pragma_cache_size, #pragma_wal_autocheckpoint).
    /// Durability is unchanged: every commit is still synced (synchronous FULL, the default).
    /// </summary>
    private const string WriterPragmas = "PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 8192;";

    private readonly string _connectionString;
    private readonly Dictionary<string, long> _agentIds = new(StringComparer.Ordinal);

    private readonly TimeProvider _time;

    public SqliteBatchSink(StorageOptions options, TimeProvider time)
    {
        _connectionString = options.ConnectionString;
        _time = time;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// Writes the batch in one transaction. Rows are bound and stepped through <see cref="SqliteRawStatement"/> (one
    /// prepared statement per table, reused for every row); the transaction, the census change rows and the commit go
    /// through Microsoft.Data.Sqlite. The connection comes from its pool (open is a lease, not a file open).
    /// </summary>
    public async Task<WriteResult> WriteAsync(Batch batch, CancellationToken ct)
    {
        await using var conn = new SqliteConnection(_connectionString);
        await conn.OpenAsync(ct).ConfigureAwait(false);
        await Sql.ExecuteAsync(conn, null, WriterPragmas, ct).ConfigureAwait(false);
        await using var tx = (SqliteTransaction)await conn.BeginTransactionAsync(ct).ConfigureAwait(false);

        List<NodeRow> nodes = NodeRow.Merge(batch);
        using (SqliteRawStatement upsert = SqliteRawStatement.Prepare(conn, UpsertNode, NodeParameters))
        using (SqliteRawStatement ensure = SqliteRawStatement.Prepare(conn, EnsureNode, NodeParameters))
        {
            foreach (NodeRow n in nodes)
            {
                ct.ThrowIfCancellationRequested();
                SqliteRawStatement cmd = n.Sighted ? upsert : ensure;
                cmd.Bind(0, n.NodeId);
                cmd.Bind(1, n.PublicKey);
                cmd.Bind(2, n.PeerId);
                cmd.Bind(3, n.FirstSeen);
                cmd.Bind(4, n.LastSeen);
                cmd.Bind(5, n.LatestSeq);
                cmd.Execute();
            }
        }

        List<EnrObservation> enrs = NodeRow.DistinctEnrs(batch);
        using (SqliteRawStatement cmd = SqliteRawStatement.Prepare(conn, InsertEnr, EnrParameters))
        {
            foreach (EnrObservation e in enrs)
            {
                ct.ThrowIfCancellationRequested();
                cmd.Bind(0, e.NodeId);
                cmd.Bind(1, unchecked((long)e.Seq));
                cmd.Bind(2, e.Raw);
                cmd.Bind(3, e.SeenAt.UtcDateTime);
                cmd.Bind(4, e.Ip4);
                cmd.Bind(5, e.Ip6);
                cmd.Bind(6, e.Udp);
                cmd.Bind(7, e.Tcp);
                cmd.Bind(8, e.Quic);
                cmd.Bind(9, e.Udp6);
                cmd.Bind(10, e.Tcp6);
                cmd.BindHex(11, e.ForkDigest);
                cmd.Bind(12, e.ForkName);
                cmd.Bind(13, e.NetworkName);
                cmd.BindHex(14, e.NextForkVersion);
                cmd.Bind(15, Sql.Signed(e.NextForkEpoch));
                cmd.BindHex(16, e.Attnets);
                cmd.BindHex(17, e.Syncnets);
                cmd.Bind(18, Sql.Signed(e.Cgc));
                cmd.BindHex(19, e.Nfd);
                cmd.Execute();
            }
        }

        var newAgentIds = new Dictionary<string, long>(StringComparer.Ordinal);
        List<KeyValuePair<string, VisitObservation>> missing = NodeRow.DistinctAgents(batch, _agentIds.ContainsKey);
        if (missing.Count > 0)
        {
            using SqliteRawStatement insert = SqliteRawStatement.Prepare(conn, InsertAgent, AgentParameters);
            using SqliteRawStatement select = SqliteRawStatement.Prepare(conn, "SELECT id FROM agent_versions WHERE raw = $raw", ["$raw"]);
            foreach ((string raw, VisitObservation v) in missing)
            {
                ct.ThrowIfCancellationRequested();
                insert.Bind(0, raw);
                insert.Bind(1, v.Client);
                insert.Bind(2, v.ClientVersion);
                insert.Bind(3, v.Os);
                insert.Bind(4, v.Arch);
                insert.Bind(5, v.ClientInferred);
                insert.Execute();
                select.Bind(0, raw);
                newAgentIds[raw] = select.ScalarInt64() ?? throw new InvalidOperationException("agent_versions lacks the row just inserted: " + raw);
            }
        }

        List<IpGeo> geos = NodeRow.DistinctGeos(batch);
        using (SqliteRawStatement cmd = SqliteRawStatement.Prepare(conn, UpsertGeo, GeoParameters))
        {
            foreach (IpGeo g in geos)
            {
                ct.ThrowIfCancellationRequested();
                cmd.Bind(0, g.Ip);
                cmd.Bind(1, g.Country);
                cmd.Bind(2, g.City);
                cmd.Bind(3, g.Asn);
                cmd.Bind(4, g.AsOrg);
                cmd.Bind(5, g.LookedUpAt.UtcDateTime);
                cmd.Execute();
            }
        }

        using (SqliteRawStatement cmd = SqliteRawStatement.Prepare(conn, InsertVisit, VisitParameters))
        {
            IReadOnlyList<VisitColumn> columns = VisitColumns.All;
            foreach (VisitObservation v in batch.Visits)
            {
                ct.ThrowIfCancellationRequested();
                long? agentId = null;
                if (v.AgentVersion is { } raw)
                    agentId = _agentIds.TryGetValue(raw, out long id) || newAgentIds.TryGetValue(raw, out id) ? id : null;
                var row = new VisitRow(v, agentId);
                for (int i = 0; i < columns.Count; i++) columns[i].Bind(cmd, i, row);
                cmd.Execute();
            }
        }

        await CensusChanges.AppendAsync(conn, tx, StorageProvider.Sqlite, _time.GetUtcNow().UtcDateTime, CensusChanges.Of(batch, enrs, geos), ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        foreach ((string raw, long id) in newAgentIds) _agentIds[raw] = id;
        return new WriteResult(nodes.Count, enrs.Count, batch.Visits.Count, geos.Count, newAgentIds.Count);
    }
}
