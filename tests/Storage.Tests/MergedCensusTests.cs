using ClP2p.Storage.Model;
using Microsoft.EntityFrameworkCore;

namespace ClP2p.Storage.Tests;

public class MergedCensusTests
{
    /// <summary>Writes one finished crawl of <paramref name="vantage"/> that saw <paramref name="nodes"/>.</summary>
    private static async Task<long> CrawlAsync(TestDatabase db, string vantage, DateTimeOffset at, IEnumerable<int> nodes, string network = "mainnet")
    {
        var store = new CrawlStore(db.Options);
        long crawl = await store.StartCrawlAsync("mainnet", vantage, at, null, null);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            foreach (int n in nodes)
            {
                await writer.AddEnrAsync(Samples.Enr(n, 1, at, network: network));
                await writer.AddVisitAsync(Samples.Visit(crawl, n, at: at));
            }
        }
        await store.FinishCrawlAsync(crawl, CrawlStates.Succeeded, default, null);
        return crawl;
    }

    private static IEnumerable<int> Range(int from, int toExclusive) => Enumerable.Range(from, toExclusive - from);

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Three_vantages_merge_into_one_count_with_exact_coverage_overlaps_and_histories(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        // a: nodes 0-59 (two crawls, 0-39 and 20-59); b: 40-99; c: 0-9 and 90-119. A crawl outside the window sees 500-509.
        long a1 = await CrawlAsync(db, "a", Samples.T0, Range(0, 40));
        long a2 = await CrawlAsync(db, "a", Samples.T0.AddMinutes(30), Range(20, 60));
        long b1 = await CrawlAsync(db, "b", Samples.T0.AddMinutes(5), Range(40, 100));
        long c1 = await CrawlAsync(db, "c", Samples.T0.AddMinutes(10), Range(0, 10).Concat(Range(90, 120)));
        await CrawlAsync(db, "a", Samples.T0.AddHours(2), Range(500, 510));

        MergedCensus m = await new CensusService(db.Options).GetMergedCensusAsync(Samples.T0, Samples.T0.AddHours(1));
        Assert.Equal(120, m.Observed);
        Assert.Equal(["a", "b", "c"], m.Vantages.Select(v => v.Vantage));
        Assert.Equal([a1, a2], m.Vantages[0].Crawls);
        Assert.Equal([b1], m.Vantages[1].Crawls);
        Assert.Equal([c1], m.Vantages[2].Crawls);
        Assert.Equal((60L, 60L, 40L), (m.Vantages[0].Seen, m.Vantages[1].Seen, m.Vantages[2].Seen));
        // only a: 10-39 (30); only b: 60-89 (30); only c: 100-119 (20)
        Assert.Equal((30L, 30L, 20L), (m.Vantages[0].Only, m.Vantages[1].Only, m.Vantages[2].Only));
        Assert.Equal(0.5, m.Vantages[0].ShareOfObserved, 9);
        Assert.Equal([("a", "b", 20L), ("a", "c", 10L), ("b", "c", 10L)], m.Overlaps.Select(o => (o.A, o.B, o.Both)));
        Assert.Equal(20.0 / 100, m.Overlaps[0].Jaccard, 9);
        var histories = m.Histories.ToDictionary(h => string.Join("+", h.Vantages), h => h.Count);
        Assert.Equal(new Dictionary<string, long> { ["a"] = 30, ["b"] = 30, ["c"] = 20, ["a+b"] = 20, ["a+c"] = 10, ["b+c"] = 10 }, histories);
        Assert.Equal(m.Observed, m.Histories.Sum(h => h.Count));
        Assert.NotNull(m.Estimate);
        Assert.Equal("log_linear_independence", m.Estimate.Method);
        Assert.Equal(120, m.Estimate.Observed);
        if (m.Estimate.Valid) Assert.Equal(60 / m.Estimate.Estimate!.Value, m.Vantages[0].EstimatedCoverage!.Value, 9);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Network_filter_counts_only_nodes_whose_record_names_the_network(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        await CrawlAsync(db, "a", Samples.T0, Range(0, 10));
        await CrawlAsync(db, "b", Samples.T0, Range(100, 105), network: "hoodi");
        await CrawlAsync(db, "b", Samples.T0.AddMinutes(1), Range(5, 12));
        MergedCensus m = await new CensusService(db.Options).GetMergedCensusAsync(Samples.T0, Samples.T0.AddHours(1), network: "mainnet");
        Assert.Equal(12, m.Observed);
        Assert.Equal((10L, 7L), (m.Vantages[0].Seen, m.Vantages[1].Seen));
        Assert.Equal(5, m.Overlaps.Single().Both);
        Assert.Equal("chapman", m.Estimate!.Method);
        Assert.Equal(11.0 * 8 / 6 - 1, m.Estimate.Estimate!.Value, 9);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task An_empty_window_has_no_vantage_and_no_estimate(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        MergedCensus m = await new CensusService(db.Options).GetMergedCensusAsync(Samples.T0, Samples.T0.AddHours(1));
        Assert.Equal(0, m.Observed);
        Assert.Empty(m.Vantages);
        Assert.Null(m.Estimate);
    }

    [Fact]
    public async Task Crawlers_of_two_vantages_write_one_postgres_database_at_once_and_neither_fails_the_others_crawl()
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(StorageProvider.Postgres);
        var store = new CrawlStore(db.Options);
        long a = await store.StartCrawlAsync("mainnet", "eu-1", Samples.T0, null, null);
        // vantage us-1 starts while eu-1's crawl runs: eu-1's lease is alive, so nothing is marked failed
        Assert.Empty(await store.MarkInterruptedAsync(CrawlStore.DefaultLease));
        long b = await store.StartCrawlAsync("mainnet", "us-1", Samples.T0, null, null);

        // both write overlapping nodes at the same time, each through its own writer
        async Task WriteAsync(long crawl, IEnumerable<int> nodes)
        {
            await using var writer = new ResultWriter(db.Options, Samples.FastWriter() with { MaxBatchSize = 50 });
            foreach (int n in nodes)
            {
                await writer.AddEnrAsync(Samples.Enr(n, 1, Samples.T0));
                await writer.AddVisitAsync(Samples.Visit(crawl, n, at: Samples.T0));
            }
        }
        await Task.WhenAll(Task.Run(() => WriteAsync(a, Range(0, 600))), Task.Run(() => WriteAsync(b, Range(300, 900))));
        await store.FinishCrawlAsync(a, CrawlStates.Succeeded, default, null);
        await store.FinishCrawlAsync(b, CrawlStates.Succeeded, default, null);

        await using (ClP2pDbContext ctx = db.Options.CreateDbContext())
        {
            Assert.Equal(900, await ctx.Nodes.CountAsync());
            Assert.Equal(new[] { ("eu-1", "succeeded"), ("us-1", "succeeded") }, (await ctx.Crawls.OrderBy(c => c.Id).ToListAsync()).Select(c => (c.Vantage, c.State)));
        }
        MergedCensus m = await new CensusService(db.Options).GetMergedCensusAsync(Samples.T0, Samples.T0.AddHours(1));
        Assert.Equal(900, m.Observed);
        Assert.Equal(300, m.Overlaps.Single().Both);
        Assert.Equal(601.0 * 601 / 301 - 1, m.Estimate!.Estimate!.Value, 9);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task A_crawl_is_imported_once_per_vantage(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        var store = new CrawlStore(db.Options);
        long id = await store.StartCrawlAsync("mainnet", "b", Samples.T0, null, 17);
        Assert.Equal(id, await store.FindImportedAsync("b", 17));
        Assert.Null(await store.FindImportedAsync("a", 17));
        await Assert.ThrowsAsync<DbUpdateException>(() => store.StartCrawlAsync("mainnet", "b", Samples.T0, null, 17));
        await Assert.ThrowsAsync<ArgumentException>(() => store.StartCrawlAsync("mainnet", "no spaces", Samples.T0, null, null));
        CrawlInfo crawl = (await new CensusService(db.Options).GetCrawlAsync(id))!;
        Assert.Equal(("b", (long?)17), (crawl.Vantage, crawl.SourceCrawlId));
    }
}
