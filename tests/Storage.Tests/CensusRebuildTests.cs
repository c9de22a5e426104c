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
}
