using ClP2p.Discovery.Handler;

namespace ClP2p.Discovery.Tests;

/// <summary>
/// A handler shard is drained by one runner at a time, whichever thread posts to an idle shard; a runner that lets go
/// looks for work posted meanwhile while the next runner may already be reading the shard's queue (HandlerShard's
/// inbox). Under many posting threads every request must still be handled: none lost, none taken twice.
/// </summary>
public sealed class ShardRunnerTests
{
    [Fact]
    public async Task Requests_posted_from_many_threads_at_once_are_each_answered()
    {
        await using var a = await TestNodes.Create(handlerShards: 1).StartedAsync();
        await using var b = await TestNodes.Create(handlerShards: 1).StartedAsync();
        Assert.True((await a.PingAsync(b.LocalEnr)).IsOk);   // the session, before the storm
        const int threads = 8, each = 400;
        using var go = new Barrier(threads);
        var failures = new int[threads];
        var workers = Enumerable.Range(0, threads).Select(t => Task.Factory.StartNew(async () =>
        {
            go.SignalAndWait();
            var pending = new List<Task<RequestResult<PongInfo>>>(each);
            // both directions at once: a's shard takes posts from these threads and packets from its receive thread
            for (int i = 0; i < each; i++) pending.Add(i % 2 == 0 ? a.PingAsync(b.LocalEnr) : b.PingAsync(a.LocalEnr));
            foreach (var r in await Task.WhenAll(pending)) if (!r.IsOk) failures[t]++;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap()).ToArray();
        await Task.WhenAll(workers);
        Assert.Equal(0, failures.Sum());
    }

    [Fact]
    public async Task The_shards_queue_reuses_its_slots_instead_of_taking_new_ones_for_every_item()
    {
        // A peek at a concurrent queue marks its segment as observed, and an observed segment's slots are not used again
        // once read: every item then takes a fresh slot (~50 bytes), and the queue a new segment, twice as large,
        // whenever one fills. Items posted to an idle shard are handled at once on the posting thread, so what this
        // thread allocates is the queue's own cost (a timer pass with nothing due allocates nothing).
        await using var node = await TestNodes.Create(handlerShards: 1).StartedAsync();
        var shard = node.Shards[0];
        for (int i = 0; i < 1_000; i++) Assert.True(shard.TryPost(ShardItem.DeadlinesDue));
        const int items = 100_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < items; i++) shard.TryPost(ShardItem.DeadlinesDue);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < items, $"{allocated} bytes allocated for {items} items posted and handled");
    }
}
