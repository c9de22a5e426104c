using System.Net;
using System.Net.Sockets;
using ClP2p.Libp2p.Crypto;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>
/// A listener open to anyone holds what its <see cref="InboundLimits"/> allow and closes the rest at once, over real
/// loopback sockets (clients bound to several 127.0.0.0/8 addresses stand for several remote IPs). Every step waits
/// for an event (a byte or the end of a connection, the listener's release event), never for a sleep; the guard
/// only bounds a hang. Only the rate test uses a fake clock, and only because time is what it tests.
/// </summary>
public sealed class ListenerLimitTests
{
    /// <summary>Silent clients stay held for the whole test: the upgrade's step timeout never fires within it.</summary>
    private static Libp2pListener NewListener(InboundLimits limits, TimeProvider? time = null, int maxStreams = 512) => new(new Libp2pOptions
    {
        Identity = Identity.GenerateSecp256k1(),
        HandshakeTimeout = TimeSpan.FromHours(1),
        StreamTimeout = TimeSpan.FromHours(1),
        MaxInboundStreamsPerConnection = maxStreams,
    }, time: time, limits: limits);

    /// <summary>A raw TCP client from <paramref name="source"/>: admitted when the listener's first multistream bytes
    /// arrive (its upgrade started), refused when the connection ends before any byte.</summary>
    private static async Task<(Socket Socket, bool Admitted)> ProbeAsync(Libp2pListener listener, string source)
    {
        using var guard = new CancellationTokenSource(HangGuard);
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        await s.ConnectAsync(listener.LocalEndPoint!, guard.Token);
        int n;
        try
        {
            n = await s.ReceiveAsync(new byte[64], SocketFlags.None, guard.Token);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            n = 0;
        }
        return (s, n > 0);
    }

    /// <summary>Completes with the next connection whose place the listener frees.</summary>
    private static Task<IPEndPoint> NextReleaseAsync(Libp2pListener listener)
    {
        var released = new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnRelease(IPEndPoint ep)
        {
            listener.ConnectionReleased -= OnRelease;
            released.TrySetResult(ep);
        }
        listener.ConnectionReleased += OnRelease;
        return released.Task.WaitAsync(HangGuard);
    }

    private static async Task<List<bool>> ProbeAllAsync(Libp2pListener listener, List<Socket> held, params string[] sources)
    {
        var admitted = new List<bool>();
        foreach (var source in sources)
        {
            var (s, ok) = await ProbeAsync(listener, source);
            held.Add(s);
            admitted.Add(ok);
        }
        return admitted;
    }

    private static void Close(List<Socket> sockets)
    {
        foreach (var s in sockets) s.Dispose();
    }

    [Fact]
    public async Task Connections_over_the_per_ip_bound_are_closed_at_once_and_a_freed_place_is_taken_again()
    {
        await using var listener = NewListener(new InboundLimits { MaxConnections = 100, MaxConnectionsPerIp = 2, MaxNewConnectionsPerIpPerSecond = int.MaxValue });
        var refusals = new List<(IPAddress, InboundRefusal)>();
        listener.ConnectionRefused += (ep, why) => { lock (refusals) refusals.Add((ep.Address, why)); };
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var held = new List<Socket>();
        try
        {
            Assert.Equal([true, true, false, false, true], await ProbeAllAsync(listener, held, "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2"));
            lock (refusals) Assert.Equal([(IPAddress.Loopback, InboundRefusal.TooManyFromIp), (IPAddress.Loopback, InboundRefusal.TooManyFromIp)], refusals);
            Assert.Equal(2, listener.Refused(InboundRefusal.TooManyFromIp));
            Assert.Equal(0, listener.Refused(InboundRefusal.TooManyConnections));
            Assert.Equal(0, listener.Refused(InboundRefusal.RateLimited));
            Assert.Equal(3, listener.OpenConnections);

            // one of 127.0.0.1's connections ends: its place is free for the next one from that address
            var release = NextReleaseAsync(listener);
            held[0].Dispose();
            Assert.Equal(IPAddress.Loopback, (await release).Address);
            Assert.Equal(2, listener.OpenConnections);
            Assert.Equal([true, false], await ProbeAllAsync(listener, held, "127.0.0.1", "127.0.0.1"));
            Assert.Equal(3, listener.Refused(InboundRefusal.TooManyFromIp));
            Assert.Equal(3, listener.OpenConnections);
        }
        finally
        {
            Close(held);
        }
    }

    [Fact]
    public async Task Connections_over_the_total_bound_are_closed_at_once_whatever_their_address()
    {
        await using var listener = NewListener(new InboundLimits { MaxConnections = 3, MaxConnectionsPerIp = 100, MaxNewConnectionsPerIpPerSecond = int.MaxValue });
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var held = new List<Socket>();
        try
        {
            Assert.Equal([true, true, true, false, false], await ProbeAllAsync(listener, held, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.2"));
            Assert.Equal(2, listener.Refused(InboundRefusal.TooManyConnections));
            Assert.Equal(0, listener.Refused(InboundRefusal.TooManyFromIp));
            Assert.Equal(3, listener.OpenConnections);

            var release = NextReleaseAsync(listener);
            held[1].Dispose();
            await release;
            Assert.Equal([true, false], await ProbeAllAsync(listener, held, "127.0.0.6", "127.0.0.7"));
            Assert.Equal(3, listener.Refused(InboundRefusal.TooManyConnections));
            Assert.Equal(3, listener.OpenConnections);
        }
        finally
        {
            Close(held);
        }
    }

    [Fact]
    public async Task New_connections_per_ip_follow_a_token_bucket_on_the_listeners_clock()
    {
        var time = new FakeTimeProvider();
        await using var listener = NewListener(new InboundLimits { MaxConnections = 100, MaxConnectionsPerIp = 100, MaxNewConnectionsPerIpPerSecond = 2 }, time);
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var held = new List<Socket>();
        try
        {
            // a full bucket of two, then nothing while the clock stands still; another address has its own bucket
            Assert.Equal([true, true, false, false, true], await ProbeAllAsync(listener, held, "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2"));
            Assert.Equal(2, listener.Refused(InboundRefusal.RateLimited));

            // half a second refills one token
            time.Advance(TimeSpan.FromMilliseconds(500));
            Assert.Equal([true, false], await ProbeAllAsync(listener, held, "127.0.0.1", "127.0.0.1"));

            // a long pause refills the bucket to its size, no more
            time.Advance(TimeSpan.FromSeconds(30));
            Assert.Equal([true, true, false], await ProbeAllAsync(listener, held, "127.0.0.1", "127.0.0.1", "127.0.0.1"));
            Assert.Equal(4, listener.Refused(InboundRefusal.RateLimited));
            Assert.Equal(0, listener.Refused(InboundRefusal.TooManyFromIp));
            Assert.Equal(0, listener.Refused(InboundRefusal.TooManyConnections));
            Assert.Equal(6, listener.OpenConnections);
        }
        finally
        {
            Close(held);
        }
    }

    [Fact]
    public async Task Streams_over_the_per_connection_bound_are_reset_and_a_finished_stream_frees_its_place()
    {
        const string Hold = "/clp2p/test/hold/1.0.0";
        await using var listener = NewListener(InboundLimits.Unbounded, maxStreams: 3);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.Handle(Hold, async (stream, connection, ct) => await release.Task.WaitAsync(ct));
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        using var dialer = new Libp2pDialer(new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), HandshakeTimeout = TimeSpan.FromMinutes(1), StreamTimeout = TimeSpan.FromMinutes(1) });
        using var guard = new CancellationTokenSource(HangGuard);
        await using var client = await dialer.DialAsync(listener.LocalEndPoint!, listener.PeerId, guard.Token);
        await using var served = await listener.AcceptAsync(guard.Token);

        // one stream at a time: each is counted on the listener's side before its negotiation ends
        var open = new List<Libp2pStream>();
        for (int i = 0; i < 3; i++) open.Add(await client.OpenStreamAsync([Hold], guard.Token));
        await Assert.ThrowsAsync<DialException>(() => client.OpenStreamAsync([Hold], guard.Token));
        Assert.Equal(1, served.InboundStreamsRefused);
        Assert.False(client.IsClosed);

        // the handlers end: each stream's place is freed before its end reaches us, so a new stream is served
        release.SetResult();
        foreach (var s in open)
        {
            var buffer = new byte[16];
            try
            {
                while (await s.ReadAsync(buffer, guard.Token) > 0) { }
            }
            catch (IOException)
            {
                // a reset end is an end too
            }
            await s.DisposeAsync();
        }
        var again = await client.OpenStreamAsync([Hold], guard.Token);
        Assert.Equal(Hold, again.Protocol);
        await again.DisposeAsync();
        Assert.Equal(1, served.InboundStreamsRefused);
        Assert.Equal(1, listener.OpenConnections);
    }
}
