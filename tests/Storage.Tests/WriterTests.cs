using ClP2p.Storage.Model;
using Microsoft.EntityFrameworkCore;

namespace ClP2p.Storage.Tests;

public class WriterTests
{
    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Migrations_apply_from_an_empty_database_and_a_second_run_applies_none(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider, migrate: false);
        IReadOnlyList<string> applied = await StorageMigrator.MigrateAsync(db.Options);
        Assert.NotEmpty(applied);
        Assert.Equal(StorageMigrator.KnownMigrations(db.Options), applied);
        foreach (string table in new[] { "crawls", "nodes", "enr_history", "agent_versions", "ip_addresses", "visits", "crawl_census" })
            Assert.Equal(0, await db.CountAsync(table));
        Assert.Empty(await StorageMigrator.MigrateAsync(db.Options));
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Same_enr_twice_is_stored_once(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            await writer.AddEnrAsync(Samples.Enr(1, 5));
            await writer.AddEnrAsync(Samples.Enr(1, 5, Samples.T0.AddMinutes(1)));
            await writer.FlushAsync();
            await writer.AddEnrAsync(Samples.Enr(1, 5, Samples.T0.AddMinutes(2)));
        }
        Assert.Equal(1, await db.CountAsync("enr_history"));
        Assert.Equal(1, await db.CountAsync("nodes"));
        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        NodeEntity node = await ctx.Nodes.SingleAsync();
        Assert.Equal(Samples.T0.UtcDateTime, node.FirstSeen);
        Assert.Equal(Samples.T0.AddMinutes(2).UtcDateTime, node.LastSeen);
        Assert.Equal(5, node.LatestSeq);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Higher_seq_adds_a_history_row_and_a_lower_seq_seen_later_does_not_lower_latest_seq(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            await writer.AddEnrAsync(Samples.Enr(7, 1));
            await writer.FlushAsync();
            await writer.AddEnrAsync(Samples.Enr(7, 2, Samples.T0.AddHours(1), forkDigest: "aabbccdd", network: null, fork: null));
            await writer.FlushAsync();
            await writer.AddEnrAsync(Samples.Enr(7, 1, Samples.T0.AddHours(2)));
        }
        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        List<EnrEntity> history = await ctx.Enrs.OrderBy(e => e.Seq).ToListAsync();
        Assert.Equal([1L, 2L], history.Select(e => e.Seq));
        Assert.Equal("6a95a1a9", history[0].ForkDigest);
        Assert.Equal("aabbccdd", history[1].ForkDigest);
        Assert.Null(history[1].NetworkName);
        Assert.Equal(2, (await ctx.Nodes.SingleAsync()).LatestSeq);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Enr_fields_round_trip_including_far_future_epoch(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        EnrObservation enr = Samples.Enr(3, 9) with { Ip6 = "2001:db8::3", Udp6 = 9100, Tcp6 = 9101 };
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
            await writer.AddEnrAsync(enr);
        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        EnrEntity row = await ctx.Enrs.SingleAsync();
        Assert.Equal(enr.Raw, row.Raw);
        Assert.Equal("10.0.0.3", row.Ip4);
        Assert.Equal("2001:db8::3", row.Ip6);
        Assert.Equal((9000, 9000, 9001, 9100, 9101), (row.Udp, row.Tcp, row.Quic, row.Udp6, row.Tcp6));
        Assert.Equal("06000000", row.NextForkVersion);
        Assert.Equal(ulong.MaxValue, Sql.Unsigned(row.NextForkEpoch));
        Assert.Equal("ff00000000000001", row.Attnets);
        Assert.Equal("0f", row.Syncnets);
        Assert.Equal(8, row.Cgc);
        Assert.Equal("deadbeef", row.Nfd);
        Assert.Equal(("mainnet", "electra"), (row.NetworkName, row.ForkName));
        NodeEntity node = await ctx.Nodes.SingleAsync();
        Assert.Equal(enr.PublicKey, node.PublicKey);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Agent_versions_are_deduplicated_within_and_across_batches(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            for (int i = 0; i < 10; i++)
                await writer.AddVisitAsync(Samples.Visit(crawl, i, agent: i % 2 == 0 ? "teku/v25.1.0/linux-x86_64/corretto-java-21" : "Lighthouse/v7.1.0/x86_64-linux"));
            await writer.FlushAsync();
            for (int i = 10; i < 20; i++)
                await writer.AddVisitAsync(Samples.Visit(crawl, i, agent: "teku/v25.1.0/linux-x86_64/corretto-java-21", client: "teku"));
        }
        // A second writer (new process) starts with an empty cache and must reuse the stored row.
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
            await writer.AddVisitAsync(Samples.Visit(crawl, 20, agent: "Lighthouse/v7.1.0/x86_64-linux"));
        Assert.Equal(2, await db.CountAsync("agent_versions"));
        Assert.Equal(21, await db.CountAsync("visits"));
        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        long tekuId = await ctx.AgentVersions.Where(a => a.Raw.StartsWith("teku")).Select(a => a.Id).SingleAsync();
        Assert.Equal(15, await ctx.Visits.CountAsync(v => EF.Property<long?>(v, "AgentVersionId") == tekuId));
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Visit_fields_round_trip_and_nodes_follow_first_and_last_seen(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, """{"dial_concurrency":8}""");
        VisitObservation ok = Samples.Visit(crawl, 1, at: Samples.T0.AddMinutes(5));
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            await writer.AddEnrAsync(Samples.Enr(1, 1, Samples.T0.AddMinutes(1)));
            await writer.AddVisitAsync(ok);
            await writer.AddVisitAsync(Samples.Visit(crawl, 2, outcome: "connection_refused", at: Samples.T0.AddMinutes(3)));
            await writer.AddVisitAsync(Samples.Visit(crawl, 1, at: Samples.T0.AddMinutes(4)) with { Kind = VisitKinds.Redial, CrawlId = null });
        }
        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        VisitEntity v = await ctx.Visits.SingleAsync(x => EF.Property<string>(x, "DialOutcome") == "ok" && EF.Property<string>(x, "Kind") == "crawl");
        await using System.Data.Common.DbConnection conn = Sql.Open(db.Options);
        await conn.OpenAsync();
        // Read back through the column map (what exports and the API read).
        object? Col(VisitEntity e, string property)
        {
            VisitColumn c = VisitColumns.Get(ClP2pDbContext.ToSnakeCase(property));
            using System.Data.Common.DbCommand cmd = Sql.Command(conn, null, $"SELECT {c.Name} FROM visits WHERE id = @id", ("id", e.Id));
            using System.Data.Common.DbDataReader r = cmd.ExecuteReader();
            Assert.True(r.Read());
            return c.Read(r, 0);
        }
        Assert.Equal(crawl, v.CrawlId);
        Assert.Equal(ok.VisitedAt, Col(v, "VisitedAt"));
        Assert.Equal(("/yamux/1.0.0", 42), ((string?)Col(v, "Muxer"), (int?)Col(v, "LatencyMs")));
        Assert.Equal("6a95a1a9", Col(v, "StatusForkDigest"));
        Assert.Equal(Convert.ToHexStringLower(ok.HeadRoot!), Col(v, "HeadRoot"));
        Assert.Equal((400_000UL, 12_800_031UL, 0UL, 2), ((ulong?)Col(v, "FinalizedEpoch"), (ulong?)Col(v, "HeadSlot"), (ulong?)Col(v, "EarliestAvailableSlot"), (int?)Col(v, "StatusVersion")));
        Assert.Equal(("0102030405060708", "03", 4UL, 3, 129UL), ((string?)Col(v, "MetadataAttnets"), (string?)Col(v, "MetadataSyncnets"), (ulong?)Col(v, "CustodyGroupCount"), (int?)Col(v, "MetadataVersion"), (ulong?)Col(v, "GoodbyeReason")));
        Assert.Equal(("6a95a1a9", false), ((string?)Col(v, "StatusDigestSent"), (bool?)Col(v, "DigestMismatch")));
        Assert.Equal(true, Col(v, "DiscoveryAnswered"));
        Assert.Equal(16, Col(v, "Neighbours"));
        VisitEntity failed = await ctx.Visits.SingleAsync(x => EF.Property<string>(x, "DialOutcome") == "connection_refused");
        Assert.Equal(("dial tcp: connection_refused", "tcp"), ((string?)Col(failed, "DialError"), (string?)Col(failed, "FailedStep")));
        Assert.Null(Col(failed, "AgentVersionId"));
        Assert.Null(Col(failed, "DigestMismatch"));
        Assert.Null(await ctx.Visits.Where(x => EF.Property<string>(x, "Kind") == "redial").Select(x => x.CrawlId).SingleAsync());

        NodeEntity n1 = await ctx.Nodes.SingleAsync(n => n.NodeId == Samples.NodeId(1));
        Assert.Equal(Samples.T0.AddMinutes(1).UtcDateTime, n1.FirstSeen);
        Assert.Equal(Samples.T0.AddMinutes(5).UtcDateTime, n1.LastSeen);
        Assert.Equal("16Uiu2HAm1", n1.PeerId);
        NodeEntity n2 = await ctx.Nodes.SingleAsync(n => n.NodeId == Samples.NodeId(2));
        Assert.Equal(Samples.T0.AddMinutes(3).UtcDateTime, n2.FirstSeen);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Geo_rows_are_upserted_by_address(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            await writer.AddGeoAsync(new IpGeo { Ip = "203.0.113.7", Country = "DE", City = "Berlin", Asn = 3320, AsOrg = "DTAG", LookedUpAt = Samples.T0 });
            await writer.FlushAsync();
            await writer.AddGeoAsync(new IpGeo { Ip = "203.0.113.7", Country = "FR", City = "Paris", Asn = 3215, AsOrg = "Orange", LookedUpAt = Samples.T0.AddDays(1) });
            await writer.AddGeoAsync(new IpGeo { Ip = "2001:db8::1", Country = "US", LookedUpAt = Samples.T0 });
        }
        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        IpAddressEntity row = await ctx.IpAddresses.SingleAsync(a => a.Address == "203.0.113.7");
        Assert.Equal(("FR", "Paris", 3215L, "Orange"), (row.Country, row.City, row.Asn!.Value, row.AsOrg));
        Assert.Equal(2, await db.CountAsync("ip_addresses"));
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Many_visits_in_large_batches_all_land(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        const int n = 12_000;
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter() with { MaxBatchSize = 5_000 }))
        {
            var producers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
            {
                for (int i = p; i < n; i += 4)
                {
                    await writer.AddEnrAsync(Samples.Enr(i, 1));
                    await writer.AddVisitAsync(Samples.Visit(crawl, i, agent: "agent-" + (i % 50)));
                }
            }));
            await Task.WhenAll(producers);
            await writer.FlushAsync();
            Assert.Equal(n, writer.VisitsWritten);
            Assert.Equal(0, writer.QueueDepth);
        }
        Assert.Equal(n, await db.CountAsync("visits"));
        Assert.Equal(n, await db.CountAsync("nodes"));
        Assert.Equal(n, await db.CountAsync("enr_history"));
        Assert.Equal(50, await db.CountAsync("agent_versions"));
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task A_batch_with_permanently_bad_data_is_reported_to_flush_and_later_items_still_land(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        await using var writer = new ResultWriter(db.Options, Samples.FastWriter() with { MaxPermanentFailures = 2 });
        await writer.AddVisitAsync(Samples.Visit(crawl, 1) with { Kind = null! }); // NOT NULL violation: a bug, not an outage
        await Assert.ThrowsAsync<StorageWriteException>(() => writer.FlushAsync());
        await writer.AddVisitAsync(Samples.Visit(crawl, 2));
        await writer.FlushAsync();
        Assert.Equal(1, await db.CountAsync("visits"));
        Assert.True(writer.Retries >= 1);
    }

    [Fact]
    public async Task Adding_after_dispose_throws()
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(StorageProvider.Sqlite);
        var writer = new ResultWriter(db.Options, Samples.FastWriter());
        await writer.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await writer.AddEnrAsync(Samples.Enr(1, 1)));
    }
}
