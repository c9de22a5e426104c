using System.Net;
using System.Net.Sockets;
using ClP2p.Libp2p.Crypto;
using ClP2p.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>
/// A failed TCP connect answers for its endpoint for <see cref="Libp2pOptions.ConnectFailureMemory"/>: the stale records
/// of a gone host share its IP and port, and each of their connects would hold a socket for the whole connect timeout.
/// A success is never reused, and the memory runs out.
/// </summary>
public sealed class SharedConnectFailureTests
{
    private const string NotAgain = "not connected again";

    private static Libp2pDialer NewDialer(TimeProvider? time = null, TimeSpan? memory = null) => new(
        new Libp2pOptions
        {
            Identity = Identity.GenerateSecp256k1(),
            ConnectTimeout = TimeSpan.FromSeconds(3),
            ConnectFailureMemory = memory ?? TimeSpan.FromSeconds(60),
        },
        time: time);

    /// <summary>A dial of a silent endpoint that connects for itself: still under way just before its connect timeout,
    /// then ended by it, with the plain "timed out" of its own connect (not an inferred failure).</summary>
    private static async Task AssertOwnConnectTimesOutAsync(Libp2pDialer dialer, FakeTimeProvider time, IPEndPoint ep)
    {
        var dial = dialer.TryConnectAsync(ep, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(2.9));
        Assert.False(dial.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.1));
        var r = await dial.WaitAsync(HangGuard);
        Assert.Equal(DialErrorClass.Timeout, r.Error!.Class);
        Assert.Equal("timed out", r.Error.Detail);
    }

    [Fact]
    public async Task Dials_of_a_silent_endpoint_share_one_connect_and_its_timeout()
    {
        var time = new FakeTimeProvider();
        using var dialer = NewDialer(time);
        using var silent = await LoopbackEndpoints.SilentAsync();
        var first = dialer.TryConnectAsync(silent.EndPoint, CancellationToken.None);
        var second = dialer.TryConnectAsync(silent.EndPoint, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(2.9));
        Assert.False(first.IsCompleted);
        Assert.False(second.IsCompleted); // waits for the connect under way, not one of its own
        time.Advance(TimeSpan.FromSeconds(0.1));
        var a = await first.WaitAsync(HangGuard);
        var b = await second.WaitAsync(HangGuard);
        Assert.Equal(DialErrorClass.Timeout, a.Error!.Class);
        Assert.Equal("timed out", a.Error.Detail);
        Assert.Equal(DialErrorClass.Timeout, b.Error!.Class);
        Assert.Equal(DialStep.Connect, b.Error.Step);
        Assert.Contains(NotAgain, b.Error.Detail);
        Assert.Equal(1, dialer.ConnectsShared);

        // later, within the memory: answered at once
        time.Advance(TimeSpan.FromSeconds(30));
        var c = await dialer.TryConnectAsync(silent.EndPoint, CancellationToken.None).WaitAsync(HangGuard);
        Assert.Equal(DialErrorClass.Timeout, c.Error!.Class);
        Assert.Contains(NotAgain, c.Error.Detail);
        Assert.Equal(2, dialer.ConnectsShared);
    }

    [Fact]
    public async Task After_the_memory_a_dial_connects_again()
    {
        var time = new FakeTimeProvider();
        using var dialer = NewDialer(time, TimeSpan.FromSeconds(10));
        using var silent = await LoopbackEndpoints.SilentAsync();
        await AssertOwnConnectTimesOutAsync(dialer, time, silent.EndPoint);
        time.Advance(TimeSpan.FromSeconds(11));
        await AssertOwnConnectTimesOutAsync(dialer, time, silent.EndPoint); // a connect of its own again
    }

    [Fact]
    public async Task A_refused_port_is_refused_again_without_a_connect_and_other_ports_are_not_touched()
    {
        using var dialer = NewDialer();
        var closed = LoopbackEndpoints.ClosedPort();
        var first = await dialer.TryConnectAsync(closed, CancellationToken.None);
        Assert.Equal(DialErrorClass.Refused, first.Error!.Class);
        Assert.DoesNotContain(NotAgain, first.Error.Detail);
        var second = await dialer.TryConnectAsync(closed, CancellationToken.None);
        Assert.Equal(DialErrorClass.Refused, second.Error!.Class);
        Assert.Contains(NotAgain, second.Error.Detail);

        // the same address on another port is another endpoint
        var other = LoopbackEndpoints.ClosedPort();
        Assert.NotEqual(closed, other);
        var third = await dialer.TryConnectAsync(other, CancellationToken.None);
        Assert.DoesNotContain(NotAgain, third.Error!.Detail);
    }

    [Fact]
    public async Task A_live_endpoint_is_connected_by_every_dial()
    {
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        server.Listen(16);
        var ep = (IPEndPoint)server.LocalEndPoint!;
        using var dialer = NewDialer();
        for (int i = 0; i < 3; i++)
        {
            var r = await dialer.TryConnectAsync(ep, CancellationToken.None);
            Assert.True(r.Succeeded, r.Error?.ToString());
            using var accepted = await server.AcceptAsync().WaitAsync(HangGuard); // one connection per dial
            await r.Value!.DisposeAsync();
        }
    }

    [Fact]
    public async Task With_no_memory_every_dial_connects()
    {
        using var dialer = NewDialer(memory: TimeSpan.Zero);
        var closed = LoopbackEndpoints.ClosedPort();
        for (int i = 0; i < 2; i++)
        {
            var r = await dialer.TryConnectAsync(closed, CancellationToken.None);
            Assert.Equal(DialErrorClass.Refused, r.Error!.Class);
            Assert.DoesNotContain(NotAgain, r.Error.Detail);
        }
        Assert.Equal(0, dialer.ConnectsShared);
    }

    [Fact]
    public async Task A_connect_given_up_by_its_caller_is_not_remembered()
    {
        var time = new FakeTimeProvider();
        using var dialer = NewDialer(time);
        using var silent = await LoopbackEndpoints.SilentAsync();
        using var cts = new CancellationTokenSource();
        var first = dialer.TryConnectAsync(silent.EndPoint, cts.Token);
        Assert.False(first.IsCompleted); // the SYN is dropped: the connect is under way
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.WaitAsync(HangGuard));
        await AssertOwnConnectTimesOutAsync(dialer, time, silent.EndPoint);
        Assert.Equal(0, dialer.ConnectsShared);
    }

    [Theory]
    [InlineData(DialErrorClass.Timeout, null, true)]
    [InlineData(DialErrorClass.Refused, SocketError.ConnectionRefused, true)]
    [InlineData(DialErrorClass.Unreachable, SocketError.HostUnreachable, true)]
    [InlineData(DialErrorClass.Unreachable, SocketError.AddressNotAvailable, false)] // no local port or address left
    [InlineData(DialErrorClass.Unreachable, SocketError.NetworkDown, false)]
    [InlineData(DialErrorClass.Other, SocketError.TooManyOpenSockets, false)]
    [InlineData(DialErrorClass.Reset, SocketError.ConnectionReset, false)]
    public void Only_the_endpoints_own_failures_are_remembered(DialErrorClass cls, SocketError? error, bool remembered)
    {
        var e = new DialException(cls, DialStep.Connect, "x", error is { } se ? new SocketException((int)se) : null);
        Assert.Equal(remembered, Libp2pDialer.SaysSomethingOfTheEndpoint(e));
    }
}
