using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery.Crypto;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Discovery.Tests;

public sealed class TimeTests
{
    [Fact]
    public async Task Paced_waits_end_at_their_own_time_in_order_and_not_before_and_cancellation_ends_the_rest()
    {
        var time = new FakeTimeProvider();
        using var cts = new CancellationTokenSource();
        using var pacer = new Pacer(time, cts.Token);
        long ms = time.TimestampFrequency / 1000, start = time.GetTimestamp();
        var waiters = Enumerable.Range(0, 4).Select(_ => new Pacer.Waiter()).ToArray();
        var ended = new List<int>();
        async Task<bool> Wait(int i, long dueMs)
        {
            bool r = await pacer.WaitUntilAsync(waiters[i], start + dueMs * ms);
            lock (ended) ended.Add(i);
            return r;
        }
        // queued out of order; the third is due furthest away and is still waiting when the crawl is cancelled
        var w0 = Wait(0, 300);
        var w1 = Wait(1, 100);
        var w2 = Wait(2, 5_000);
        var w3 = Wait(3, 200);
        time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.Empty(ended);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await w1);
        time.Advance(TimeSpan.FromMilliseconds(150));
        Assert.True(await w3);
        Assert.False(w0.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.True(await w0);
        Assert.Equal([1, 3, 0], ended);
        // a waiter is reused once its wait ended
        var again = Wait(1, 400);
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(await again);
        Assert.False(w2.IsCompleted);
        await cts.CancelAsync();
        Assert.False(await w2);
        Assert.False(await Wait(0, 1));
        Assert.Equal([1, 3, 0, 1, 2, 0], ended);
    }

    [Fact]
    public async Task Request_timeouts_and_retries_follow_the_injected_clock()
    {
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 2).StartedAsync();
        using var silent = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var k2 = TestNodes.NewKey();
        var enr = new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(((IPEndPoint)silent.Client.LocalEndPoint!).Port).Build(k2);
        var req = n.FindNodeAsync(enr, [256]);
        await ReceiveOne(silent);
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(req.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await ReceiveOne(silent); // first retry
        time.Advance(TimeSpan.FromSeconds(1));
        await ReceiveOne(silent); // second retry
        Assert.False(req.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(RequestFailure.Timeout, await req.Failure());
        Assert.Equal(3, n.PacketsSent);
    }

    [Fact]
    public async Task Many_requests_to_a_silent_endpoint_each_time_out_at_their_own_deadline_and_not_before()
    {
        // one endpoint, so one handler shard and its one deadline queue; a node id each, so that every request opens
        // its own first contact and sends a packet (which tells the test its deadline is set)
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0).StartedAsync();
        using var silent = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)silent.Client.LocalEndPoint!).Port;
        int[] startMs = [0, 0, 250, 400, 400, 700, 950];
        var started = TimeSpan.Zero;
        var requests = new List<(Task<RequestResult<IReadOnlyList<Enr>>> Task, TimeSpan Deadline)>();
        foreach (int ms in startMs)
        {
            time.Advance(TimeSpan.FromMilliseconds(ms) - started);
            started = TimeSpan.FromMilliseconds(ms);
            var enr = new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(port).Build(TestNodes.NewKey());
            requests.Add((n.FindNodeAsync(enr, [256]), started + TimeSpan.FromSeconds(1)));
            await ReceiveOne(silent);
        }
        Assert.DoesNotContain(requests, r => r.Task.IsCompleted);
        var now = started;
        foreach (var deadline in requests.Select(r => r.Deadline).Distinct())
        {
            time.Advance(deadline - TimeSpan.FromMilliseconds(1) - now);
            Assert.All(requests, r => Assert.Equal(r.Deadline < deadline, r.Task.IsCompleted));
            time.Advance(TimeSpan.FromMilliseconds(1));
            now = deadline;
            foreach (var (task, _) in requests.Where(r => r.Deadline == deadline))
                Assert.Equal(RequestFailure.Timeout, await task.WaitAsync(HangGuard).Failure());
            Assert.All(requests, r => Assert.Equal(r.Deadline <= deadline, r.Task.IsCompleted));
        }
        Assert.Equal(startMs.Length, n.PacketsSent);
        Assert.Equal(0, n.PendingRequestCount);
    }

    private static async Task ReceiveOne(UdpClient c)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var r = await c.ReceiveAsync(cts.Token);
        Assert.InRange(r.Buffer.Length, 63, 1280);
    }
}
