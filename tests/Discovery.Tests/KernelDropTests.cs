using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery.Handler;
using ClP2p.Discovery.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Discovery.Tests;

/// <summary>The datagrams the kernel drops on a full receive buffer are read back from the system's count.</summary>
public sealed class KernelDropTests
{
    [Fact]
    public void Datagrams_that_overflow_an_unread_receive_buffer_are_counted_as_the_kernels_drops()
    {
        var counters = new Discv5Counters(NullLogger.Instance);
        // the smallest buffer the kernel allows; nothing reads it (no receive loop started)
        using var full = new Discv5Socket(new IPEndPoint(IPAddress.Loopback, 0), 1, 1 << 20, NullLogger.Instance, counters);
        using var quiet = new Discv5Socket(new IPEndPoint(IPAddress.Loopback, 0), 1, 1 << 20, NullLogger.Instance, counters);
        if (!OperatingSystem.IsLinux())
        {
            Assert.Null(full.KernelDrops());
            return;
        }
        Assert.Equal(0, full.KernelDrops());
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        byte[] datagram = new byte[1000];
        const int Sent = 200;
        for (int i = 0; i < Sent; i++) sender.SendTo(datagram, full.LocalEndPoint);
        // loopback delivers within the sending call: what did not fit is already counted
        long? drops = full.KernelDrops();
        Assert.NotNull(drops);
        Assert.InRange(drops!.Value, 1, Sent - 1);
        Assert.Equal(0, quiet.KernelDrops());
    }

    [Fact]
    public void The_sockets_own_drop_count_agrees_with_the_systems_udp_table()
    {
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 1 };
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        if (!OperatingSystem.IsLinux())
        {
            Assert.Null(Discv5Socket.SocketMemInfoDrops(receiver));
            return;
        }
        Assert.Equal(0, Discv5Socket.SocketMemInfoDrops(receiver));
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        byte[] datagram = new byte[1000];
        for (int i = 0; i < 200; i++) sender.SendTo(datagram, receiver.LocalEndPoint!);
        long? own = Discv5Socket.SocketMemInfoDrops(receiver);
        Assert.NotNull(own);
        Assert.InRange(own!.Value, 1, 199);
        Assert.Equal(own, Discv5Socket.ProcNetUdpDrops(receiver));
    }
}
