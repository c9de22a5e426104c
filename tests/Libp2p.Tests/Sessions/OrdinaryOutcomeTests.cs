using System.Net;
using System.Net.Sockets;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Multistream;
using ClP2p.Libp2p.Protocols;
using ClP2p.Libp2p.Transport;
using ClP2p.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>
/// The ordinary outcomes of a dial (a refused port, a host that never answers, a connection we close ourselves) are
/// reported, not thrown: a crawl dials thousands of gone nodes, and an exception is thrown again at every async frame it
/// passes. Each test watches its own flow's first-chance exceptions (<see cref="FirstChanceProbe"/>).
/// </summary>
public sealed class OrdinaryOutcomeTests
{
    private static readonly Type[] DialPathExceptions =
    [
        typeof(OperationCanceledException), typeof(DialException), typeof(SocketException), typeof(IOException),
        typeof(ObjectDisposedException), typeof(NegotiationException),
    ];

    private static Libp2pDialer NewDialer(TimeProvider? time = null, string muxer = "/yamux/1.0.0") => new(
        new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), ConnectTimeout = TimeSpan.FromSeconds(3), Muxers = [muxer] }, time: time);

    private static void AssertNothingThrown(FirstChanceProbe probe, params Type[] kinds)
    {
        var thrown = probe.Seen(kinds.Length == 0 ? DialPathExceptions : kinds);
        Assert.True(thrown.Count == 0, FirstChanceProbe.Describe(thrown));
    }

    [Fact]
    public async Task Refused_connect_is_a_result_not_an_exception()
    {
        using var dialer = NewDialer();
        var ep = LoopbackEndpoints.ClosedPort();
        using var probe = FirstChanceProbe.Start();
        var r = await dialer.TryDialAsync(ep, null, CancellationToken.None);
        AssertNothingThrown(probe);
        Assert.Null(r.Value);
        Assert.False(r.Succeeded);
        Assert.Equal(DialErrorClass.Refused, r.Error!.Class);
        Assert.Equal(DialStep.Connect, r.Error.Step);
        Assert.Equal(new SocketException((int)SocketError.ConnectionRefused).Message, r.Error.Detail); // what the thrown exception said
    }

    [Fact]
    public async Task Connect_timeout_is_a_result_not_an_exception()
    {
        var time = new FakeTimeProvider();
        using var dialer = NewDialer(time);
        using var silent = await LoopbackEndpoints.SilentAsync();
        var ep = silent.EndPoint;
        using var probe = FirstChanceProbe.Start();
        var dial = dialer.TryConnectAsync(ep, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(2.9));
        Assert.False(dial.IsCompleted); // the SYN is dropped and the connect timeout has not passed
        time.Advance(TimeSpan.FromSeconds(0.1));
        var r = await dial.WaitAsync(HangGuard);
        AssertNothingThrown(probe);
        Assert.Null(r.Value);
        Assert.Equal(DialErrorClass.Timeout, r.Error!.Class);
        Assert.Equal(DialStep.Connect, r.Error.Step);
        Assert.Equal("timed out", r.Error.Detail);
    }

    [Fact]
    public async Task Throwing_connect_still_throws_the_timeout_as_a_DialException()
    {
        var time = new FakeTimeProvider();
        using var dialer = NewDialer(time);
        using var silent = await LoopbackEndpoints.SilentAsync();
        var ep = silent.EndPoint;
        var dial = dialer.ConnectAsync(ep, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(3));
        var ex = await Assert.ThrowsAsync<DialException>(() => dial.WaitAsync(HangGuard));
        Assert.Equal(DialErrorClass.Timeout, ex.Class);
        Assert.Equal(DialStep.Connect, ex.Step);
    }

    [Fact]
    public async Task Caller_cancellation_of_a_connect_still_throws_OperationCanceledException()
    {
        using var dialer = NewDialer(new FakeTimeProvider());
        using var silent = await LoopbackEndpoints.SilentAsync();
        var ep = silent.EndPoint;
        using var cts = new CancellationTokenSource();
        var dial = dialer.TryConnectAsync(ep, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dial.WaitAsync(HangGuard));
    }

    [Theory]
    [InlineData("/yamux/1.0.0")]
    [InlineData("/mplex/6.7.0")]
    public async Task Local_close_of_a_tcp_connection_ends_its_read_loop_by_end_of_stream(string muxer)
    {
        await using var listener = new Libp2pListener(new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), Muxers = [muxer] });
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0)); // before the probe: the remote side is not watched
        using var dialer = NewDialer(muxer: muxer);
        using var probe = FirstChanceProbe.Start();
        var r = await dialer.TryDialAsync(listener.LocalEndPoint!, listener.PeerId, CancellationToken.None);
        var connection = r.Value!;
        Assert.NotNull((await connection.IdentifyAsync(CancellationToken.None)).AgentVersion);
        var open = await connection.OpenStreamAsync([Ping.ProtocolId], CancellationToken.None); // left open across the close
        await connection.DisposeAsync(); // awaits the read loop
        AssertNothingThrown(probe);
        probe.Dispose();
        Assert.True(connection.IsClosed);
        Assert.True(connection.Completion.IsCompletedSuccessfully);
        var ex = await Assert.ThrowsAsync<IOException>(() => open.ReadAsync(new byte[1]).AsTask());
        Assert.Equal("connection closed: closed locally", ex.Message);
    }

    [Fact]
    public async Task Refused_protocols_are_a_result_not_an_exception()
    {
        await using var listener = new Libp2pListener(new Libp2pOptions { Identity = Identity.GenerateSecp256k1() });
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0)); // before the probe: the remote side is not watched
        using var dialer = NewDialer();
        await using var connection = await dialer.DialAsync(listener.LocalEndPoint!, listener.PeerId, CancellationToken.None);
        using var probe = FirstChanceProbe.Start();
        var r = await connection.TryOpenStreamAsync(["/test/absent/2", "/test/absent/1"], CancellationToken.None);
        AssertNothingThrown(probe);
        probe.Dispose();
        Assert.Null(r.Value);
        Assert.Equal(DialErrorClass.ProtocolNotSupported, r.Error!.Class);
        Assert.Equal(DialStep.Stream, r.Error.Step);
        Assert.Equal("remote refused /test/absent/2, /test/absent/1", r.Error.Detail);
        // the throwing form still throws the same, and the connection still works
        var ex = await Assert.ThrowsAsync<DialException>(() => connection.OpenStreamAsync(["/test/absent/1"], CancellationToken.None));
        Assert.Equal(DialErrorClass.ProtocolNotSupported, ex.Class);
        Assert.NotNull((await connection.IdentifyAsync(CancellationToken.None)).AgentVersion);
    }

    [Theory]
    [InlineData("/yamux/1.0.0")]
    [InlineData("/mplex/6.7.0")]
    public async Task Local_close_over_an_in_memory_pipe_ends_both_read_loops_by_end_of_stream(string muxer)
    {
        using var probe = FirstChanceProbe.Start(); // both sides' read loops start inside the probe's flow
        await using var pair = await InMemoryPair.CreateAsync(muxer);
        var open = await pair.Client.OpenStreamAsync([InMemoryPair.Echo], CancellationToken.None);
        await pair.Client.DisposeAsync();
        await pair.Server.Completion.WaitAsync(HangGuard); // the remote read end of stream
        // Both sides are watched here, and the remote's echo handler reading the stream the close aborted throws an
        // IOException by design; what a close must not throw is the read loops' cancellation.
        AssertNothingThrown(probe, typeof(OperationCanceledException), typeof(ObjectDisposedException), typeof(EndOfStreamException), typeof(InvalidOperationException));
        probe.Dispose();
        var ex = await Assert.ThrowsAsync<IOException>(() => open.ReadAsync(new byte[1]).AsTask());
        Assert.Equal("connection closed: closed locally", ex.Message);
    }

    [Fact]
    public async Task Shut_down_pipe_ends_a_pending_read_and_the_peer_reads_end_of_stream()
    {
        var (a, b) = DuplexPipe.CreatePair();
        var pending = a.ReadAsync(new byte[8]).AsTask();
        Assert.False(pending.IsCompleted);
        ((DuplexPipeStream)a).Shutdown();
        Assert.Equal(0, await pending.WaitAsync(HangGuard));
        Assert.Equal(0, await a.ReadAsync(new byte[8]));
        Assert.Equal(0, await b.ReadAsync(new byte[8]));
        await a.DisposeAsync();
        await b.DisposeAsync();
    }
}
