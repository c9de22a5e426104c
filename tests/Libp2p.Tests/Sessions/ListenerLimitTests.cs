using System.Net;
using System.Net.Sockets;
using ClP2p.Libp2p.Crypto;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>A listener open to anyone holds what its <see cref="InboundLimits"/> allow and closes the rest at once.</summary>
public sealed class ListenerLimitTests
{
    private static Libp2pListener NewListener(InboundLimits limits, TimeProvider? time = null) => new(new Libp2pOptions
    {
        Identity = Identity.GenerateSecp256k1(),
        // the held connections never speak: they stay held for the whole test
        HandshakeTimeout = TimeSpan.FromMinutes(5),
    }, time: time, limits: limits);

    /// <summary>Opens <paramref name="count"/> silent connections one after the other, then waits until
    /// <paramref name="closed"/> of them were closed by the listener; returns the indexes of the closed ones.</summary>
    private static async Task<(List<Socket> All, HashSet<int> Closed)> ConnectAsync(IPEndPoint at, int count, int closed)
    {
        var all = new List<Socket>();
        var reads = new List<Task<int>>();
        for (int i = 0; i < count; i++)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await s.ConnectAsync(at);
            all.Add(s);
            reads.Add(s.ReceiveAsync(new byte[1], SocketFlags.None));
        }
        var done = new HashSet<int>();
        while (done.Count < closed)
        {
            var t = await Task.WhenAny(reads.Where((_, i) => !done.Contains(i))).WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Equal(0, await t);   // closed, nothing sent
            done.Add(reads.IndexOf(t));
        }
        return (all, done);
    }

    [Fact]
    public async Task Connections_over_the_per_ip_bound_are_closed_at_once_and_counted()
    {
        await using var listener = NewListener(new InboundLimits { MaxConnections = 100, MaxConnectionsPerIp = 2, MaxNewConnectionsPerIpPerSecond = 1_000 });
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var (all, closed) = await ConnectAsync(listener.LocalEndPoint!, 5, 3);
        try
        {
            Assert.Equal([2, 3, 4], closed.Order());
            Assert.Equal(3, listener.Refused(InboundRefusal.TooManyFromIp));
            Assert.Equal(2, listener.OpenConnections);
        }
        finally
        {
            foreach (var s in all) s.Dispose();
        }
    }

    [Fact]
    public async Task Connections_over_the_total_bound_are_closed_at_once_and_counted()
    {
        await using var listener = NewListener(new InboundLimits { MaxConnections = 3, MaxConnectionsPerIp = 100, MaxNewConnectionsPerIpPerSecond = 1_000 });
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var (all, closed) = await ConnectAsync(listener.LocalEndPoint!, 5, 2);
        try
        {
            Assert.Equal([3, 4], closed.Order());
            Assert.Equal(2, listener.Refused(InboundRefusal.TooManyConnections));
        }
        finally
        {
            foreach (var s in all) s.Dispose();
        }
    }

    [Fact]
    public async Task New_connections_beyond_the_per_ip_rate_are_refused_until_the_bucket_refills()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var listener = NewListener(new InboundLimits { MaxConnections = 100, MaxConnectionsPerIp = 100, MaxNewConnectionsPerIpPerSecond = 2 }, time);
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var (first, closed) = await ConnectAsync(listener.LocalEndPoint!, 4, 2);
        Assert.Equal([2, 3], closed.Order());
        Assert.Equal(2, listener.Refused(InboundRefusal.RateLimited));
        time.Advance(TimeSpan.FromSeconds(1));   // two more tokens
        var (second, closedLater) = await ConnectAsync(listener.LocalEndPoint!, 3, 1);
        try
        {
            Assert.Equal([2], closedLater.Order());
            Assert.Equal(3, listener.Refused(InboundRefusal.RateLimited));
            Assert.Equal(4, listener.OpenConnections);
        }
        finally
        {
            foreach (var s in first.Concat(second)) s.Dispose();
        }
    }
}
