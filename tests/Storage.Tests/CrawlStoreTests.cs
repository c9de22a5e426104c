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
    public async Task SetSummary_replaces_a_finished_crawls_summary_and_nothing_else(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        var store = new CrawlStore(db.Options, new FakeTimeProvider(Samples.T0.AddHours(1)));
        long id = await store.StartCrawlAsync("hoodi", Samples.T0, null);
        await store.FinishCrawlAsync(id, CrawlStates.Succeeded, new CrawlCounts(10, 8, 7, 5, 2), """{"nodes_found":10}""");
        DateTime? built;
        await using (ClP2pDbContext ctx = db.Options.CreateDbContext()) built = (await ctx.Crawls.SingleAsync()).CensusBuiltAt;
        await store.SetSummaryAsync(id, """{"nodes_found":10,"top_clients":[]}""");
        await using (ClP2pDbContext ctx = db.Options.CreateDbContext())
        {
            CrawlEntity c = await ctx.Crawls.SingleAsync();
            Assert.Equal("""{"nodes_found":10,"top_clients":[]}""", c.SummaryJson);
            Assert.Equal(("succeeded", 10, 5, built), (c.State, c.NodesFound, c.DialOk, c.CensusBuiltAt));
        }
        await Assert.ThrowsAsync<KeyNotFoundException>(() => store.SetSummaryAsync(id + 1, "{}"));
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
    public async Task MarkInterrupted_fails_only_crawls_whose_lease_expired_and_counts_them_from_their_visits(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        var time = new FakeTimeProvider(Samples.T0);
        var lease = TimeSpan.FromSeconds(90);
        var owner = new CrawlStore(db.Options, time);
        long done = await owner.StartCrawlAsync("mainnet", Samples.T0, null);
        await owner.FinishCrawlAsync(done, CrawlStates.Aborted, new CrawlCounts(1, 1, 1, 1, 0), null);
        long live = await owner.StartCrawlAsync("mainnet", Samples.T0, null);
        long dead = await owner.StartCrawlAsync("sepolia", Samples.T0, null);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            for (int i = 0; i < 3; i++) await writer.AddEnrAsync(Samples.Enr(i, 1));   // nodes 0-2 have eth2; 3-5 no record here
            string[] outcomes = ["ok", "ok", "refused", "not_dialled", "timeout", "not_dialled"];
            for (int i = 0; i < outcomes.Length; i++) await writer.AddVisitAsync(Samples.Visit(dead, i, outcome: outcomes[i]));
        }

        // A second process looks while both leases are fresh: the live crawl renews, nothing is marked.
        var other = new CrawlStore(db.Options, time);
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.True(await owner.RenewLeaseAsync(live));
        Assert.Empty(await other.MarkInterruptedAsync(lease));

        // The dead crawl's heartbeat is now 120 s old, the live one's 60 s: only the dead one is marked.
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal([dead], await other.MarkInterruptedAsync(lease));
        Assert.False(await owner.RenewLeaseAsync(dead));
        Assert.True(await owner.RenewLeaseAsync(live));

        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        Dictionary<long, CrawlEntity> crawls = await ctx.Crawls.ToDictionaryAsync(c => c.Id);
        Assert.Equal(CrawlStates.Aborted, crawls[done].State);
        Assert.Equal(CrawlStates.Running, crawls[live].State);
        Assert.Equal(CrawlStates.Failed, crawls[dead].State);
        Assert.Equal(Samples.T0.AddSeconds(120).UtcDateTime, crawls[dead].FinishedAt);
        Assert.Contains("interrupted", crawls[dead].SummaryJson, StringComparison.Ordinal);
        // nodes_found, cl_nodes, dialled, dial_ok, failures of the killed crawl agree with its visits
        Assert.Equal((6, 3, 4, 2, 2), (crawls[dead].NodesFound, crawls[dead].ClNodes, crawls[dead].Dialled, crawls[dead].DialOk, crawls[dead].Failures));
        Assert.NotNull(crawls[dead].CensusBuiltAt);
        Assert.Equal(6, await ctx.Visits.CountAsync(v => v.CrawlId == dead));
    }
}
