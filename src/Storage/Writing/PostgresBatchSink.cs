using Npgsql;
using NpgsqlTypes;

namespace ClP2p.Storage;

/// <summary>
/// PostgreSQL batch writer: one transaction per batch; nodes, ENRs, agents and geo rows as
/// <c>INSERT ... SELECT * FROM unnest(@arrays) ON CONFLICT</c>, visits by binary COPY in node id order.
/// <para>
/// Nodes sighted by discovery (an ENR in the batch) are upserted in full, moving last_seen. Nodes met only through
/// visits are inserted when unknown and otherwise updated only where the visit adds something (a peer id, a higher
/// seq, an earlier first sighting): a visit keeps its own time, so visits never rewrite node rows. Visits of nodes this
/// writer has already stored (see <see cref="KnownNodes"/>) send no node statement at all.
/// </para>
/// </summary>
internal sealed class PostgresBatchSink : IBatchSink
{
    private const string UpsertNodes = """
        INSERT INTO nodes (node_id, public_key, peer_id, first_seen, last_seen, latest_seq)
        SELECT * FROM unnest(@id, @pk, @peer, @first, @last, @seq)
        ON CONFLICT (node_id) DO UPDATE SET
            public_key = COALESCE(EXCLUDED.public_key, nodes.public_key),
            peer_id = COALESCE(EXCLUDED.peer_id, nodes.peer_id),
            first_seen = LEAST(nodes.first_seen, EXCLUDED.first_seen),
            last_seen = GREATEST(nodes.last_seen, EXCLUDED.last_seen),
            latest_seq = GREATEST(nodes.latest_seq, EXCLUDED.latest_seq)
        """;

    private const string EnsureNodes = """
        INSERT INTO nodes (node_id, public_key, peer_id, first_seen, last_seen, latest_seq)
        SELECT * FROM unnest(@id, @pk, @peer, @first, @last, @seq)
        ON CONFLICT (node_id) DO UPDATE SET
            peer_id = COALESCE(nodes.peer_id, EXCLUDED.peer_id),
            first_seen = LEAST(nodes.first_seen, EXCLUDED.first_seen),
            latest_seq = GREATEST(nodes.latest_seq, EXCLUDED.latest_seq)
        WHERE (nodes.peer_id IS NULL AND EXCLUDED.peer_id IS NOT NULL)
            OR nodes.first_seen > EXCLUDED.first_seen
            OR nodes.latest_seq < EXCLUDED.latest_seq
        """;

    private const string InsertEnrs = """
        INSERT INTO enr_history (node_id, seq, raw, seen_at, ip4, ip6, udp, tcp, quic, udp6, tcp6, fork_digest, fork_name,
            network_name, next_fork_version, next_fork_epoch, attnets, syncnets, cgc, nfd)
        SELECT * FROM unnest(@id, @seq, @raw, @seen, @ip4, @ip6, @udp, @tcp, @quic, @udp6, @tcp6, @fd, @fname,
            @net, @nfv, @nfe, @att, @sync, @cgc, @nfd)
        ON CONFLICT (node_id, seq) DO NOTHING
        """;

    private const string UpsertAgents = """
        INSERT INTO agent_versions (raw, client, version, os, arch, client_inferred)
        SELECT * FROM unnest(@raw, @client, @version, @os, @arch, @inferred)
        ON CONFLICT (raw) DO NOTHING
        """;

    private const string UpsertGeos = """
        INSERT INTO ip_addresses (address, country, city, asn, as_org, looked_up_at)
        SELECT * FROM unnest(@ip, @country, @city, @asn, @org, @at)
        ON CONFLICT (address) DO UPDATE SET country = EXCLUDED.country, city = EXCLUDED.city, asn = EXCLUDED.asn,
            as_org = EXCLUDED.as_org, looked_up_at = EXCLUDED.looked_up_at
        """;

    private static readonly string CopyVisits = $"COPY visits ({VisitColumns.NameList}) FROM STDIN (FORMAT BINARY)";

    /// <summary>Columns of <see cref="CopyVisits"/>.</summary>
    private static readonly short VisitColumnCount = (short)VisitColumns.All.Count;

    /// <summary>Encoded COPY data sent to the server at a time.</summary>
    private const int CopyChunkBytes = 128 * 1024;

    private readonly NpgsqlDataSource _dataSource;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _agentIds = new(StringComparer.Ordinal);
    private readonly KnownNodes _known;

    private readonly TimeProvider _time;

    public PostgresBatchSink(StorageOptions options, int knownNodeCapacity, TimeProvider time)
    {
        _dataSource = options.PostgresDataSource;
        _known = new KnownNodes(knownNodeCapacity);
        _time = time;
    }

    /// <summary>The data source is the process's shared one (<see cref="StorageOptions.PostgresDataSource"/>): nothing of ours to close.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public async Task<WriteResult> WriteAsync(Batch batch, CancellationToken ct)
    {
        await using NpgsqlConnection conn = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using NpgsqlTransaction tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);

        // Visits of nodes whose stored row already holds what they would add are left out of the node rows at once,
        // so every row not sighted is one the cache does not cover.
        List<NodeRow> nodes = NodeRow.Merge(batch, _known.Covers);
        List<NodeRow> sighted = nodes.FindAll(n => n.Sighted);
        List<NodeRow> ensured = nodes.FindAll(n => !n.Sighted);
        if (ensured.Count > 0) ensured = await LeaveOutStoredAsync(conn, tx, ensured, ct).ConfigureAwait(false);
        await WriteNodesAsync(conn, tx, UpsertNodes, sighted, ct).ConfigureAwait(false);
        await WriteNodesAsync(conn, tx, EnsureNodes, ensured, ct).ConfigureAwait(false);

        List<EnrObservation> enrs = NodeRow.DistinctEnrs(batch);
        if (enrs.Count > 0)
        {
            await using var cmd = new NpgsqlCommand(InsertEnrs, conn, tx);
            cmd.Parameters.Add(Array("id", enrs.Select(e => e.NodeId), NpgsqlDbType.Bytea));
            cmd.Parameters.Add(Array("seq", enrs.Select(e => unchecked((long)e.Seq)), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array("raw", enrs.Select(e => e.Raw), NpgsqlDbType.Bytea));
            cmd.Parameters.Add(Array("seen", enrs.Select(e => e.SeenAt.UtcDateTime), NpgsqlDbType.TimestampTz));
            cmd.Parameters.Add(Array("ip4", enrs.Select(e => e.Ip4), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("ip6", enrs.Select(e => e.Ip6), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("udp", enrs.Select(e => e.Udp), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array("tcp", enrs.Select(e => e.Tcp), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array("quic", enrs.Select(e => e.Quic), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array("udp6", enrs.Select(e => e.Udp6), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array("tcp6", enrs.Select(e => e.Tcp6), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array("fd", enrs.Select(e => Sql.Hex(e.ForkDigest)), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("fname", enrs.Select(e => e.ForkName), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("net", enrs.Select(e => e.NetworkName), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("nfv", enrs.Select(e => Sql.Hex(e.NextForkVersion)), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("nfe", enrs.Select(e => Sql.Signed(e.NextForkEpoch)), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array("att", enrs.Select(e => Sql.Hex(e.Attnets)), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("sync", enrs.Select(e => Sql.Hex(e.Syncnets)), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("cgc", enrs.Select(e => Sql.Signed(e.Cgc)), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array("nfd", enrs.Select(e => Sql.Hex(e.Nfd)), NpgsqlDbType.Text));
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        Dictionary<string, long> newAgentIds = await UpsertAgentsAsync(conn, tx, batch, ct).ConfigureAwait(false);

        List<IpGeo> geos = NodeRow.DistinctGeos(batch);
        if (geos.Count > 0)
        {
            await using var cmd = new NpgsqlCommand(UpsertGeos, conn, tx);
            cmd.Parameters.Add(Array("ip", geos.Select(g => g.Ip), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("country", geos.Select(g => g.Country), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("city", geos.Select(g => g.City), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("asn", geos.Select(g => g.Asn), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array("org", geos.Select(g => g.AsOrg), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("at", geos.Select(g => g.LookedUpAt.UtcDateTime), NpgsqlDbType.TimestampTz));
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        if (batch.Visits.Count > 0)
            await CopyVisitsAsync(conn, batch.Visits, newAgentIds, ct).ConfigureAwait(false);

        await CensusChanges.AppendAsync(conn, tx, StorageProvider.Postgres, _time.GetUtcNow().UtcDateTime, CensusChanges.Of(batch, enrs, geos), ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        foreach ((string raw, long id) in newAgentIds) _agentIds[raw] = id;
        _known.Remember(sighted);
        _known.Remember(ensured);
        return new WriteResult(sighted.Count + ensured.Count, enrs.Count, batch.Visits.Count, geos.Count, newAgentIds.Count);
    }

    /// <summary>
    /// Reads the stored rows of nodes met only through visits and returns those whose row is missing or lacks something
    /// the visits add. A read takes no row locks and writes nothing, where an <c>ON CONFLICT DO UPDATE ... WHERE</c>
    /// locks (and so dirties) every existing row even when it changes none. What the read shows is committed and only
    /// ever grows stronger, so it is remembered at once.
    /// </summary>
    private async Task<List<NodeRow>> LeaveOutStoredAsync(NpgsqlConnection conn, NpgsqlTransaction tx, List<NodeRow> rows, CancellationToken ct)
    {
        await using (var cmd = new NpgsqlCommand(
            "SELECT node_id, peer_id IS NOT NULL, latest_seq, first_seen FROM nodes WHERE node_id = ANY(@id)", conn, tx))
        {
            cmd.Parameters.Add(Array("id", rows.Select(n => n.NodeId), NpgsqlDbType.Bytea));
            await using NpgsqlDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                _known.RememberStored(r.GetFieldValue<byte[]>(0), r.GetBoolean(1), r.GetInt64(2), r.GetFieldValue<DateTime>(3));
        }
        return rows.FindAll(n => !_known.Covers(n));
    }

    private static async Task WriteNodesAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, List<NodeRow> nodes, CancellationToken ct)
    {
        if (nodes.Count == 0) return;
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        cmd.Parameters.Add(Array("id", nodes.Select(n => n.NodeId), NpgsqlDbType.Bytea));
        cmd.Parameters.Add(Array("pk", nodes.Select(n => n.PublicKey), NpgsqlDbType.Bytea));
        cmd.Parameters.Add(Array("peer", nodes.Select(n => n.PeerId), NpgsqlDbType.Text));
        cmd.Parameters.Add(Array("first", nodes.Select(n => n.FirstSeen), NpgsqlDbType.TimestampTz));
        cmd.Parameters.Add(Array("last", nodes.Select(n => n.LastSeen), NpgsqlDbType.TimestampTz));
        cmd.Parameters.Add(Array("seq", nodes.Select(n => n.LatestSeq), NpgsqlDbType.Bigint));
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private async Task<Dictionary<string, long>> UpsertAgentsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, Batch batch, CancellationToken ct)
    {
        List<KeyValuePair<string, VisitObservation>> missing = NodeRow.DistinctAgents(batch, _agentIds.ContainsKey);
        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        if (missing.Count == 0) return ids;
        await using (var cmd = new NpgsqlCommand(UpsertAgents, conn, tx))
        {
            cmd.Parameters.Add(Array("raw", missing.Select(kv => kv.Key), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("client", missing.Select(kv => kv.Value.Client), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("version", missing.Select(kv => kv.Value.ClientVersion), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("os", missing.Select(kv => kv.Value.Os), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("arch", missing.Select(kv => kv.Value.Arch), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array("inferred", missing.Select(kv => kv.Value.ClientInferred), NpgsqlDbType.Boolean));
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        await using (var cmd = new NpgsqlCommand("SELECT raw, id FROM agent_versions WHERE raw = ANY(@raw)", conn, tx))
        {
            cmd.Parameters.Add(Array("raw", missing.Select(kv => kv.Key), NpgsqlDbType.Text));
            await using NpgsqlDataReader r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false)) ids[r.GetString(0)] = r.GetInt64(1);
        }
        return ids;
    }

    private async Task CopyVisitsAsync(NpgsqlConnection conn, List<VisitObservation> visits, Dictionary<string, long> newAgentIds, CancellationToken ct)
    {
        // In node id order (by the first 8 bytes, enough to spread 2^64 ways): consecutive rows then go to neighbouring
        // leaf pages of the (crawl_id, node_id) index instead of random ones.
        VisitObservation[] sorted = [.. visits];
        var order = new ulong[sorted.Length];
        for (int i = 0; i < sorted.Length; i++) order[i] = SortKey(sorted[i].NodeId);
        System.Array.Sort(order, sorted);
        // Raw binary COPY, encoded here (see PgBinaryCopyWriter), sent in chunks so the server works while we encode.
        using var rows = new PgBinaryCopyWriter(CopyChunkBytes + 4096);
        await using NpgsqlRawCopyStream copy = await conn.BeginRawBinaryCopyAsync(CopyVisits, ct).ConfigureAwait(false);
        rows.WriteHeader();
        IReadOnlyList<VisitColumn> columns = VisitColumns.All;
        foreach (VisitObservation v in sorted)
        {
            long? agentId = null;
            if (v.AgentVersion is { } raw)
                agentId = _agentIds.TryGetValue(raw, out long id) || newAgentIds.TryGetValue(raw, out id) ? id : null;
            var row = new VisitRow(v, agentId);
            rows.StartRow(VisitColumnCount);
            foreach (VisitColumn column in columns) column.Copy(rows, row);
            if (rows.Length >= CopyChunkBytes)
            {
                await copy.WriteAsync(rows.Written, ct).ConfigureAwait(false);
                rows.Clear();
            }
        }
        rows.WriteTrailer();
        await copy.WriteAsync(rows.Written, ct).ConfigureAwait(false);
    }

    private static ulong SortKey(byte[] nodeId)
    {
        if (nodeId.Length >= 8) return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(nodeId);
        Span<byte> padded = stackalloc byte[8];
        nodeId.CopyTo(padded);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(padded);
    }

    private static NpgsqlParameter Array<T>(string name, IEnumerable<T> values, NpgsqlDbType elementType) =>
        new(name, NpgsqlDbType.Array | elementType) { Value = values.ToArray() };
}
