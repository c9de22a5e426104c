using System.Net;
using ClP2p.Discovery.Handler;
using Xunit;

namespace ClP2p.Discovery.Tests;

/// <summary>
/// FINDNODE with its outcome handed to a sink (the crawl's form, <see cref="IRequestSink{T}"/>): the answer arrives
/// once, and a cancelled <see cref="RequestGroup"/> ends its requests still waiting instead of leaving them to their
/// timeouts. The waits below use a ten-minute request timeout, so a request that cancellation did not end holds its
/// test to the hang bound.
/// </summary>
public sealed class RequestSinkTests
{
    private sealed class Sink : IRequestSink<IReadOnlyList<Enr>>
    {
        private readonly TaskCompletionSource<(RequestResult<IReadOnlyList<Enr>> Result, bool Cancelled)> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public Task<(RequestResult<IReadOnlyList<Enr>> Result, bool Cancelled)> Outcome => _first.Task;

        public void OnOutcome(RequestResult<IReadOnlyList<Enr>> result, bool cancelled)
        {
            Interlocked.Increment(ref _calls);
            _first.TrySetResult((result, cancelled));
        }
    }

    [Fact]
    public async Task A_sinks_request_gets_the_answer_once()
    {
        await using var peer = await TestNodes.Create().StartedAsync();
        var known = new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(30303).Build(TestNodes.NewKey());
        Assert.True(peer.AddToTable(known));
        int d = NodeId.LogDistance(peer.LocalId, known.NodeId);
        await using var me = await TestNodes.Create().StartedAsync();

        var sink = new Sink();
        me.FindNode(peer.LocalEnr, [d], null, sink, new RequestGroup());
        using var hang = new CancellationTokenSource(TimeSpan.FromSeconds(60));   // bounds a hang, not the speed
        var (result, cancelled) = await sink.Outcome.WaitAsync(hang.Token);

        Assert.False(cancelled);
        Assert.True(result.TryGetValue(out var records), $"no answer: {result}");
        Assert.Contains(records, r => r.NodeId == known.NodeId);
        // counted out before the outcome is handed on
        Assert.Equal(0, me.PendingRequestCount);
        Assert.Equal(1, sink.Calls);
    }

    [Fact]
    public async Task Cancelling_a_group_ends_its_requests_waiting_on_a_silent_node()
    {
        // a socket that never reads: the requests to it wait for their ten-minute timeout unless cancelled
        using var silent = new SilentEndpoint();
        var gone = silent.NewRecord();
        await using var me = await TestNodes.Create(requestTimeout: TimeSpan.FromMinutes(10), retries: 0).StartedAsync();

        var group = new RequestGroup();
        var other = new RequestGroup();
        var sinks = Enumerable.Range(0, 3).Select(_ => new Sink()).ToArray();
        var bystander = new Sink();
        foreach (var s in sinks) me.FindNode(gone, [256], null, s, group);
        me.FindNode(gone, [255], null, bystander, other);
        Assert.Equal(4, me.PendingRequestCount);
        // the requests are out: the first contact's packet reached the socket (the others wait for its session)
        using var hang = new CancellationTokenSource(TimeSpan.FromSeconds(60));   // bounds a hang, not the speed
        await silent.Socket.ReceiveAsync(new byte[1500], hang.Token);

        me.CancelGroup(group);
        foreach (var s in sinks)
        {
            var (_, cancelled) = await s.Outcome.WaitAsync(hang.Token);
            Assert.True(cancelled);
        }
        Assert.Equal(1, me.PendingRequestCount);
        Assert.All(sinks, s => Assert.Equal(1, s.Calls));
        // a request of another group goes on waiting
        Assert.False(bystander.Outcome.IsCompleted);

        // a request of a cancelled group started later ends at once, cancelled
        var late = new Sink();
        me.FindNode(gone, [254], null, late, group);
        Assert.True(late.Outcome.IsCompleted);
        Assert.True((await late.Outcome).Cancelled);
        Assert.Equal(1, me.PendingRequestCount);
    }

    [Fact]
    public async Task A_crawl_cancelled_while_its_requests_wait_leaves_none_pending()
    {
        // the crawler's node waits ten minutes for an answer: the crawl's requests to the silent node end only through
        // the crawl's cancellation (the run's request group), which is what this checks
        using var silent = new SilentEndpoint();
        var gone = silent.NewRecord();
        await using var me = await TestNodes.Create(requestTimeout: TimeSpan.FromMinutes(10), retries: 0).StartedAsync();
        var crawler = new DhtCrawler(me, new DhtCrawlOptions
        {
            CanContact = ContactFilters.PublicOrLoopback,
            RandomWalks = 0,
            MinRequestSpacing = TimeSpan.Zero,
            FirstPassTimeout = TimeSpan.FromMinutes(10),
            FirstPassRetries = 0,
            FirstContactRetries = 0,
            SecondPassTimeout = TimeSpan.FromMinutes(10),
        });

        using var crawl = new CancellationTokenSource();
        var run = Task.Run(async () =>
        {
            await foreach (var _ in crawler.RunAsync([gone], crawl.Token)) { }
        });
        // the crawl's first contact is out: its packet reached the socket
        using var hang = new CancellationTokenSource(TimeSpan.FromSeconds(60));   // bounds a hang, not the speed
        await silent.Socket.ReceiveAsync(new byte[1500], hang.Token);
        Assert.Equal(1, me.PendingRequestCount);

        crawl.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        // the run's passes end once their requests have: at once, not after the ten-minute timeout
        await crawler.RunWork!.WaitAsync(hang.Token);
        Assert.False(hang.IsCancellationRequested);
        Assert.Equal(0, me.PendingRequestCount);
    }
}
