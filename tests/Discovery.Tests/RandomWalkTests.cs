using ClP2p.Discovery;
using Xunit;

namespace ClP2p.Discovery.Tests;

public sealed class RandomWalkTests
{
    [Fact]
    public async Task A_crawls_random_walks_end_with_its_enumeration_instead_of_holding_it_open()
    {
        // One live peer whose table is full of records of nodes that are gone (one silent UDP socket on loopback: what
        // is sent to it is never read, so nothing answers). The enumeration visits every record with short waits; the
        // random walks ask the records closest to their targets with the node's own request timeout, ten minutes here.
        // Waited for, a walk holds the crawl ten minutes for each gone record it asks; stopped with the enumeration, the
        // crawl ends once every record was visited.
        using var silent = new SilentEndpoint();

        await using var peer = await TestNodes.Create().StartedAsync();
        var gone = new HashSet<NodeId>();
        for (int i = 0; gone.Count < 30 && i < 10_000; i++)
        {
            var enr = silent.NewRecord();
            if (peer.AddToTable(enr)) gone.Add(enr.NodeId);
        }
        Assert.Equal(30, gone.Count);

        await using var me = TestNodes.Create(requestTimeout: TimeSpan.FromMinutes(10), retries: 0);
        await me.StartAsync();
        var crawler = new DhtCrawler(me, new DhtCrawlOptions
        {
            CanContact = ContactFilters.PublicOrLoopback,
            // three walks: a walk's target may lie where the peer's table is empty (its walk then ends at once); all
            // three do about once in 30,000 runs
            RandomWalks = 3,
            MinRequestSpacing = TimeSpan.Zero,
            FirstPassTimeout = TimeSpan.FromMilliseconds(300),
            FirstPassRetries = 0,
            SecondPassTimeout = TimeSpan.FromMilliseconds(300),
        });
        var visited = new Dictionary<NodeId, NodeVisited>();
        using var hang = new CancellationTokenSource(TimeSpan.FromSeconds(240));   // bounds a hang, not the speed
        await foreach (var ev in crawler.RunAsync([peer.LocalEnr], hang.Token))
            if (ev is NodeVisited v) visited[v.Enr.NodeId] = v;

        // the crawl ended on its own, with every record visited
        Assert.False(hang.IsCancellationRequested, "the crawl ran until the hang bound: a walk held it open");
        Assert.True(visited.TryGetValue(peer.LocalId, out var p) && p.Answered && p.Complete, "the live peer enumerated");
        Assert.All(gone, id => Assert.True(visited.TryGetValue(id, out var v) && !v.Answered, $"{id} not visited"));
    }
}
