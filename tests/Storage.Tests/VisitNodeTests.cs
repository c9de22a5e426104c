using System.Data.Common;
using ClP2p.Storage.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;

namespace ClP2p.Storage.Tests;

/// <summary>
/// How visits touch node rows: discovery sightings (ENRs) own last_seen; a visit inserts an unknown node and otherwise
/// only fills in what the row lacks; a writer that stored a node sends no node statement for its visits.
/// </summary>
public class VisitNodeTests
{
    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Visits_do_not_rewrite_a_sighted_node_and_its_history_reports_the_latest_visit(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
            await writer.AddEnrAsync(Samples.Enr(1, 3, Samples.T0)); // no peer id in the sighting
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            await writer.AddVisitAsync(Samples.Visit(crawl, 1, enrSeq: 3, at: Samples.T0.AddMinutes(10)));
            await writer.AddVisitAsync(Samples.Visit(crawl, 1, enrSeq: 3, at: Samples.T0.AddMinutes(20)) with { Kind = VisitKinds.Redial, CrawlId = null });
        }

        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        NodeEntity node = await ctx.Nodes.SingleAsync();
        Assert.Equal(Samples.T0.UtcDateTime, node.FirstSeen);
        Assert.Equal(Samples.T0.UtcDateTime, node.LastSeen); // the visit did not rewrite the row's sighting time
        Assert.Equal(3, node.LatestSeq);
        Assert.Equal("16Uiu2HAm1", node.PeerId); // but filled in the peer id the row lacked

        NodeHistory history = (await new CensusService(db.Options).GetNodeHistoryAsync(Samples.NodeId(1)))!;
        Assert.Equal(Samples.T0.AddMinutes(20), history.Node.LastSeen);
        Assert.Equal("16Uiu2HAm1", history.Node.PeerId);
        Assert.Equal([null, crawl], history.Visits.Select(v => v.CrawlId)); // the re-dial (no crawl) first, newest first
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task A_visit_of_a_node_never_sighted_creates_its_row_and_later_visits_raise_its_seq(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
            await writer.AddVisitAsync(Samples.Visit(crawl, 7, enrSeq: 2, outcome: "connection_refused", at: Samples.T0.AddMinutes(5)));
        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        NodeEntity node = await ctx.Nodes.AsNoTracking().SingleAsync();
        Assert.Equal((Samples.T0.AddMinutes(5).UtcDateTime, Samples.T0.AddMinutes(5).UtcDateTime, 2L, (string?)null),
            (node.FirstSeen, node.LastSeen, node.LatestSeq, node.PeerId));

        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
            await writer.AddVisitAsync(Samples.Visit(crawl, 7, enrSeq: 4, at: Samples.T0.AddMinutes(9)));
        node = await ctx.Nodes.AsNoTracking().SingleAsync();
        Assert.Equal((Samples.T0.AddMinutes(5).UtcDateTime, Samples.T0.AddMinutes(5).UtcDateTime, 4L, "16Uiu2HAm7"),
            (node.FirstSeen, node.LastSeen, node.LatestSeq, node.PeerId));
        Assert.Equal(Samples.T0.AddMinutes(9), (await new CensusService(db.Options).GetNodeHistoryAsync(Samples.NodeId(7)))!.Node.LastSeen);
        Assert.Equal(2, await db.CountAsync("visits"));
    }

    [Fact]
    public async Task Visits_of_nodes_the_writer_stored_send_no_node_statement_and_a_new_writer_checks_again()
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(StorageProvider.Postgres);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        await using var writer = new ResultWriter(db.Options, Samples.FastWriter());
        await writer.AddEnrAsync(Samples.Enr(1, 2, Samples.T0) with { PeerId = "16Uiu2HAm1" });
        await writer.FlushAsync();
        // Change the row behind the writer's back: an insert-if-missing from the visit would raise latest_seq again.
        await ExecAsync(db, "UPDATE nodes SET latest_seq = 0");

        await writer.AddVisitAsync(Samples.Visit(crawl, 1, enrSeq: 2, at: Samples.T0.AddSeconds(30)));
        await writer.FlushAsync();
        Assert.Equal(1, await db.CountAsync("visits"));
        Assert.Equal(1, await db.CountAsync("nodes", "latest_seq = 0")); // the writer knew the node: no statement was sent

        await using (var fresh = new ResultWriter(db.Options, Samples.FastWriter()))
            await fresh.AddVisitAsync(Samples.Visit(crawl, 1, enrSeq: 2, at: Samples.T0.AddSeconds(40)) with { Kind = VisitKinds.Redial, CrawlId = null });
        Assert.Equal(1, await db.CountAsync("nodes", "latest_seq = 2")); // a writer that did not store it sends the insert-if-missing
    }

    [Fact]
    public async Task A_new_writer_reads_stored_node_rows_and_neither_updates_nor_locks_those_its_visits_add_nothing_to()
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(StorageProvider.Postgres);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            for (int i = 0; i < 50; i++) await writer.AddEnrAsync(Samples.Enr(i, 3) with { PeerId = "16Uiu2HAm" + i });
            await writer.AddEnrAsync(Samples.Enr(50, 1)); // no peer id yet: the visit brings one
        }
        // An ON CONFLICT DO UPDATE locks every existing row it meets, even when its WHERE changes none: a lock or an
        // update changes the row's xmax or xmin.
        await ExecAsync(db, "CREATE TABLE before_visits AS SELECT node_id, xmin::text AS was_xmin, xmax::text AS was_xmax FROM nodes");

        await using (var fresh = new ResultWriter(db.Options, Samples.FastWriter()))
            for (int i = 0; i <= 50; i++) await fresh.AddVisitAsync(Samples.Visit(crawl, i, enrSeq: 3, at: Samples.T0.AddMinutes(1)));
        Assert.Equal(51, await db.CountAsync("visits"));
        Assert.Equal(50, await db.CountAsync("nodes n JOIN before_visits b ON b.node_id = n.node_id",
            "n.xmin::text = b.was_xmin AND n.xmax::text = b.was_xmax AND n.peer_id IS NOT NULL AND n.latest_seq = 3"));
        Assert.Equal(1, await db.CountAsync("nodes", "peer_id = '16Uiu2HAm50'")); // the one row the visits add to
        Assert.Equal(51, await db.CountAsync("nodes"));
    }

    [Fact]
    public async Task Postgres_visits_carry_the_two_crawl_indexes_the_inbound_one_and_no_peer_id()
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(StorageProvider.Postgres);
        await using var conn = new NpgsqlConnection(db.Options.ConnectionString);
        await conn.OpenAsync();
        var indexes = new List<string>();
        await using (var cmd = new NpgsqlCommand("SELECT indexname FROM pg_indexes WHERE tablename = 'visits' ORDER BY 1", conn))
        await using (var r = await cmd.ExecuteReaderAsync())
            while (await r.ReadAsync()) indexes.Add(r.GetString(0));
        // (crawl_id, node_id) for the writer's and history's lookups; crawl_id alone for a crawl's census scans (read in heap
        // order); (node_id, visited_at) of inbound contacts only (partial), for the end of a crawl's inbound census
        Assert.Equal(["ix_visits_crawl_id", "ix_visits_crawl_id_node_id", "ix_visits_node_id_visited_at"], indexes);
        Assert.Equal(0, await db.CountAsync("information_schema.columns", "table_name = 'visits' AND column_name = 'peer_id'"));
        Assert.Equal(1, await db.CountAsync("information_schema.columns", "table_name = 'visits' AND column_name = 'id' AND is_identity = 'YES'"));
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Upgrading_from_the_first_schema_keeps_visits_and_moves_their_peer_ids_to_the_nodes(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider, migrate: false);
        string initial = StorageMigrator.KnownMigrations(db.Options)[0];
        await using (ClP2pDbContext ctx = db.Options.CreateDbContext())
            await ctx.GetService<IMigrator>().MigrateAsync(initial);
        await using (DbConnection conn = Sql.Open(db.Options))
        {
            await conn.OpenAsync();
            foreach (string sql in new[]
            {
                "INSERT INTO crawls (network, started_at, state, nodes_found, cl_nodes, dialled, dial_ok, failures) VALUES ('mainnet', @t, 'succeeded', 2, 2, 2, 1, 1)",
                "INSERT INTO nodes (node_id, first_seen, last_seen, latest_seq) VALUES (@a, @t, @t, 1)",
                "INSERT INTO nodes (node_id, peer_id, first_seen, last_seen, latest_seq) VALUES (@b, '16Uiu2HAmB', @t, @t, 1)",
                "INSERT INTO visits (crawl_id, node_id, visited_at, kind, dial_outcome, peer_id) VALUES (1, @a, @t, 'crawl', 'ok', '16Uiu2HAmA')",
                "INSERT INTO visits (crawl_id, node_id, visited_at, kind, dial_outcome, peer_id) VALUES (1, @b, @t, 'crawl', 'refused', NULL)",
            })
                await Sql.ExecuteAsync(conn, null, sql, CancellationToken.None, ("t", Samples.T0.UtcDateTime), ("a", Samples.NodeId(1)), ("b", Samples.NodeId(2)));
        }

        IReadOnlyList<string> applied = await StorageMigrator.MigrateAsync(db.Options);
        Assert.Contains(applied, m => m.EndsWith("_VisitsSlim", StringComparison.Ordinal));
        await using ClP2pDbContext after = db.Options.CreateDbContext();
        Assert.Equal(2, await after.Visits.CountAsync());
        Assert.Equal("16Uiu2HAmA", (await after.Nodes.SingleAsync(n => n.NodeId == Samples.NodeId(1))).PeerId);
        Assert.Equal("16Uiu2HAmB", (await after.Nodes.SingleAsync(n => n.NodeId == Samples.NodeId(2))).PeerId);
        NodeHistory history = (await new CensusService(db.Options).GetNodeHistoryAsync(Samples.NodeId(1)))!;
        Assert.Equal("16Uiu2HAmA", history.Node.PeerId);
        Assert.Single(history.Visits);
    }

    [Fact]
    public void Known_nodes_cover_a_visit_only_when_the_row_already_holds_what_it_adds()
    {
        var known = new KnownNodes(capacity: 2);
        DateTime t = Samples.T0.UtcDateTime;
        NodeRow Row(int n, string? peer, long seq, DateTime first) => new() { NodeId = Samples.NodeId(n), PeerId = peer, LatestSeq = seq, FirstSeen = first, LastSeen = first };

        Assert.False(known.Covers(Row(1, null, 1, t)));
        known.Remember([Row(1, null, 3, t)]);
        Assert.True(known.Covers(Row(1, null, 3, t.AddHours(1))));
        Assert.True(known.Covers(Row(1, null, 2, t)));
        Assert.False(known.Covers(Row(1, "16Uiu2HAm1", 3, t))); // brings a peer id the row may lack
        Assert.False(known.Covers(Row(1, null, 4, t)));          // a higher seq
        Assert.False(known.Covers(Row(1, null, 3, t.AddHours(-1)))); // an earlier first sighting
        known.Remember([Row(1, "16Uiu2HAm1", 1, t.AddHours(5))]);   // merges: peer known, seq stays 3, first stays t
        Assert.True(known.Covers(Row(1, "16Uiu2HAm1", 3, t)));

        known.Remember([Row(2, null, 1, t)]);
        Assert.Equal(2, known.Count);
        known.Remember([Row(3, null, 1, t)]); // full: starts again empty
        Assert.Equal(1, known.Count);
        Assert.False(known.Covers(Row(1, null, 1, t)));
        Assert.True(known.Covers(Row(3, null, 1, t)));
        var off = new KnownNodes(0);
        off.Remember([Row(4, null, 1, t)]);
        Assert.Equal(0, off.Count); // capacity 0: remembers nothing
        Assert.False(off.Covers(Row(4, null, 1, t)));
    }

    private static async Task ExecAsync(TestDatabase db, string sql)
    {
        await using var conn = new NpgsqlConnection(db.Options.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
