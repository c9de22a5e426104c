using ClP2p.Storage.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Storage.Tests;

public class CrawlStoreTests
{
    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Finish_sets_state_counts_summary_and_end_time(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        var time = new FakeTimeProvider(Samples.T0.AddHours(1));
        var store = new CrawlStore(db.Options, time);
        long id = await store.StartCrawlAsync("hoodi", Samples.T0, """{"max_duration":"00:10:00"}""");
        await store.FinishCrawlAsync(id, CrawlStates.Succeeded, new CrawlCounts(100, 80, 70, 50, 20), """{"nodes_found":100}""");
        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        CrawlEntity c = await ctx.Crawls.SingleAsync();
        Assert.Equal(("hoodi", "succeeded"), (c.Network, c.State));
        Assert.Equal(Samples.T0.UtcDateTime, c.StartedAt);
        Assert.Equal(Samples.T0.AddHours(1).UtcDateTime, c.FinishedAt);
        Assert.Equal((100, 80, 70, 50, 20), (c.NodesFound, c.ClNodes, c.Dialled, c.DialOk, c.Failures));
        Assert.Equal("""{"nodes_found":100}""", c.SummaryJson);
        Assert.Equal("""{"max_duration":"00:10:00"}""", c.ParametersJson);
        Assert.NotNull(c.CensusBuiltAt);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Finish_rejects_unknown_crawls_and_the_running_state(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        var store = new CrawlStore(db.Options);
        await Assert.ThrowsAsync<KeyNotFoundException>(() => store.FinishCrawlAsync(42, CrawlStates.Failed, default, null));
        long id = await store.StartCrawlAsync("mainnet", Samples.T0, null);
        await Assert.ThrowsAsync<ArgumentException>(() => store.FinishCrawlAsync(id, CrawlStates.Running, default, null));
        await Assert.ThrowsAsync<ArgumentException>(() => store.FinishCrawlAsync(id, "done", default, null));
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task MarkInterrupted_fails_only_crawls_left_running_and_keeps_their_visits(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        var store = new CrawlStore(db.Options, new FakeTimeProvider(Samples.T0.AddDays(1)));
        long done = await store.StartCrawlAsync("mainnet", Samples.T0, null);
        await store.FinishCrawlAsync(done, CrawlStates.Aborted, new CrawlCounts(1, 1, 1, 1, 0), null);
        long dead1 = await store.StartCrawlAsync("mainnet", Samples.T0.AddHours(1), null);
        long dead2 = await store.StartCrawlAsync("sepolia", Samples.T0.AddHours(2), null);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
            for (int i = 0; i < 5; i++) await writer.AddVisitAsync(Samples.Visit(dead1, i));

        IReadOnlyList<long> marked = await store.MarkInterruptedAsync();

        Assert.Equal([dead1, dead2], marked.Order());
        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        Dictionary<long, CrawlEntity> crawls = await ctx.Crawls.ToDictionaryAsync(c => c.Id);
        Assert.Equal(CrawlStates.Aborted, crawls[done].State);
        Assert.Equal(CrawlStates.Failed, crawls[dead1].State);
        Assert.Equal(CrawlStates.Failed, crawls[dead2].State);
        Assert.Equal(Samples.T0.AddDays(1).UtcDateTime, crawls[dead1].FinishedAt);
        Assert.Equal(5, await ctx.Visits.CountAsync(v => v.CrawlId == dead1));
        Assert.Empty(await store.MarkInterruptedAsync());
    }
}
