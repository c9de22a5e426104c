using System.Net;

namespace ClP2p.Discovery.Tests;

/// <summary>
/// Both receive loops: the batching one (64-bit Linux, a thread blocked in recvmmsg, up to 32 datagrams a call) and the
/// portable one (an awaited receive per datagram). Every datagram that reaches the socket is handled exactly once,
/// however many queue up while the loop is held, and a node on either loop crawls a neighbour.
/// </summary>
public sealed class ReceiveLoopTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_datagram_of_a_burst_queued_behind_a_held_loop_is_handled_once(bool portable)
    {
        // one loop, held at the gate with the first datagram: the other 99 queue in the socket and are then read in
        // batches (several recvmmsg calls, the last one short) or one by one
        await using var n = await TestNodes.Create(handlerShards: 1, portableReceive: portable).StartedAsync();
        using var raw = new RawPeer();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        n.ReceiveDispatchGate = () => { held.TrySetResult(); return release.Task; };
        try
        {
            raw.Send(RawPeer.Rand(10), n.LocalEndPoint);
            await held.Task.WaitAsync(ClP2p.TestSupport.Waits.HangGuard);
            for (int i = 1; i < 100; i++) raw.Send(RawPeer.Rand(10 + i % 7), n.LocalEndPoint);
            Assert.True(SpinWait.SpinUntil(() => n.HasUnreadDatagram, ClP2p.TestSupport.Waits.HangGuard));
            Assert.Equal(0, n.PacketsReceived);
            n.ReceiveDispatchGate = null;
            release.TrySetResult();
            await n.UntilAsync(() => n.PacketsReceived >= 100);
            Assert.Equal(100, n.PacketsReceived);
            Assert.Equal(100, n.DropCounts["too-small"]);
            Assert.False(n.HasUnreadDatagram);
        }
        finally
        {
            n.ReceiveDispatchGate = null;
            release.TrySetResult();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_node_on_either_loop_handshakes_pings_and_reads_a_neighbours_table(bool portable)
    {
        await using var a = await TestNodes.Create(portableReceive: portable).StartedAsync();
        await using var b = await TestNodes.Create().StartedAsync();
        await using var c = await TestNodes.Create().StartedAsync();
        await b.PingAsync(c.LocalEnr).Ok();
        var pong = await a.PingAsync(b.LocalEnr).Ok();
        Assert.Equal(a.LocalEndPoint, pong!.ObservedEndPoint);
        int d = NodeId.LogDistance(b.LocalId, c.LocalId);
        var found = await a.FindNodeAsync(b.LocalEnr, [d]).Ok();
        Assert.Contains(found, e => e.NodeId == c.LocalId);
        Assert.Equal(0, a.DropCounts.Values.Sum());
    }

    [Fact]
    public async Task A_coalescing_loop_reads_answers_in_batches_and_keeps_the_requests_whose_answers_wait_in_the_socket()
    {
        // an option of the batching loop (64-bit Linux, where the crawler runs): the loop waits 400 ms after each read
        // that emptied the socket; the requests time out after 150 ms with no retry: each answer comes within a
        // millisecond and waits in the socket, unread, past its request's timeout, which is put off until the loop has
        // read it (with TimeoutDeferral zero this ping times out)
        await using var a = await TestNodes.Create(requestTimeout: TimeSpan.FromMilliseconds(150), retries: 0,
            receiveCoalescing: TimeSpan.FromMilliseconds(400)).StartedAsync();
        await using var b = await TestNodes.Create().StartedAsync();
        var first = await a.PingAsync(b.LocalEnr);
        Assert.True(first.IsOk, $"first ping: {first.Failure}");
        // five answers at once: the first may wake the loop alone, the others arrive while it waits and come in one
        // read (b's own packets to a, such as a ping of its new neighbour, may come apart: one read more each)
        long batches = a.ReceiveBatches, packets = a.PacketsReceived;
        var pings = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => a.PingAsync(b.LocalEnr)));
        Assert.All(pings, p => Assert.True(p.IsOk, $"ping: {p.Failure}"));
        // a packet is counted once handled, which may be just after its request's caller resumed
        await a.UntilAsync(() => a.PacketsReceived - packets >= 5);
        long received = a.PacketsReceived - packets;
        Assert.InRange(a.ReceiveBatches - batches, 1, received - 3);
        Assert.Equal(0, a.DropCounts.Values.Sum());
    }

    [Fact]
    public async Task Disposing_a_node_wakes_its_blocked_receive_threads()
    {
        // nothing ever arrives: the threads sleep in the kernel until the node is disposed, which must not hang
        var n = await TestNodes.Create(handlerShards: 2).StartedAsync();
        var port = n.LocalEndPoint.Port;
        await n.DisposeAsync().AsTask().WaitAsync(ClP2p.TestSupport.Waits.HangGuard);
        // the port is free again: the socket was closed, not left open by a thread still holding it
        using var again = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, port));
        Assert.Equal(port, ((IPEndPoint)again.Client.LocalEndPoint!).Port);
    }
}
