using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery.Handler;
using ClP2p.Discovery.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Discovery.Tests;

/// <summary>The datagrams a handler shard's runner sends in one batch of work leave together, in order, when it ends.</summary>
public sealed class SendBatchTests : IDisposable
{
    private readonly Discv5Counters _counters = new(NullLogger.Instance);
    private readonly Discv5Socket _socket;
    private readonly Socket _a = Receiver();
    private readonly Socket _b = Receiver();

    public SendBatchTests()
    {
        _socket = new Discv5Socket(new IPEndPoint(IPAddress.Loopback, 0), 1 << 20, 1 << 20, NullLogger.Instance, _counters);
    }

    [Fact]
    public void Nothing_leaves_before_the_flush_then_every_datagram_in_order()
    {
        var batch = _socket.CreateSendBatch();
        batch.Add([1, 1], Endpoint(_a));
        batch.Add([2, 2, 2], Endpoint(_b));
        batch.Add([3], Endpoint(_a));
        if (OperatingSystem.IsLinux())
        {
            // loopback delivers within the sending call: a datagram sent would already wait in its receiver
            Assert.Equal(0, _a.Available);
            Assert.Equal(0, _b.Available);
            Assert.Equal(3, batch.Count);
        }
        batch.Flush();
        Assert.Equal(0, batch.Count);
        Assert.Equal(3, Interlocked.Read(ref _counters.Sent));
        // one system call for the three where sends are batched
        Assert.Equal(OperatingSystem.IsLinux() ? 1 : 3, _socket.SendCalls);
        Assert.Equal(new byte[] { 1, 1 }, Receive(_a));
        Assert.Equal(new byte[] { 3 }, Receive(_a));
        Assert.Equal(new byte[] { 2, 2, 2 }, Receive(_b));
    }

    [Fact]
    public void A_full_batch_leaves_before_the_next_datagram_is_queued()
    {
        var batch = _socket.CreateSendBatch();
        for (int i = 0; i <= Discv5Socket.SendBatch.Capacity; i++) batch.Add([(byte)i, 0xee], Endpoint(_a));
        // batched (Linux): the full batch left when the last datagram came; elsewhere each left as it came
        long expected = OperatingSystem.IsLinux() ? Discv5Socket.SendBatch.Capacity : Discv5Socket.SendBatch.Capacity + 1;
        Assert.Equal(expected, Interlocked.Read(ref _counters.Sent));
        batch.Flush();
        for (int i = 0; i <= Discv5Socket.SendBatch.Capacity; i++) Assert.Equal(new byte[] { (byte)i, 0xee }, Receive(_a));
    }

    [Fact]
    public void Datagrams_to_an_endpoint_that_cannot_be_reached_are_counted_and_the_rest_still_leave()
    {
        var batch = _socket.CreateSendBatch();
        batch.Add([9], Endpoint(_a));
        // port 0 cannot be sent to: the kernel refuses that one datagram
        batch.Add([8], new IPEndPoint(IPAddress.Loopback, 0));
        batch.Add([7], Endpoint(_a));
        batch.Flush();
        Assert.Equal(2, Interlocked.Read(ref _counters.Sent));
        Assert.Equal(1, Interlocked.Read(ref _counters.SendErrors));
        Assert.Equal(new byte[] { 9 }, Receive(_a));
        Assert.Equal(new byte[] { 7 }, Receive(_a));
    }

    private static Socket Receiver()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        s.ReceiveTimeout = (int)HangGuard.TotalMilliseconds;
        return s;
    }

    private static IPEndPoint Endpoint(Socket s) => (IPEndPoint)s.LocalEndPoint!;

    private static byte[] Receive(Socket s)
    {
        var buffer = new byte[2048];
        int n = s.Receive(buffer);
        return buffer[..n];
    }

    public void Dispose()
    {
        _socket.Dispose();
        _a.Dispose();
        _b.Dispose();
    }
}
