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

    private static readonly string InsertVisit =
        $"INSERT INTO visits ({VisitColumns.NameList}) VALUES ({string.Join(", ", VisitColumns.All.Select(c => "$" + c.Name))})";

    private readonly string _connectionString;
    private readonly Dictionary<string, long> _agentIds = new(StringComparer.Ordinal);

    private readonly TimeProvider _time;

    public SqliteBatchSink(StorageOptions options, TimeProvider time)
    {
        _connectionString = options.ConnectionString;
        _time = time;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public async Task<WriteResult> WriteAsync(Batch batch, CancellationToken ct)
    {
        await using var conn = new SqliteConnection(_connectionString);
        await conn.OpenAsync(ct).ConfigureAwait(false);
        await using var tx = (SqliteTransaction)await conn.BeginTransactionAsync(ct).ConfigureAwait(false);

        List<NodeRow> nodes = NodeRow.Merge(batch);
        await using (SqliteCommand upsert = Prepare(conn, tx, UpsertNode, "$id", "$pk", "$peer", "$first", "$last", "$seq"))
        await using (SqliteCommand ensure = Prepare(conn, tx, EnsureNode, "$id", "$pk", "$peer", "$first", "$last", "$seq"))
        {
            foreach (NodeRow n in nodes)
            {
                SqliteCommand cmd = n.Sighted ? upsert : ensure;
                Set(cmd, n.NodeId, n.PublicKey, n.PeerId, n.FirstSeen, n.LastSeen, n.LatestSeq);
                await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
        }

        List<EnrObservation> enrs = NodeRow.DistinctEnrs(batch);
        await using (SqliteCommand cmd = Prepare(conn, tx, InsertEnr, "$id", "$seq", "$raw", "$seen", "$ip4", "$ip6", "$udp", "$tcp", "$quic",
            "$udp6", "$tcp6", "$fd", "$fname", "$net", "$nfv", "$nfe", "$att", "$sync", "$cgc", "$nfd"))
        {
            foreach (EnrObservation e in enrs)
            {
                Set(cmd, e.NodeId, unchecked((long)e.Seq), e.Raw, e.SeenAt.UtcDateTime, e.Ip4, e.Ip6, e.Udp, e.Tcp, e.Quic, e.Udp6, e.Tcp6,
                    Sql.Hex(e.ForkDigest), e.ForkName, e.NetworkName, Sql.Hex(e.NextForkVersion), Sql.Signed(e.NextForkEpoch),
                    Sql.Hex(e.Attnets), Sql.Hex(e.Syncnets), Sql.Signed(e.Cgc), Sql.Hex(e.Nfd));
                await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
        }

        var newAgentIds = new Dictionary<string, long>(StringComparer.Ordinal);
        List<KeyValuePair<string, VisitObservation>> missing = NodeRow.DistinctAgents(batch, _agentIds.ContainsKey);
        if (missing.Count > 0)
        {
            await using SqliteCommand insert = Prepare(conn, tx,
                "INSERT INTO agent_versions (raw, client, version, os, arch, client_inferred) VALUES ($raw, $client, $version, $os, $arch, $inferred) ON CONFLICT (raw) DO NOTHING",
                "$raw", "$client", "$version", "$os", "$arch", "$inferred");
            await using SqliteCommand select = Prepare(conn, tx, "SELECT id FROM agent_versions WHERE raw = $raw", "$raw");
            foreach ((string raw, VisitObservation v) in missing)
            {
                Set(insert, raw, v.Client, v.ClientVersion, v.Os, v.Arch, v.ClientInferred);
                await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                Set(select, raw);
                newAgentIds[raw] = (long)(await select.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
            }
        }

        List<IpGeo> geos = NodeRow.DistinctGeos(batch);
        await using (SqliteCommand cmd = Prepare(conn, tx, UpsertGeo, "$ip", "$country", "$city", "$asn", "$org", "$at"))
        {
            foreach (IpGeo g in geos)
            {
                Set(cmd, g.Ip, g.Country, g.City, g.Asn, g.AsOrg, g.LookedUpAt.UtcDateTime);
                await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
        }

        await using (SqliteCommand cmd = Prepare(conn, tx, InsertVisit, [.. VisitColumns.All.Select(c => "$" + c.Name)]))
        {
            IReadOnlyList<VisitColumn> columns = VisitColumns.All;
            foreach (VisitObservation v in batch.Visits)
            {
                long? agentId = null;
                if (v.AgentVersion is { } raw)
                    agentId = _agentIds.TryGetValue(raw, out long id) || newAgentIds.TryGetValue(raw, out id) ? id : null;
                var row = new VisitRow(v, agentId);
                for (int i = 0; i < columns.Count; i++)
                    cmd.Parameters[i].Value = columns[i].Parameter(row) ?? DBNull.Value;
                await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
        }

        await CensusChanges.AppendAsync(conn, tx, StorageProvider.Sqlite, _time.GetUtcNow().UtcDateTime, CensusChanges.Of(batch, enrs, geos), ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        foreach ((string raw, long id) in newAgentIds) _agentIds[raw] = id;
        return new WriteResult(nodes.Count, enrs.Count, batch.Visits.Count, geos.Count, newAgentIds.Count);
    }

    private static SqliteCommand Prepare(SqliteConnection conn, SqliteTransaction tx, string sql, params string[] names)
    {
        var cmd = new SqliteCommand(sql, conn, tx);
        foreach (string name in names) cmd.Parameters.Add(new SqliteParameter { ParameterName = name });
        cmd.Prepare();
        return cmd;
    }

    private static void Set(SqliteCommand cmd, params object?[] values)
    {
        for (int i = 0; i < values.Length; i++)
            cmd.Parameters[i].Value = values[i] ?? DBNull.Value;
    }
}
