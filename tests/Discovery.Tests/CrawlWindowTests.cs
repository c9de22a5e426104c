using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Discovery.Tests;

/// <summary>The crawl-wide window of requests in flight: room handed on inline, without deepening the stack.</summary>
public sealed class CrawlWindowTests
{
    [ThreadStatic] private static int t_depth;

    [Fact]
    public async Task Room_handed_to_waiters_that_end_at_once_reaches_them_all_without_nesting_their_hand_offs()
    {
        // a window of one request: every waiter queues, and each ends its request as soon as it gets room (as a crawl's
        // requests do when its node is disposed), handing the room to the next from inside its own hand-off
        var window = new DhtCrawler.Window(1, 1, 1, TimeSpan.FromSeconds(1), TimeProvider.System, () => 0, 256, 2048);
        Assert.True(window.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);
        const int waiters = 20_000;
        int done = 0, deepest = 0;
        async Task WaitAndEndAsync()
        {
            // goes on where the room is handed over (not posted to the test framework's context)
            await window.EnterAsync(CancellationToken.None).ConfigureAwait(false);
            int depth = ++t_depth;
            int seen;
            while (depth > (seen = Volatile.Read(ref deepest)) && Interlocked.CompareExchange(ref deepest, depth, seen) != seen)
            {
            }
            try
            {
                window.Exit(answered: false, timedOut: false);
            }
            finally
            {
                t_depth--;
            }
            Interlocked.Increment(ref done);
        }
        var all = Enumerable.Range(0, waiters).Select(_ => WaitAndEndAsync()).ToArray();
        Assert.Equal(0, Volatile.Read(ref done));   // all wait: the room is held

        window.Exit(answered: false, timedOut: false);
        await Task.WhenAll(all).WaitAsync(HangGuard);

        Assert.Equal(waiters, done);
        // a waiter resumed inside another's hand-off hands its room on through the pool: two levels at most, where
        // handing on inline all the way down would nest twenty thousand
        Assert.InRange(deepest, 1, 2);
        // and the room came back: one request gets in at once
        Assert.True(window.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);
    }

    [Theory]
    [InlineData(RequestFailure.Timeout, false, true)]    // a node that answered goes quiet in the first pass: load on the way
    [InlineData(RequestFailure.Timeout, true, false)]    // the second pass is the slow and lossy nodes': their own wait
    [InlineData(RequestFailure.HandshakeRejected, false, false)]
    [InlineData(RequestFailure.NoEndpoint, false, false)]
    public void Only_a_first_pass_timeout_cuts_the_window(RequestFailure failure, bool secondPass, bool cuts) =>
        Assert.Equal(cuts, DhtCrawler.IsCongestionSignal(failure, secondPass));

    [Fact]
    public void The_windows_statistics_count_its_cuts_by_cause_and_its_extremes()
    {
        bool behind = false;
        var time = new FakeTimeProvider();
        var window = new DhtCrawler.Window(8, 2, 10, TimeSpan.FromMilliseconds(500), time, () => behind ? 3 : 0, growBelow: 1, cutAbove: 2);
        void Request(bool answered, bool timedOut)
        {
            Assert.True(window.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);
            window.Exit(answered, timedOut);
        }
        // four other requests out: the window is in use, so that answers grow it
        for (int i = 0; i < 4; i++) Assert.True(window.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);

        Request(answered: true, timedOut: false);    // 9
        Request(answered: true, timedOut: false);    // 10
        Request(answered: true, timedOut: false);    // 10: at its largest
        time.Advance(TimeSpan.FromSeconds(1));
        Request(answered: false, timedOut: true);    // 5: cut by a timeout
        Request(answered: false, timedOut: true);    // within the interval: no cut
        window.CountTimeout(secondPass: false);
        window.CountTimeout(secondPass: true);
        window.CountTimeout(secondPass: true);
        time.Advance(TimeSpan.FromSeconds(1));
        behind = true;
        Request(answered: true, timedOut: false);    // 2: cut by the backlog
        for (int i = 0; i < 3; i++) window.Exit(answered: false, timedOut: false);   // within the interval: no cut
        time.Advance(TimeSpan.FromSeconds(1));
        Request(answered: true, timedOut: false);    // 2: at the floor, still a cut
        behind = false;
        Request(answered: true, timedOut: false);    // 3

        Assert.Equal(new CrawlWindowStats(Initial: 8, Smallest: 2, Largest: 10, Current: 3, CutsByTimeout: 1, CutsByBacklog: 2)
        {
            TimeoutsFirstPass = 1,
            TimeoutsSecondPass = 2,
        }, window.Stats());
    }

    [Fact]
    public void An_answer_grows_the_window_only_while_it_is_in_use_and_the_handler_keeps_up()
    {
        int queued = 0;
        var time = new FakeTimeProvider();
        var window = new DhtCrawler.Window(4, 1, 100, TimeSpan.FromMilliseconds(500), time, () => queued, growBelow: 10, cutAbove: 50);
        void Answered()
        {
            Assert.True(window.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);
            window.Exit(answered: true, timedOut: false);
        }
        // two other requests out: with the answered one, at least half of the window is in use
        for (int i = 0; i < 2; i++) Assert.True(window.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);

        Answered();                                  // 5
        Answered();                                  // 6
        queued = 11;                                 // answers arrive faster than they are handled
        for (int i = 0; i < 20; i++) Answered();     // held at 6
        Assert.Equal(6, window.Stats().Current);
        queued = 10;                                 // the handler caught up
        Answered();                                  // 7
        for (int i = 0; i < 2; i++) window.Exit(answered: false, timedOut: false);
        for (int i = 0; i < 5; i++) Answered();      // one of seven in use: held at 7
        queued = 51;                                 // behind: a cut, as before
        Answered();                                  // 3

        var stats = window.Stats();
        Assert.Equal((3, 7, 20, 5, 1), (stats.Current, stats.Largest, stats.GrowthHeld, stats.GrowthUnused, stats.CutsByBacklog));
    }

    [Fact]
    public async Task A_waiter_cancelled_before_room_frees_up_is_skipped_and_the_room_goes_to_the_next()
    {
        var window = new DhtCrawler.Window(1, 1, 1, TimeSpan.FromSeconds(1), TimeProvider.System, () => 0, 256, 2048);
        Assert.True(window.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);
        using var cancelFirst = new CancellationTokenSource();
        var first = window.EnterAsync(cancelFirst.Token).AsTask();
        var second = window.EnterAsync(CancellationToken.None).AsTask();
        cancelFirst.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.WaitAsync(HangGuard));
        Assert.False(second.IsCompleted);

        window.Exit(answered: false, timedOut: false);
        await second.WaitAsync(HangGuard);

        // the second holds the only room; once it ends, the room is free again (the cancelled waiter took none)
        var third = window.EnterAsync(CancellationToken.None).AsTask();
        Assert.False(third.IsCompleted);
        window.Exit(answered: false, timedOut: false);
        await third.WaitAsync(HangGuard);
        window.Exit(answered: false, timedOut: false);
        Assert.True(window.EnterAsync(CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Waiters_on_the_watched_crawl_token_are_all_cancelled_with_it_and_later_ones_at_once()
    {
        var window = new DhtCrawler.Window(1, 1, 1, TimeSpan.FromSeconds(1), TimeProvider.System, () => 0, 256, 2048);
        using var crawl = new CancellationTokenSource();
        window.Watch(crawl.Token);
        Assert.True(window.EnterAsync(crawl.Token).IsCompletedSuccessfully);
        var waiting = Enumerable.Range(0, 3).Select(_ => window.EnterAsync(crawl.Token).AsTask()).ToArray();
        using var other = new CancellationTokenSource();
        var onOtherToken = window.EnterAsync(other.Token).AsTask();
        Assert.All(waiting, w => Assert.False(w.IsCompleted));

        crawl.Cancel();
        foreach (var w in waiting) await Assert.ThrowsAnyAsync<OperationCanceledException>(() => w.WaitAsync(HangGuard));
        // a wait that starts after the crawl was cancelled ends at once
        var late = window.EnterAsync(crawl.Token);
        Assert.True(late.IsCanceled);
        // a waiter on another token is not the crawl's: it still waits, and gets the room when it frees up
        Assert.False(onOtherToken.IsCompleted);
        window.Exit(answered: false, timedOut: false);
        await onOtherToken.WaitAsync(HangGuard);
    }

    [Fact]
    public async Task After_the_run_a_wait_on_its_token_is_still_cancelled_with_it()
    {
        var window = new DhtCrawler.Window(1, 1, 1, TimeSpan.FromSeconds(1), TimeProvider.System, () => 0, 256, 2048);
        using var crawl = new CancellationTokenSource();
        window.Watch(crawl.Token);
        window.Unwatch();
        Assert.True(window.EnterAsync(crawl.Token).IsCompletedSuccessfully);
        var waiting = window.EnterAsync(crawl.Token).AsTask();
        Assert.False(waiting.IsCompleted);

        crawl.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(HangGuard));
    }
}
