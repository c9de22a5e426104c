using ClP2p.Storage.Model;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace ClP2p.Storage.Tests;

/// <summary>
/// The SQLite writer binds its rows through SQLitePCLRaw (<see cref="SqliteRawStatement"/>). The same batch is written
/// by it into one database and, into another, by plain Microsoft.Data.Sqlite commands given the parameter values the
/// writer passed them before; every column of every row must hold the same storage class and the same bytes. The rows
/// are then read back through EF Core and the census.
/// </summary>
public class SqliteRawWriteTests
{
    /// <summary>A time with all seven fraction digits, at an offset other than UTC.</summary>
    private static readonly DateTimeOffset SeenAt = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.FromHours(5.5)).AddTicks(1_234_567);

    [Fact]
    public async Task Rows_bound_directly_are_stored_as_Microsoft_Data_Sqlite_commands_store_them()
    {
        await using TestDatabase direct = await TestDatabase.CreateAsync(StorageProvider.Sqlite);
        await using TestDatabase reference = await TestDatabase.CreateAsync(StorageProvider.Sqlite);
        long crawl = await new CrawlStore(direct.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        Assert.Equal(crawl, await new CrawlStore(reference.Options).StartCrawlAsync("mainnet", Samples.T0, null));
        Batch batch = EdgeBatch(crawl);

        await using (var sink = new SqliteBatchSink(direct.Options, TimeProvider.System))
            await sink.WriteAsync(batch, CancellationToken.None);
        await WriteThroughCommandsAsync(reference.Options, batch);

        foreach (string table in new[] { "nodes", "enr_history", "agent_versions", "ip_addresses", "visits" })
        {
            List<string> expected = await DumpAsync(reference.Options, table);
            Assert.Equal(expected, await DumpAsync(direct.Options, table));
            Assert.NotEmpty(expected);
        }
        // what the storage classes are (the comparison above would pass if both paths went wrong alike)
        List<string> visits = await DumpAsync(direct.Options, "visits");
        Assert.Contains("enr_seq=integer:" + Hex("-1"), visits[0], StringComparison.Ordinal);
        Assert.Contains("visited_at=text:" + Hex("2026-03-03 23:36:07.1234567"), visits[0], StringComparison.Ordinal);
        Assert.Contains("finalized_root=blob:,", visits[0], StringComparison.Ordinal);
        Assert.Contains("metadata_syncnets=text:,", visits[0], StringComparison.Ordinal);
        Assert.Contains("neighbours=integer:" + Hex("0"), visits[0], StringComparison.Ordinal);
        Assert.Contains("digest_mismatch=integer:" + Hex("0"), visits[0], StringComparison.Ordinal);
        Assert.Contains("discovery_error=text:" + Hex("a\0b"), visits[0], StringComparison.Ordinal);
        Assert.Contains("visited_at=text:" + Hex("2026-11-01 12:00:00"), visits[1], StringComparison.Ordinal);
        Assert.Contains("neighbours=null:,", visits[1], StringComparison.Ordinal);
        Assert.Contains("enr_seq=null:,", visits[1], StringComparison.Ordinal);
        Assert.Contains("ip=text:,", visits[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_writers_connection_keeps_a_large_page_cache_and_a_longer_checkpoint_interval()
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(StorageProvider.Sqlite);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        // a connection of the pool the writer uses, before any write: SQLite's defaults
        Assert.Equal((-2000L, 1000L), await WriterSettingsAsync(db.Options));
        await using (var sink = new SqliteBatchSink(db.Options, TimeProvider.System))
            await sink.WriteAsync(EdgeBatch(crawl), CancellationToken.None);
        // the pooled connection the writer leased and gave back (the pool holds one idle connection here)
        Assert.Equal((-65536L, 8192L), await WriterSettingsAsync(db.Options));
    }

    private static async Task<(long CacheSize, long Checkpoint)> WriterSettingsAsync(StorageOptions options)
    {
        await using var conn = new SqliteConnection(options.ConnectionString);
        await conn.OpenAsync();
        long cache = Convert.ToInt64(await Sql.ScalarAsync(conn, "PRAGMA cache_size", CancellationToken.None), System.Globalization.CultureInfo.InvariantCulture);
        long checkpoint = Convert.ToInt64(await Sql.ScalarAsync(conn, "PRAGMA wal_autocheckpoint", CancellationToken.None), System.Globalization.CultureInfo.InvariantCulture);
        return (cache, checkpoint);
    }

    [Fact]
    public async Task Rows_bound_directly_read_back_through_EF_Core_and_the_census()
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(StorageProvider.Sqlite);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        Batch batch = EdgeBatch(crawl);
        await using (var sink = new SqliteBatchSink(db.Options, TimeProvider.System))
            await sink.WriteAsync(batch, CancellationToken.None);

        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        NodeEntity n1 = await ctx.Nodes.SingleAsync(n => n.NodeId == Samples.NodeId(1));
        Assert.Equal((SeenAt.UtcDateTime, "16Uiu2HAmEdge"), (n1.FirstSeen, n1.PeerId));
        Assert.Equal(batch.Enrs[0].PublicKey, n1.PublicKey);
        EnrEntity minimal = await ctx.Enrs.SingleAsync(e => e.NodeId == Samples.NodeId(2));
        Assert.Equal((0L, 0), (minimal.Seq, minimal.Raw.Length));
        IpAddressEntity bare = await ctx.IpAddresses.SingleAsync(a => a.Address == "198.51.100.9");
        Assert.Equal((null, null, null, null), (bare.Country, bare.City, bare.Asn, bare.AsOrg));
        Assert.Equal(4_294_967_295L, (await ctx.IpAddresses.SingleAsync(a => a.Address == "203.0.113.7")).Asn);
        Assert.Equal(new bool?[] { true, null }, await ctx.AgentVersions.OrderBy(a => a.Id).Select(a => a.ClientInferred).ToListAsync());

        var census = new CensusService(db.Options);
        NodeHistory full = (await census.GetNodeHistoryAsync(Samples.NodeId(1)))!;
        EnrRecord enr = Assert.Single(full.Enrs);
        Assert.Equal((ulong.MaxValue, SeenAt, ulong.MaxValue, 1UL << 63, ""), (enr.Seq, enr.SeenAt, enr.NextForkEpoch, enr.Cgc, enr.Nfd));
        VisitRecord v = Assert.Single(full.Visits);
        VisitObservation edge = batch.Visits[0];
        Assert.Equal(edge.VisitedAt, v.VisitedAt);
        Assert.Equal((ulong.MaxValue, 1UL << 63, (ulong)long.MaxValue, 0UL), ((ulong?)v["enr_seq"], (ulong?)v["finalized_epoch"], (ulong?)v["head_slot"], (ulong?)v["earliest_available_slot"]));
        Assert.Equal((0, int.MaxValue, "", ""), ((int?)v["neighbours"], (int?)v["latency_ms"], (string?)v["finalized_root"], (string?)v["metadata_syncnets"]));
        Assert.Equal((false, true, false), ((bool?)v["discovery_answered"], (bool?)v["ipv4_answered"], (bool?)v["digest_mismatch"]));
        Assert.Equal(("a\0b", "Ωμέγα 🚀", Convert.ToHexStringLower(edge.StatusDigestSent!)), ((string?)v["discovery_error"], (string?)v["muxer"], (string?)v["status_digest_sent"]));

        // a visit with nothing optional: every optional column reads back absent, never 0 or empty
        NodeHistory bareNode = (await census.GetNodeHistoryAsync(Samples.NodeId(2)))!;
        VisitRecord empty = Assert.Single(bareNode.Visits);
        foreach (VisitColumn c in VisitColumns.All.Where(c => !c.Required && c.Name != "crawl_id" && c.Exported))
            Assert.True(empty[c.Name] is null, c.Name);
        EnrRecord bareEnr = Assert.Single(bareNode.Enrs);
        Assert.Equal((null, null, null, null), (bareEnr.Udp, bareEnr.NextForkEpoch, bareEnr.Cgc, bareEnr.ForkDigest));
    }

    /// <summary>Rows with every kind of column value: full and absent optional fields, uint64 above long, empty blobs and hex, odd text.</summary>
    private static Batch EdgeBatch(long crawl)
    {
        var batch = new Batch();
        batch.Enrs.Add(new EnrObservation
        {
            NodeId = Samples.NodeId(1),
            Seq = ulong.MaxValue,
            Raw = [.. Enumerable.Range(0, 300).Select(i => (byte)i)],
            SeenAt = SeenAt,
            PublicKey = [0x02, .. Samples.NodeId(1)],
            PeerId = "16Uiu2HAmEdge",
            Ip4 = "203.0.113.7",
            Ip6 = "2001:db8::1",
            Udp = 0,
            Tcp = 65535,
            Quic = 9001,
            Udp6 = 9000,
            Tcp6 = 9000,
            ForkDigest = [0x6a, 0x95, 0xa1, 0xa9],
            ForkName = "electra",
            NetworkName = "mainnet",
            NextForkVersion = [6, 0, 0, 0],
            NextForkEpoch = ulong.MaxValue,
            Attnets = [0xff, 0, 0, 0, 0, 0, 0, 0x80],
            Syncnets = [0x0f],
            Cgc = 1UL << 63,
            Nfd = [],
        });
        batch.Enrs.Add(new EnrObservation { NodeId = Samples.NodeId(2), Seq = 0, Raw = [], SeenAt = Samples.T0 });
        batch.Visits.Add(new VisitObservation
        {
            CrawlId = crawl,
            NodeId = Samples.NodeId(1),
            VisitedAt = SeenAt,
            EnrSeq = ulong.MaxValue,
            Ip = "203.0.113.7",
            DiscoveryAnswered = false,
            Neighbours = 0,
            DiscoveryError = "a\0b",
            DialOutcome = DialOutcomes.Ok,
            DialError = new string('x', 550) + "\0" + new string('y', 50),
            FailedStep = "é",
            LatencyMs = int.MaxValue,
            AgentVersion = "js-libp2p/2.8.2",
            Client = "lodestar",
            ClientInferred = true,
            ClientVersion = "",
            Os = "linux",
            Arch = "x86_64",
            PeerId = "16Uiu2HAmEdge",
            Muxer = "Ωμέγα 🚀",
            StatusForkDigest = [0x6a, 0x95, 0xa1, 0xa9],
            FinalizedRoot = [],
            FinalizedEpoch = 1UL << 63,
            HeadRoot = Samples.NodeId(7),
            HeadSlot = long.MaxValue,
            EarliestAvailableSlot = 0,
            StatusVersion = 2,
            MetadataSeq = ulong.MaxValue - 1,
            MetadataAttnets = [1, 2, 3, 4, 5, 6, 7, 8],
            MetadataSyncnets = [],
            CustodyGroupCount = 128,
            MetadataVersion = int.MinValue,
            GoodbyeReason = 3,
            StatusDigestSent = [.. Enumerable.Range(0, 200).Select(i => (byte)(i * 3))],
            DigestMismatch = false,
            Ipv4Answered = true,
            Ipv6Answered = false,
            SeenInbound = true,
        });
        batch.Visits.Add(new VisitObservation { CrawlId = crawl, NodeId = Samples.NodeId(2), VisitedAt = Samples.T0 });
        batch.Visits.Add(new VisitObservation
        {
            NodeId = Samples.NodeId(3),
            VisitedAt = Samples.T0.AddMilliseconds(1),
            Kind = VisitKinds.Redial,
            Ip = "",
            DialOutcome = "io_timeout",
            AgentVersion = "teku/v25.6.0/x86_64-linux",
            Client = "teku",
            PeerId = "16Uiu2HAmThree",
        });
        batch.Geos.Add(new IpGeo { Ip = "203.0.113.7", Country = "DE", City = "Zürich\0", Asn = 4_294_967_295, AsOrg = "AS org", LookedUpAt = SeenAt });
        batch.Geos.Add(new IpGeo { Ip = "198.51.100.9", LookedUpAt = Samples.T0.AddTicks(1) });
        return batch;
    }

    /// <summary>
    /// The batch through Microsoft.Data.Sqlite commands, each row's values as the parameter objects the writer gave
    /// them (DateTime for times, long for uint64 bits, hex strings, byte arrays, DBNull for null), in the writer's order.
    /// </summary>
    private static async Task WriteThroughCommandsAsync(StorageOptions options, Batch batch)
    {
        await using var conn = new SqliteConnection(options.ConnectionString);
        await conn.OpenAsync();
        await using var tx = (SqliteTransaction)await conn.BeginTransactionAsync();
        foreach (NodeRow n in NodeRow.Merge(batch))
            await InsertAsync(conn, tx, "nodes (node_id, public_key, peer_id, first_seen, last_seen, latest_seq)",
                n.NodeId, n.PublicKey, n.PeerId, n.FirstSeen, n.LastSeen, n.LatestSeq);
        foreach (EnrObservation e in NodeRow.DistinctEnrs(batch))
            await InsertAsync(conn, tx, """
                enr_history (node_id, seq, raw, seen_at, ip4, ip6, udp, tcp, quic, udp6, tcp6, fork_digest, fork_name,
                    network_name, next_fork_version, next_fork_epoch, attnets, syncnets, cgc, nfd)
                """,
                e.NodeId, unchecked((long)e.Seq), e.Raw, e.SeenAt.UtcDateTime, e.Ip4, e.Ip6, e.Udp, e.Tcp, e.Quic, e.Udp6, e.Tcp6,
                Sql.Hex(e.ForkDigest), e.ForkName, e.NetworkName, Sql.Hex(e.NextForkVersion), Sql.Signed(e.NextForkEpoch),
                Sql.Hex(e.Attnets), Sql.Hex(e.Syncnets), Sql.Signed(e.Cgc), Sql.Hex(e.Nfd));
        var agentIds = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach ((string raw, VisitObservation v) in NodeRow.DistinctAgents(batch))
        {
            await InsertAsync(conn, tx, "agent_versions (raw, client, version, os, arch, client_inferred)", raw, v.Client, v.ClientVersion, v.Os, v.Arch, v.ClientInferred);
            agentIds[raw] = (long)(await Command(conn, tx, "SELECT id FROM agent_versions WHERE raw = $p0", raw).ExecuteScalarAsync())!;
        }
        foreach (IpGeo g in NodeRow.DistinctGeos(batch))
            await InsertAsync(conn, tx, "ip_addresses (address, country, city, asn, as_org, looked_up_at)", g.Ip, g.Country, g.City, g.Asn, g.AsOrg, g.LookedUpAt.UtcDateTime);
        foreach (VisitObservation v in batch.Visits)
        {
            var row = new VisitRow(v, v.AgentVersion is { } a ? agentIds[a] : null);
            await InsertAsync(conn, tx, $"visits ({VisitColumns.NameList})", [.. VisitColumns.All.Select(c => c.Parameter(row))]);
        }
        await tx.CommitAsync();
    }

    private static async Task InsertAsync(SqliteConnection conn, SqliteTransaction tx, string into, params object?[] values)
    {
        await using SqliteCommand cmd = Command(conn, tx, $"INSERT INTO {into} VALUES ({string.Join(", ", values.Select((_, i) => "$p" + i))})", values);
        Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
    }

    private static SqliteCommand Command(SqliteConnection conn, SqliteTransaction tx, string sql, params object?[] values)
    {
        var cmd = new SqliteCommand(sql, conn, tx);
        for (int i = 0; i < values.Length; i++) cmd.Parameters.Add(new SqliteParameter("$p" + i, values[i] ?? DBNull.Value));
        return cmd;
    }

    /// <summary>Each row of <paramref name="table"/> in rowid order as "column=storage class:hex of its bytes, ..." (NULL: "null:").</summary>
    private static async Task<List<string>> DumpAsync(StorageOptions options, string table)
    {
        await using var conn = new SqliteConnection(options.ConnectionString);
        await conn.OpenAsync();
        var columns = new List<string>();
        await using (SqliteCommand info = new($"SELECT name FROM pragma_table_info('{table}') ORDER BY cid", conn))
        await using (SqliteDataReader r = await info.ExecuteReaderAsync())
            while (await r.ReadAsync()) columns.Add(r.GetString(0));
        string fields = string.Join(" || ',' || ", columns.Select(c => $"'{c}=' || typeof({c}) || ':' || COALESCE(hex({c}), '')"));
        var rows = new List<string>();
        await using SqliteCommand cmd = new($"SELECT {fields} FROM {table} ORDER BY rowid", conn);
        await using SqliteDataReader reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add(reader.GetString(0) + ",");
        return rows;
    }

    private static string Hex(string text) => Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(text));
}
