using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Storage.Tests;

/// <summary>
/// Tests that run alone: a running crawl's answers are kept while PostgreSQL's snapshot (xmin, xmax, transactions in
/// progress) is unchanged, and that snapshot is the whole cluster's, so a parallel test class writing to its own
/// database on the shared cluster would change it between two reads of this one.
/// </summary>
[CollectionDefinition(nameof(QuietClusterCollection), DisableParallelization = true)]
public sealed class QuietClusterCollection;

/// <summary>
/// Several censuses in one call (the dashboard's panels) equal one census per dimension, for a finished crawl (stored
/// census, kept in memory) and a running one (counted in one pass over its visits); what is kept about a finished
/// crawl is read again once its census is rebuilt, even on a clock that did not move.
/// </summary>
[Collection(nameof(QuietClusterCollection))]
public class CensusSetTests
{
    private static async Task<(long Finished, long Running)> SeedAsync(TestDatabase db, TimeProvider time)
    {
        var store = new CrawlStore(db.Options, time);
        await using var writer = new ResultWriter(db.Options, Samples.FastWriter());
        for (int i = 0; i < 12; i++) await writer.AddEnrAsync(Samples.Enr(i, 1, network: i % 3 == 0 ? "hoodi" : "mainnet"));
        long finished = await store.StartCrawlAsync("mainnet", Samples.T0, null);
        long running = await store.StartCrawlAsync("mainnet", Samples.T0.AddHours(1), null);
        string[] outcomes = ["ok", "ok", "refused", "timeout", "not_dialled"];
        for (int i = 0; i < 12; i++)
        {
            string client = i % 2 == 0 ? "lighthouse" : "prysm", version = i % 4 < 2 ? "v7.1.0" : "v6.0.0";
            await writer.AddVisitAsync(Samples.Visit(finished, i, outcome: outcomes[i % outcomes.Length], agent: $"{client}/{version}/x86_64-linux", client: client, version: version));
            if (i < 9)
                await writer.AddVisitAsync(Samples.Visit(running, i, outcome: outcomes[(i + 1) % outcomes.Length], agent: i % 2 == 0 ? "teku/v25.1.0/linux-x86_64" : "teku",
                    client: "teku", version: i % 2 == 0 ? "v25.1.0" : null));
        }
        await writer.FlushAsync();
        await store.FinishCrawlAsync(finished, CrawlStates.Succeeded, new CrawlCounts(12, 12, 10, 5, 0), null);
        return (finished, running);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task A_census_set_equals_each_dimensions_census_for_finished_and_running_crawls(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        (long finished, long running) = await SeedAsync(db, TimeProvider.System);
        var census = new CensusService(db.Options);
        foreach (long? crawl in new long?[] { finished, running, null })
        {
            foreach (string? network in new[] { null, "mainnet" })
            {
                CensusSet? set = await census.GetCensusesAsync(CensusDimensions.All, crawl, network);
                Assert.NotNull(set);
                Assert.Equal(CensusDimensions.All, set.Censuses.Select(c => c.Dimension));
                foreach (DimensionCensus d in set.Censuses)
                {
                    // a fresh service (counted from the database) and this one (a finished crawl's answer from memory)
                    foreach (CensusService service in new[] { new CensusService(db.Options), census })
                    {
                        CensusResult one = (await service.GetCensusAsync(d.Dimension, crawl, network))!;
                        Assert.Equal(one.Total, d.Total);
                        Assert.Equal(one.Groups, d.Groups);
                        Assert.Equal(one.Crawl.Visits, set.Crawl.Visits);
                    }
                }
                if (crawl == running && network is null) Assert.Equal(9, set.Censuses.Single(c => c.Dimension == CensusDimension.DialOutcome).Total);
            }
        }
        Assert.Null(await census.GetCensusesAsync([CensusDimension.Client], 987_654));
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task A_rebuilt_census_is_read_again_even_when_the_clock_did_not_move(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        var clock = new FakeTimeProvider(Samples.T0.AddDays(1));
        (long finished, _) = await SeedAsync(db, clock);
        var census = new CensusService(db.Options);
        Assert.Equal([(null, 12L)], (await census.GetCensusAsync(CensusDimension.Country, finished))!.Groups.Select(g => (g.Key, g.Count)));
        var nodes = await census.ListNodesAsync(new NodeFilter { CrawlId = finished, Country = "JP" });
        Assert.Equal(0, nodes!.Total);

        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            foreach (string ip in await census.ListIpsWithoutGeoAsync(finished))
                await writer.AddGeoAsync(new IpGeo { Ip = ip, Country = "JP", LookedUpAt = Samples.T0 });
        }
        await new CrawlStore(db.Options, clock).BuildCensusAsync(finished);   // same instant as the first build

        Assert.Equal([("JP", 12L)], (await census.GetCensusAsync(CensusDimension.Country, finished))!.Groups.Select(g => (g.Key, g.Count)));
        Assert.Equal(12, (await census.ListNodesAsync(new NodeFilter { CrawlId = finished, Country = "JP" }))!.Total);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task A_running_crawls_census_set_is_kept_until_the_database_changes_and_then_counted_again(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        (_, long running) = await SeedAsync(db, TimeProvider.System);
        var census = new CensusService(db.Options);

        // the same answer as a fresh service's (nothing kept), and kept: asked again with nothing written, the same object
        CensusSet first = (await census.GetCensusesAsync(CensusDimensions.All, running))!;
        await AssertCountedAsync(first);
        CensusSet again = (await census.GetCensusesAsync(CensusDimensions.All, running))!;
        Assert.Same(first.Censuses, again.Censuses);
        Assert.Equal(9, again.Crawl.Visits);
        // the node list and the time series' point of the running crawl likewise
        var nodes = new NodeFilter { CrawlId = running };
        Assert.Same(await census.ListNodesAsync(nodes), await census.ListNodesAsync(nodes));
        Assert.Equal(9, (await census.ListNodesAsync(nodes))!.Total);
        Assert.Equal(9, await PointTotalAsync(census));

        // new visits of the running crawl: counted again
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            for (int i = 9; i < 12; i++) await writer.AddVisitAsync(Samples.Visit(running, i, outcome: "refused"));
        }
        CensusSet more = (await census.GetCensusesAsync(CensusDimensions.All, running))!;
        Assert.NotSame(first.Censuses, more.Censuses);
        Assert.Equal(12, more.Censuses.Single(c => c.Dimension == CensusDimension.DialOutcome).Total);
        Assert.Equal(12, more.Crawl.Visits);
        await AssertCountedAsync(more);
        Assert.Equal(12, (await census.ListNodesAsync(nodes))!.Total);
        Assert.Equal(12, await PointTotalAsync(census));

        // no new visit, but their IPs' geo rows arrive (the writer writes a visit's geo after it): counted again
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            foreach (string ip in await census.ListIpsWithoutGeoAsync(running))
                await writer.AddGeoAsync(new IpGeo { Ip = ip, Country = "JP", LookedUpAt = Samples.T0 });
        }
        CensusSet geo = (await census.GetCensusesAsync(CensusDimensions.All, running))!;
        Assert.Equal([("JP", 12L)], geo.Censuses.Single(c => c.Dimension == CensusDimension.Country).Groups.Select(g => (g.Key, g.Count)));
        await AssertCountedAsync(geo);

        async Task<long> PointTotalAsync(CensusService service) =>
            (await service.GetTimeSeriesAsync(CensusDimension.Client, Samples.T0, Samples.T0.AddDays(1))).Points.Single(p => p.CrawlId == running).Total;

        async Task AssertCountedAsync(CensusSet set) => await AssertAsCountedAsync(db, census, running, null, set);
    }

    // The census set equals the one counted by SQL from the crawl's visits with nothing kept, and a fresh service's.
    private static async Task AssertAsCountedAsync(TestDatabase db, CensusService census, long crawl, string? network, CensusSet? set = null)
    {
        set ??= (await census.GetCensusesAsync(CensusDimensions.All, crawl, network))!;
        (IReadOnlyList<DimensionCensus> counted, long visits) = await census.CountFromVisitsAsync(crawl, CensusDimensions.All, network);
        CensusSet fresh = (await new CensusService(db.Options, census.Clocks).GetCensusesAsync(CensusDimensions.All, crawl, network))!;
        foreach (IReadOnlyList<DimensionCensus> other in new[] { counted, fresh.Censuses })
        {
            Assert.Equal(other.Select(c => (c.Dimension, c.Total)), set.Censuses.Select(c => (c.Dimension, c.Total)));
            foreach ((DimensionCensus a, DimensionCensus b) in other.Zip(set.Censuses)) Assert.Equal(a.Groups, b.Groups);
        }
        Assert.Equal(visits, set.Crawl.Visits);
        Assert.Equal(visits, fresh.Crawl.Visits);
        foreach (CensusDimension d in CensusDimensions.All)
        {
            CensusResult one = (await census.GetCensusAsync(d, crawl, network))!;
            Assert.Equal(counted.Single(c => c.Dimension == d).Groups, one.Groups);
        }
    }

    private static readonly NetworkClock Mainnet = new("mainnet", Samples.T0.ToUnixTimeSeconds() - 12L * 12_800_040, 12, 32);

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task A_running_crawls_census_follows_every_kind_of_write_as_counting_it_again_would(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        (_, long running) = await SeedAsync(db, TimeProvider.System);
        var census = new CensusService(db.Options, name => name == "mainnet" ? Mainnet : null);
        var store = new CrawlStore(db.Options);
        CensusSet first = (await census.GetCensusesAsync(CensusDimensions.All, running))!;
        await AssertAsCountedAsync(db, census, running, null, first);

        // a write that changes none of the crawl's visits (its heartbeat, another crawl's visits) keeps the answer
        await store.RenewLeaseAsync(running);
        long other = await store.StartCrawlAsync("hoodi", Samples.T0.AddHours(2), null);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
            await writer.AddVisitAsync(Samples.Visit(other, 1));
        Assert.Same(first.Censuses, (await census.GetCensusesAsync(CensusDimensions.All, running))!.Censuses);

        // visits appended, one of them before its ENR: counted from the visits added
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            for (int i = 9; i < 12; i++) await writer.AddVisitAsync(Samples.Visit(running, i, outcome: i == 11 ? "ok" : "refused"));
            await writer.AddVisitAsync(Samples.Visit(running, 40, enrSeq: 3));
        }
        CensusSet visits = (await census.GetCensusesAsync(CensusDimensions.All, running))!;
        Assert.Equal(13, visits.Crawl.Visits);
        await AssertAsCountedAsync(db, census, running, null, visits);

        // the ENR of a visit already counted arrives: its fork digest, network and subnets move
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
            await writer.AddEnrAsync(Samples.Enr(40, 3, forkDigest: "aabbccdd", network: "hoodi", fork: "fulu"));
        CensusSet enr = (await census.GetCensusesAsync(CensusDimensions.All, running))!;
        Assert.Contains(enr.Censuses.Single(c => c.Dimension == CensusDimension.ForkDigest).Groups, g => g.Key == "aabbccdd" && g.Count == 1);
        await AssertAsCountedAsync(db, census, running, null, enr);
        await AssertAsCountedAsync(db, census, running, "hoodi");

        // geo rows alone, for visits already counted (and a later lookup that changes one)
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            foreach (string ip in await census.ListIpsWithoutGeoAsync(running))
                await writer.AddGeoAsync(new IpGeo { Ip = ip, Country = "JP", Asn = 2497, AsOrg = "IIJ", LookedUpAt = Samples.T0 });
        }
        Assert.Equal([("JP", 13L)], (await census.GetCensusesAsync(CensusDimensions.All, running))!.Censuses
            .Single(c => c.Dimension == CensusDimension.Country).Groups.Select(g => (g.Key, g.Count)));
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
            await writer.AddGeoAsync(new IpGeo { Ip = Samples.Ip(3), Country = "DE", Asn = 3320, AsOrg = "DTAG", LookedUpAt = Samples.T0.AddHours(1) });
        CensusSet geo = (await census.GetCensusesAsync(CensusDimensions.All, running))!;
        Assert.Equal([("JP", 12L), ("DE", 1L)], geo.Censuses.Single(c => c.Dimension == CensusDimension.Country).Groups.Select(g => (g.Key, g.Count)));
        await AssertAsCountedAsync(db, census, running, null, geo);
        await AssertAsCountedAsync(db, census, running, "mainnet");

        // inbound marks (visits updated) and inbound-only visits added
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            foreach (int node in new[] { 2, 50 })
                await writer.AddVisitAsync(Samples.Visit(running, node, at: Samples.T0.AddMinutes(5)) with { CrawlId = null, Kind = VisitKinds.InboundLibp2p });
        }
        await store.ApplyInboundAsync(running, Samples.T0.AddHours(2));
        CensusSet inbound = (await census.GetCensusesAsync(CensusDimensions.All, running))!;
        Assert.Contains(inbound.Censuses.Single(c => c.Dimension == CensusDimension.SeenInbound).Groups, g => g.Key == "true" && g.Count == 2);
        await AssertAsCountedAsync(db, census, running, null, inbound);

        // agents parsed again
        Assert.True(await StoredDataRepair.ReparseAgentsAsync(db.Options, raw => new AgentParts("nimbus", "v9.9.9", null, null, false)) > 0);
        CensusSet agents = (await census.GetCensusesAsync(CensusDimensions.All, running))!;
        Assert.Equal("nimbus", agents.Censuses.Single(c => c.Dimension == CensusDimension.Client).Groups.First(g => g.Key is not null).Key);
        await AssertAsCountedAsync(db, census, running, null, agents);

        // a batch that drew its visit ids before one that committed first: the appended count finds it below the last id read
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
            await writer.AddVisitAsync(Samples.Visit(running, 60, outcome: "timeout"));
        await using (var conn = Sql.Open(db.Options))
        {
            await conn.OpenAsync();
            await Sql.ExecuteAsync(conn, null, "UPDATE visits SET id = -1000 WHERE crawl_id = @crawl AND node_id = @node", default, ("crawl", running), ("node", Samples.NodeId(60)));
        }
        CensusSet late = (await census.GetCensusesAsync(CensusDimensions.All, running))!;
        Assert.Contains(late.Censuses.Single(c => c.Dimension == CensusDimension.DialOutcome).Groups, g => g.Key == "timeout");
        await AssertAsCountedAsync(db, census, running, null, late);
    }
}
