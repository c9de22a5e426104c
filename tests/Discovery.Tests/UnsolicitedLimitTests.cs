using System.Net;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Handler;
using ClP2p.Discovery.Messages;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Discovery.Tests;

/// <summary>
/// <see cref="Discv5Options.MaxUnsolicitedPerIpPerSecond"/>: handshakes and requests from one source IP are handled up
/// to the budget of each second of the node's clock, the rest dropped and counted; responses to our own requests never
/// count; loopback is exempt unless asked. Time is what these tests test: every one runs on a fake clock.
/// </summary>
public sealed class UnsolicitedLimitTests
{
    private static readonly IPAddress A = IPAddress.Parse("198.51.100.7");

    /// <summary>An address of 203.0.113.0/24 (no traffic is sent to it) whose slot is not <paramref name="other"/>'s.</summary>
    private static IPAddress OtherSlotThan(IPAddress other)
    {
        for (int i = 1; ; i++)
        {
            var ip = IPAddress.Parse($"203.0.113.{i}");
            if (UnsolicitedLimiter.SlotOf(ip) != UnsolicitedLimiter.SlotOf(other)) return ip;
        }
    }

    [Fact]
    public void Limiter_allows_the_budget_per_ip_in_each_second_of_its_clock()
    {
        var time = new FakeTimeProvider();
        var limiter = new UnsolicitedLimiter(3, limitLoopback: false, time);
        var b = OtherSlotThan(A);
        Assert.Equal([true, true, true, false, false], Enumerable.Range(0, 5).Select(_ => limiter.Allow(A, time.GetTimestamp())));
        // another address has its own budget
        Assert.True(limiter.Allow(b, time.GetTimestamp()));
        // the next second of the clock starts a new budget
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([true, true, true, false], Enumerable.Range(0, 4).Select(_ => limiter.Allow(A, time.GetTimestamp())));
    }

    [Fact]
    public void Limiter_exempts_loopback_unless_asked_and_int_max_is_no_limit()
    {
        var time = new FakeTimeProvider();
        long now = time.GetTimestamp();
        var exempt = new UnsolicitedLimiter(1, limitLoopback: false, time);
        Assert.All(Enumerable.Range(0, 100), _ => Assert.True(exempt.Allow(IPAddress.Loopback, now)));
        Assert.All(Enumerable.Range(0, 100), _ => Assert.True(exempt.Allow(IPAddress.Parse("127.3.4.5"), now)));
        Assert.All(Enumerable.Range(0, 100), _ => Assert.True(exempt.Allow(IPAddress.IPv6Loopback, now)));
        var strict = new UnsolicitedLimiter(1, limitLoopback: true, time);
        Assert.True(strict.Allow(IPAddress.Loopback, now));
        Assert.False(strict.Allow(IPAddress.Loopback, now));
        var unlimited = new UnsolicitedLimiter(int.MaxValue, limitLoopback: true, time);
        Assert.All(Enumerable.Range(0, 10_000), _ => Assert.True(unlimited.Allow(A, now)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UnsolicitedLimiter(0, false, time));
    }

    [Fact]
    public void Limiter_counts_ipv6_per_64_prefix()
    {
        // one host may hold a whole /64: per address it would escape any budget
        var time = new FakeTimeProvider();
        var limiter = new UnsolicitedLimiter(2, limitLoopback: false, time);
        long now = time.GetTimestamp();
        Assert.True(limiter.Allow(IPAddress.Parse("2001:db8:1:2::1"), now));
        Assert.True(limiter.Allow(IPAddress.Parse("2001:db8:1:2:ffff::7"), now));
        Assert.False(limiter.Allow(IPAddress.Parse("2001:db8:1:2:abcd::9"), now));
        IPAddress other = IPAddress.Parse("2001:db8:1:3::1");
        for (int i = 4; UnsolicitedLimiter.SlotOf(other) == UnsolicitedLimiter.SlotOf(IPAddress.Parse("2001:db8:1:2::1")); i++) other = IPAddress.Parse($"2001:db8:1:{i:x}::1");
        Assert.True(limiter.Allow(other, now));
    }

    [Fact]
    public void Limiter_shares_one_budget_between_addresses_of_one_slot()
    {
        // the price of a lock-free table of fixed size: two addresses in one slot share a budget
        var time = new FakeTimeProvider();
        var limiter = new UnsolicitedLimiter(2, limitLoopback: false, time);
        IPAddress? twin = null;
        for (int i = 0; twin is null; i++)
        {
            var ip = new IPAddress(BitConverter.GetBytes(0x0A000000 + i));
            // loopback is never limited (limitLoopback: false), so a loopback twin would consume no budget
            if (!ip.Equals(A) && !IPAddress.IsLoopback(ip) && UnsolicitedLimiter.SlotOf(ip) == UnsolicitedLimiter.SlotOf(A)) twin = ip;
        }
        long now = time.GetTimestamp();
        Assert.True(limiter.Allow(A, now));
        Assert.True(limiter.Allow(twin, now));
        Assert.False(limiter.Allow(A, now));
    }

    [Fact]
    public void Limiter_counts_exactly_under_concurrent_callers()
    {
        var time = new FakeTimeProvider();
        var limiter = new UnsolicitedLimiter(1_000, limitLoopback: false, time);
        long now = time.GetTimestamp();
        int allowed = 0;
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            for (int i = 0; i < 1_000; i++)
                if (limiter.Allow(A, now)) Interlocked.Increment(ref allowed);
        });
        Assert.Equal(1_000, allowed);
    }

    // the clock moves only when a test says so: no challenge or request may expire meanwhile
    private static Task<Discv5Node> StartNode(TimeProvider time, int perSecond, bool limitLoopback) =>
        TestNodes.Create(time: time, unsolicitedPerSecond: perSecond, rateLimitLoopback: limitLoopback,
            challengeTimeout: TimeSpan.FromHours(1), requestTimeout: TimeSpan.FromHours(1), retries: 1).StartedAsync();

    private const string Limited = "unsolicited-rate-limited";

    /// <summary>Opens a session with <paramref name="n"/>: a random packet, its WHOAREYOU, a handshake carrying PING 1.</summary>
    private static async Task<Sessions.Session> HandshakeAsync(Discv5Node n, RawPeer raw)
    {
        raw.Send(raw.RandomPacket(n.LocalId), n.LocalEndPoint);
        var way = (await raw.ReceiveAsync(HangGuard))!;
        var (hs, s) = raw.Handshake(way, n.LocalEnr, MessageCodec.Encode(new PingMessage(new RequestId(1, 1), 1)), raw.Enr);
        raw.Send(hs, n.LocalEndPoint);
        Assert.IsType<PongMessage>(raw.Decrypt((await raw.ReceiveAsync(HangGuard))!, s));
        return s;
    }

    private static async Task<PongMessage> PingAsync(Discv5Node n, RawPeer raw, Sessions.Session s, ulong id)
    {
        raw.Send(raw.Encrypt(n.LocalId, s, new PingMessage(new RequestId(id, 1), 1)), n.LocalEndPoint);
        return Assert.IsType<PongMessage>(raw.Decrypt((await raw.ReceiveAsync(HangGuard))!, s));
    }

    [Fact]
    public async Task Node_drops_handshakes_and_requests_over_the_budget_and_counts_them_but_never_responses()
    {
        var time = new FakeTimeProvider();
        await using var n = await StartNode(time, perSecond: 3, limitLoopback: true);
        using var raw = new RawPeer();
        // the handshake (with its PING) is one, two more PINGs fill the budget of this second
        var s = await HandshakeAsync(n, raw);
        await PingAsync(n, raw, s, 2);
        await PingAsync(n, raw, s, 3);
        raw.Send(raw.Encrypt(n.LocalId, s, new PingMessage(new RequestId(4, 1), 1)), n.LocalEndPoint);
        raw.Send(raw.Encrypt(n.LocalId, s, new FindNodeMessage(new RequestId(5, 1), [0])), n.LocalEndPoint);
        await n.UntilAsync(() => n.DropCounts.GetValueOrDefault(Limited) == 2);

        // our own request's answer is a response: handled whatever the budget
        var ping = n.PingAsync(raw.Enr);
        var request = Assert.IsType<PingMessage>(raw.Decrypt((await raw.ReceiveAsync(HangGuard))!, s));
        raw.Send(raw.Encrypt(n.LocalId, s, new PongMessage(request.RequestId, raw.Enr.Seq, IPAddress.Loopback, n.LocalEndPoint.Port)), n.LocalEndPoint);
        await ping.WaitAsync(HangGuard).Ok();
        Assert.Equal(2, n.DropCounts.GetValueOrDefault(Limited));

        // the next second of the node's clock: served again
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(IPAddress.Loopback, (await PingAsync(n, raw, s, 6)).RecipientIp);
        Assert.Equal(2, n.DropCounts.GetValueOrDefault(Limited));
        s.Dispose();
    }

    [Fact]
    public async Task Node_limits_handshakes_before_their_crypto_and_keeps_the_challenge_for_a_retry()
    {
        var time = new FakeTimeProvider();
        await using var n = await StartNode(time, perSecond: 1, limitLoopback: true);
        using var first = new RawPeer();
        var s1 = await HandshakeAsync(n, first);
        // a second peer from the same address: its challenge is issued (WHOAREYOU has its own limit), its handshake is over budget
        using var second = new RawPeer();
        second.Send(second.RandomPacket(n.LocalId), n.LocalEndPoint);
        var way = (await second.ReceiveAsync(HangGuard))!;
        var (hs, s2) = second.Handshake(way, n.LocalEnr, MessageCodec.Encode(new PingMessage(new RequestId(1, 1), 1)), second.Enr);
        second.Send(hs, n.LocalEndPoint);
        await n.UntilAsync(() => n.DropCounts.GetValueOrDefault(Limited) == 1);
        Assert.Equal(1, n.HandshakesInbound);
        Assert.Equal(1, n.PendingChallengeCount);
        // a second later the same handshake answers the challenge still pending
        time.Advance(TimeSpan.FromSeconds(1));
        second.Send(hs, n.LocalEndPoint);
        Assert.IsType<PongMessage>(second.Decrypt((await second.ReceiveAsync(HangGuard))!, s2));
        Assert.Equal(2, n.HandshakesInbound);
        s1.Dispose();
        s2.Dispose();
    }

    [Fact]
    public async Task Loopback_is_not_limited_by_default()
    {
        var time = new FakeTimeProvider();
        await using var n = await StartNode(time, perSecond: 1, limitLoopback: false);
        using var raw = new RawPeer();
        var s = await HandshakeAsync(n, raw);
        for (ulong i = 2; i < 22; i++) await PingAsync(n, raw, s, i);
        Assert.False(n.DropCounts.ContainsKey(Limited));
        s.Dispose();
    }
}
