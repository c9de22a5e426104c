using System.Net;
using System.Net.Sockets;
using ClP2p.Libp2p.Transport;
using ClP2p.TestSupport;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>
/// A connect timeout is the network's verdict: when it fires after the kernel has connected the socket (the completion
/// only waiting in this process's queue), the connect is kept; when the kernel is still waiting for the SYN's answer,
/// or the caller gave up, it is aborted. Read through TCP_INFO (<see cref="TcpInfo"/>), Linux only.
/// </summary>
public sealed class TcpConnectTests
{
    private static Socket NewSocket() => new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    [Fact]
    public async Task A_timeout_that_fires_after_the_kernel_connected_keeps_the_connection_unless_the_caller_gave_up()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var socket = NewSocket();
        await socket.ConnectAsync(listener.LocalEndpoint).WaitAsync(Waits.HangGuard);
        using var caller = new CancellationTokenSource();
        if (!OperatingSystem.IsLinux())
        {
            Assert.False(TcpConnect.KeptAtTimeout(socket, caller.Token)); // nothing known: the timeout aborts as before
            return;
        }
        Assert.True(TcpConnect.KeptAtTimeout(socket, caller.Token));
        await caller.CancelAsync();
        Assert.False(TcpConnect.KeptAtTimeout(socket, caller.Token));
    }

    [Fact]
    public async Task A_connect_whose_SYN_is_unanswered_is_not_kept_at_its_timeout()
    {
        using var silent = await LoopbackEndpoints.SilentAsync();
        using var socket = NewSocket();
        using var timeout = new CancellationTokenSource();
        var connect = TcpConnect.ConnectAsync(socket, silent.EndPoint, timeout.Token);
        Assert.False(TcpConnect.KeptAtTimeout(socket, CancellationToken.None));
        await timeout.CancelAsync();
        var (_, aborted) = await connect.WaitAsync(Waits.HangGuard);
        Assert.True(aborted);
    }

    [Fact]
    public async Task The_kernels_round_trip_of_a_connect_is_read_from_its_own_field()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var socket = NewSocket();
        Assert.Null(TcpInfo.RoundTrip(socket)); // not connected
        await socket.ConnectAsync(listener.LocalEndpoint).WaitAsync(Waits.HangGuard);
        var rtt = TcpInfo.RoundTrip(socket);
        if (!OperatingSystem.IsLinux()) { Assert.Null(rtt); return; }
        Assert.True(TcpInfo.IsEstablished(socket));
        Assert.NotNull(rtt);
        // the kernel's own retransmission timeout (struct tcp_info's tcpi_rto, microseconds at offset 8) is the smoothed
        // round trip plus four deviations, and at least 200 ms: a round trip read from another field (the timeout
        // itself, a window, a threshold) would not be below it
        var info = new byte[104];
        Assert.True(socket.GetRawSocketOption(6, 11, info) >= 72);
        var rto = TimeSpan.FromMicroseconds(BitConverter.ToUInt32(info, 8));
        Assert.InRange(rtt!.Value, TimeSpan.FromTicks(1), rto - TimeSpan.FromTicks(1));
    }
}
