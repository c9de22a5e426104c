namespace ClP2p.Storage.Tests;

public class CensusRebuildTests
{
    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Geo_added_after_a_crawl_shows_in_its_census_once_rebuilt(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        var store = new CrawlStore(db.Options);
        var census = new CensusService(db.Options);
        long crawl = await store.StartCrawlAsync("mainnet", Samples.T0, null);
        await using var writer = new ResultWriter(db.Options, Samples.FastWriter());
        for (int i = 0; i < 10; i++) await writer.AddVisitAsync(Samples.Visit(crawl, i));
        await writer.FlushAsync();
        await store.FinishCrawlAsync(crawl, CrawlStates.Succeeded, new CrawlCounts(10, 10, 10, 10, 0), null);
        Assert.Equal([(null, 10L)], (await census.GetCensusAsync(CensusDimension.Country, crawl))!.Groups.Select(g => (g.Key, g.Count)));

        foreach (string ip in await census.ListIpsWithoutGeoAsync(crawl))
            await writer.AddGeoAsync(new IpGeo { Ip = ip, Country = ip.EndsWith('1') ? "JP" : "BR", LookedUpAt = Samples.T0 });
        await writer.FlushAsync();
        await store.BuildCensusAsync(crawl);

        CensusResult? r = await census.GetCensusAsync(CensusDimension.Country, crawl);
        Assert.Equal([("BR", 9L), ("JP", 1L)], r!.Groups.Select(g => (g.Key, g.Count)));
        Assert.Equal(0.9, r.Groups[0].Share, 9);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Nodes_that_answered_but_were_not_fully_enumerated_are_counted_incomplete_and_an_older_census_is_rebuilt(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        var store = new CrawlStore(db.Options);
        await using var writer = new ResultWriter(db.Options, Samples.FastWriter());
        long withIncomplete = await store.StartCrawlAsync("mainnet", Samples.T0, null);
        // two fully enumerated, one left short of a distance, one silent, one never asked
        (bool? Answered, string? Error)[] discovery = [(true, null), (true, null), (true, "Timeout"), (false, "Timeout"), (null, null)];
        for (int i = 0; i < discovery.Length; i++)
            await writer.AddVisitAsync(Samples.Visit(withIncomplete, i) with { DiscoveryAnswered = discovery[i].Answered, DiscoveryError = discovery[i].Error });
        long healthy = await store.StartCrawlAsync("mainnet", Samples.T0, null);
        for (int i = 0; i < 3; i++) await writer.AddVisitAsync(Samples.Visit(healthy, i));
        await writer.FlushAsync();
        await store.FinishCrawlAsync(withIncomplete, CrawlStates.Succeeded, new CrawlCounts(5, 5, 5, 5, 0), null);
        await store.FinishCrawlAsync(healthy, CrawlStates.Succeeded, new CrawlCounts(3, 3, 3, 3, 0), null);

        async Task<(string?, long)[]> DiscoveryAsync(long crawl) =>
            [.. (await new CensusService(db.Options).GetCensusAsync(CensusDimension.Discovery, crawl))!.Groups.Select(g => (g.Key, g.Count)).OrderBy(g => g.Key, StringComparer.Ordinal)];
        (string?, long)[] expected = [(null, 1L), ("answered", 2L), ("incomplete", 1L), ("silent", 1L)];
        Assert.Equal(expected, await DiscoveryAsync(withIncomplete));

        // the census as a build before "incomplete" stored it: that node counted "answered"
        await using (var conn = Sql.Open(db.Options))
        {
            await conn.OpenAsync();
            await Sql.ExecuteAsync(conn, null, "UPDATE crawl_census SET count = count + 1 WHERE crawl_id = @crawl AND dimension = 'discovery' AND key = 'answered'",
                default, ("crawl", withIncomplete));
            await Sql.ExecuteAsync(conn, null, "DELETE FROM crawl_census WHERE crawl_id = @crawl AND dimension = 'discovery' AND key = 'incomplete'",
                default, ("crawl", withIncomplete));
        }
        Assert.Equal([(null, 1L), ("answered", 3L), ("silent", 1L)], await DiscoveryAsync(withIncomplete));
        async Task<string?> BuiltAtAsync(long crawl)
        {
            await using var conn = Sql.Open(db.Options);
            await conn.OpenAsync();
            object? v = await Sql.ScalarAsync(conn, "SELECT census_built_at FROM crawls WHERE id = @crawl", default, ("crawl", crawl));
            return v is DateTime t ? t.ToString("O", System.Globalization.CultureInfo.InvariantCulture) : Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture);
        }
        string? healthyBuilt = await BuiltAtAsync(healthy), olderBuilt = await BuiltAtAsync(withIncomplete);

        // rebuilt once, the crawl with such a node only
        Assert.Equal(1, await StoredDataRepair.RebuildCensusOfCrawlsWithIncompleteDiscoveryAsync(db.Options));
        Assert.Equal(expected, await DiscoveryAsync(withIncomplete));
        Assert.NotEqual(olderBuilt, await BuiltAtAsync(withIncomplete));
        Assert.Equal(healthyBuilt, await BuiltAtAsync(healthy));
        Assert.Equal([("answered", 3L)], await DiscoveryAsync(healthy));
    }
}
