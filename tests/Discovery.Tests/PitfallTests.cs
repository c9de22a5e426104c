using Microsoft.Extensions.Time.Testing;
using System.Net;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Packets;

namespace ClP2p.Discovery.Tests;

/// <summary>The discv5 handshake and NODES pitfalls other implementations met (each test names its upstream issue), against a running node driven by a raw peer.</summary>
public sealed class PitfallTests
{
    private static readonly byte[] PingPt = MessageCodec.Encode(new PingMessage(new RequestId(7, 1), 1));

    /// <summary>
    /// A node on loopback. Its requests wait <paramref name="requestTimeout"/> (default 5 s) for an answer: long enough
    /// that a raw peer's answer arrives in time on two busy cores (other test classes run alongside; a 700 ms timeout
    /// once fired first and the node's retry left the answered session behind). Tests about a request that times out
    /// pass a short one.
    /// </summary>
    private static Task<Discv5Node> StartNode(int whoAreYouPerSecond = 100, int maxChallenges = 4096, TimeSpan? requestTimeout = null, TimeProvider? time = null) =>
        TestNodes.Create(requestTimeout: requestTimeout ?? TimeSpan.FromSeconds(5), retries: 1, time: time,
            whoAreYouPerSecond: whoAreYouPerSecond, maxPendingChallenges: maxChallenges).StartedAsync();

    [Fact]
    public async Task Second_packet_before_handshake_gets_the_same_whoareyou_bytes()
    {
        await using var n = await StartNode();
        using var raw = new RawPeer();
        raw.Send(raw.RandomPacket(n.LocalId), n.LocalEndPoint);
        var w1 = await raw.ReceiveAsync();
        raw.Send(raw.RandomPacket(n.LocalId), n.LocalEndPoint);
        var w2 = await raw.ReceiveAsync();
        Assert.NotNull(w1);
        Assert.Equal(w1, w2);
        Assert.Equal(1, n.PendingChallengeCount);
    }

    [Fact]
    public async Task Handshake_with_record_establishes_session_and_pong_carries_local_seq_and_observed_address()
    {
        await using var n = await StartNode();
        using var raw = new RawPeer();
        raw.Send(raw.RandomPacket(n.LocalId), n.LocalEndPoint);
        var way = (await raw.ReceiveAsync())!;
        Assert.True(raw.TryDecode(way, out var flag, out var header, out _, out _));
        Assert.Equal(PacketFlag.WhoAreYou, flag);
        Assert.Equal(0UL, RawPeer.WhoAreYouSeq(header)); // n does not know us: asks for our record
        var (hs, session) = raw.Handshake(way, n.LocalEnr, PingPt, raw.Enr);
        raw.Send(hs, n.LocalEndPoint);
        var pong = Assert.IsType<PongMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session));
        Assert.Equal(n.LocalEnr.Seq, pong.EnrSeq);
        Assert.Equal(raw.EndPoint, new IPEndPoint(pong.RecipientIp, pong.RecipientPort));
        Assert.Equal(1, n.HandshakesInbound);
        Assert.Contains(n.TableNodes(), e => e.NodeId == raw.Id);
        session.Dispose();
    }

    [Fact]
    public async Task Node_whose_record_names_another_endpoint_is_answered_but_not_tabled()
    {
        await using var n = await StartNode();
        using var raw = new RawPeer();
        var elsewhere = new EnrBuilder().WithSeq(2).WithIp(IPAddress.Loopback).WithUdp(raw.EndPoint.Port + 1).Build(raw.Key);
        raw.Send(raw.RandomPacket(n.LocalId), n.LocalEndPoint);
        var (hs, session) = raw.Handshake((await raw.ReceiveAsync())!, n.LocalEnr, PingPt, elsewhere);
        raw.Send(hs, n.LocalEndPoint);
        Assert.IsType<PongMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session));
        Assert.Equal(0, n.TableCount);
        Assert.Equal(2UL, n.GetKnownRecord(raw.Id)!.Seq);
        session.Dispose();
    }

    [Fact]
    public async Task Handshake_with_record_of_another_node_is_rejected()
    {
        await using var n = await StartNode();
        using var raw = new RawPeer();
        using var other = new RawPeer();
        raw.Send(raw.RandomPacket(n.LocalId), n.LocalEndPoint);
        var way = (await raw.ReceiveAsync())!;
        var (hs, session) = raw.Handshake(way, n.LocalEnr, PingPt, other.Enr);
        raw.Send(hs, n.LocalEndPoint);
        Assert.Null(await raw.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
        Assert.Equal(1, n.DropCounts["handshake-record-wrong-id"]);
        Assert.Equal(0, n.SessionCount);
        session.Dispose();
    }

    [Fact]
    public async Task Handshake_without_record_from_unknown_node_is_rejected()
    {
        await using var n = await StartNode();
        using var raw = new RawPeer();
        raw.Send(raw.RandomPacket(n.LocalId), n.LocalEndPoint);
        var way = (await raw.ReceiveAsync())!;
        var (hs, session) = raw.Handshake(way, n.LocalEnr, PingPt, null);
        raw.Send(hs, n.LocalEndPoint);
        await n.UntilAsync(() => n.DropCounts.ContainsKey("handshake-unknown-node"));
        Assert.Equal(1, n.DropCounts["handshake-unknown-node"]);
        session.Dispose();
    }

    [Fact]
    public async Task Whoareyou_for_unknown_nonce_is_ignored_and_counted()
    {
        await using var n = await StartNode();
        using var raw = new RawPeer();
        var buf = new byte[63];
        PacketCodec.EncodeWhoAreYou(buf, n.LocalId, RawPeer.Rand(16), RawPeer.Rand(12), RawPeer.Rand(16), 0, new byte[63]);
        raw.Send(buf, n.LocalEndPoint);
        Assert.Null(await raw.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
        Assert.Equal(1, n.DropCounts["who-are-you-unsolicited"]);
    }

    [Fact]
    public async Task Old_session_keys_still_decrypt_after_a_new_handshake()
    {
        await using var n = await StartNode();
        using var raw = new RawPeer();
        raw.Send(raw.RandomPacket(n.LocalId), n.LocalEndPoint);
        var (hs1, s1) = raw.Handshake((await raw.ReceiveAsync())!, n.LocalEnr, PingPt, raw.Enr);
        raw.Send(hs1, n.LocalEndPoint);
        Assert.IsType<PongMessage>(raw.Decrypt((await raw.ReceiveAsync())!, s1));
        // a second handshake (as in a race): random packet -> WHOAREYOU -> handshake with new keys
        raw.Send(raw.RandomPacket(n.LocalId), n.LocalEndPoint);
        var (hs2, s2) = raw.Handshake((await raw.ReceiveAsync())!, n.LocalEnr, PingPt, raw.Enr);
        raw.Send(hs2, n.LocalEndPoint);
        Assert.IsType<PongMessage>(raw.Decrypt((await raw.ReceiveAsync())!, s2));
        // a packet sealed with the first session's key is still understood (sigp discv5 PR #122, Session.old_keys)
        raw.Send(raw.Encrypt(n.LocalId, s1, new PingMessage(new RequestId(9, 1), 1)), n.LocalEndPoint);
        var pong = Assert.IsType<PongMessage>(raw.Decrypt((await raw.ReceiveAsync())!, s2));
        Assert.Equal(9UL, pong.RequestId.Value);
        s1.Dispose(); s2.Dispose();
    }

    [Fact]
    public async Task Whoareyou_in_answer_to_our_handshake_fails_the_request()
    {
        await using var n = await StartNode();
        using var raw = new RawPeer();
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var first = (await raw.ReceiveAsync())!;
        var (way, _) = raw.WhoAreYouFor(first, n.LocalId, 0);
        raw.Send(way, n.LocalEndPoint);
        var hs = (await raw.ReceiveAsync())!;
        Assert.True(raw.TryDecode(hs, out var flag, out _, out _, out _));
        Assert.Equal(PacketFlag.Handshake, flag);
        var (again, _) = raw.WhoAreYouFor(hs, n.LocalId, 0);
        raw.Send(again, n.LocalEndPoint);
        Assert.Equal(RequestFailure.HandshakeRejected, await req.Failure());
    }

    [Theory]
    [InlineData(0UL)]                    // the peer knows no record of us
    [InlineData(0x0100000000000000UL)]   // @chainsafe/discv5 11 left-aligns enr-seq: seq 1 arrives as 2^56
    public async Task Handshake_carries_our_record_whenever_whoareyou_enr_seq_is_not_ours(ulong claimedSeq)
    {
        await using var n = await StartNode(requestTimeout: TimeSpan.FromSeconds(2)); // nobody answers the FINDNODE: it times out
        using var raw = new RawPeer();
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var first = (await raw.ReceiveAsync())!;
        var (way, challenge) = raw.WhoAreYouFor(first, n.LocalId, claimedSeq);
        raw.Send(way, n.LocalEndPoint);
        byte[] hs = (await raw.ReceiveAsync())!;
        Assert.True(raw.TryDecode(hs, out var flag, out var header, out _, out _));
        Assert.Equal(PacketFlag.Handshake, flag);
        var auth = new HandshakeAuthData(header.AsSpan(16 + 23));
        Assert.True(Enr.TryDecode(auth.Record, out var record, out _));
        Assert.Equal(n.LocalEnr.Raw.ToArray(), record!.Raw.ToArray());
        _ = raw.AcceptHandshake(hs, challenge);
        Assert.Equal(RequestFailure.Timeout, await req.Failure());   // nobody answers the FINDNODE: it times out
    }

    [Fact]
    public async Task Handshake_leaves_the_record_out_when_the_peer_knows_our_seq()
    {
        await using var n = await StartNode(requestTimeout: TimeSpan.FromSeconds(2)); // nobody answers the FINDNODE: it times out
        using var raw = new RawPeer();
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var first = (await raw.ReceiveAsync())!;
        var (way, _) = raw.WhoAreYouFor(first, n.LocalId, n.LocalEnr.Seq);
        raw.Send(way, n.LocalEndPoint);
        byte[] hs = (await raw.ReceiveAsync())!;
        Assert.True(raw.TryDecode(hs, out _, out var header, out _, out _));
        Assert.True(new HandshakeAuthData(header.AsSpan(16 + 23)).Record.IsEmpty);
        Assert.Equal(RequestFailure.Timeout, await req.Failure());
    }

    /// <summary>Records signed by fresh keys whose node id is at log distance d from the given id.</summary>
    internal static List<Enr> RecordsAt(NodeId from, int d, int count)
    {
        var list = new List<Enr>();
        var key = new byte[32];
        while (list.Count < count)
        {
            Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, key);
            var e = new EnrBuilder().WithIp(IPAddress.Parse("1.2.3.4")).WithUdp(30303).Build(key);
            if (NodeId.LogDistance(e.NodeId, from) == d) list.Add(e);
        }
        return list;
    }

    internal static async Task<(RawPeer.HandshakeResult Hs, FindNodeMessage Request)> ServeHandshake(Discv5Node n, RawPeer raw)
    {
        var first = (await raw.ReceiveAsync())!;
        var (way, challenge) = raw.WhoAreYouFor(first, n.LocalId, 0);
        raw.Send(way, n.LocalEndPoint);
        byte[] p;
        do { p = (await raw.ReceiveAsync())!; } while (raw.TryDecode(p, out var f, out _, out _, out _) && f != PacketFlag.Handshake);
        var (m, s) = raw.AcceptHandshake(p, challenge);
        return (new RawPeer.HandshakeResult(s, way, p), Assert.IsType<FindNodeMessage>(m));
    }

    [Fact]
    public async Task Nodes_flood_is_trimmed_to_requested_distance_bucket_size_and_total()
    {
        await using var n = await StartNode();
        using var raw = new RawPeer();
        var good = RecordsAt(raw.Id, 256, 20);
        var wrong = RecordsAt(raw.Id, 250, 1);
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, fn) = await ServeHandshake(n, raw);
        Assert.Equal([256], fn.Distances);
        ReadOnlyMemory<byte> R(Enr e) => e.Raw;
        // total = 3: 20 records at 256 (16 kept), one at a wrong distance, one duplicate; then a 4th message beyond total
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 3, [.. good.Take(6).Select(R), R(wrong[0]), R(good[0])])), n.LocalEndPoint);
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 3, [.. good.Skip(6).Take(7).Select(R)])), n.LocalEndPoint);
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 3, [.. good.Skip(13).Select(R)])), n.LocalEndPoint);
        var res = await req.Ok();
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 3, [R(good[0])])), n.LocalEndPoint);
        Assert.Equal(16, res.Count);
        Assert.All(res, e => Assert.Equal(256, NodeId.LogDistance(e.NodeId, raw.Id)));
        Assert.Equal(16, res.Select(e => e.NodeId).Distinct().Count());
        var rd = n.RecordDropCounts;
        Assert.Equal(1, rd["wrong-distance"]);
        Assert.Equal(1, rd["duplicate"]);
        Assert.Equal(4, rd["bucket-overflow"]);
        await n.UntilAsync(() => n.DropCounts.ContainsKey("response-unknown-request"));
        Assert.Equal(1, n.DropCounts["response-unknown-request"]);
        hs.Session.Dispose();
    }

    [Fact]
    public async Task Nodes_for_distance_zero_keeps_exactly_the_senders_own_record()
    {
        await using var n = await StartNode();
        using var raw = new RawPeer();
        var other = RecordsAt(raw.Id, 256, 1)[0];
        var req = n.FindNodeAsync(raw.Enr, [0]);
        var (hs, fn) = await ServeHandshake(n, raw);
        var newer = new EnrBuilder().WithSeq(9).WithIp(IPAddress.Loopback).WithUdp(raw.EndPoint.Port).Build(raw.Key);
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 1, [other.Raw, newer.Raw, newer.Raw])), n.LocalEndPoint);
        var res = await req.Ok();
        Assert.Equal(newer.Raw.ToArray(), Assert.Single(res).Raw.ToArray());
        Assert.Equal(9UL, n.GetKnownRecord(raw.Id)!.Seq);
        hs.Session.Dispose();
    }

    [Fact]
    public async Task Nodes_with_total_zero_completes_as_one_message()
    {
        // On a clock that never moves the request cannot time out: only the NODES message can end it.
        await using var n = await StartNode(time: new FakeTimeProvider());
        using var raw = new RawPeer();
        var req = n.FindNodeAsync(raw.Enr, [200]);
        var (hs, fn) = await ServeHandshake(n, raw);
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 0, [])), n.LocalEndPoint);
        Assert.Empty(await req.WaitAsync(HangGuard).Ok());
        hs.Session.Dispose();
    }

    [Fact]
    public async Task Served_nodes_has_total_one_when_empty_and_packs_16_records_into_packets()
    {
        await using var n = await StartNode();
        foreach (var e in RecordsAt(n.LocalId, 256, 20)) n.AddToTable(e);
        using var raw = new RawPeer();
        raw.Send(raw.RandomPacket(n.LocalId), n.LocalEndPoint);
        var way = (await raw.ReceiveAsync())!;
        var (hs, s) = raw.Handshake(way, n.LocalEnr, MessageCodec.Encode(new FindNodeMessage(new RequestId(1, 1), [3])), raw.Enr);
        raw.Send(hs, n.LocalEndPoint);
        var empty = Assert.IsType<NodesMessage>(raw.Decrypt((await raw.ReceiveAsync())!, s));
        Assert.Equal(1, empty.Total);
        Assert.Empty(empty.Records);
        raw.Send(raw.Encrypt(n.LocalId, s, new FindNodeMessage(new RequestId(2, 1), [256, 0])), n.LocalEndPoint);
        var first = Assert.IsType<NodesMessage>(raw.Decrypt((await raw.ReceiveAsync())!, s));
        var all = new List<ReadOnlyMemory<byte>>(first.Records);
        for (int i = 1; i < first.Total; i++) all.AddRange(Assert.IsType<NodesMessage>(raw.Decrypt((await raw.ReceiveAsync())!, s)).Records);
        Assert.Equal(16, all.Count); // 16 at most per answer
        Assert.InRange(first.Total, 2, 5); // fits geth's min(total, 5)
        s.Dispose();
    }

    [Fact]
    public async Task Whoareyou_is_rate_limited_per_ip()
    {
        await using var n = await StartNode(whoAreYouPerSecond: 5);
        using var raw = new RawPeer();
        for (int i = 0; i < 10; i++) raw.Send(raw.RandomPacket(n.LocalId, new NodeId(RawPeer.Rand(32))), n.LocalEndPoint);
        await n.UntilAsync(() => n.PacketsReceived == 10);
        Assert.True(n.DropCounts.GetValueOrDefault("who-are-you-rate-limited") >= 5 - 0, string.Join(",", n.DropCounts));
        Assert.True(n.PendingChallengeCount <= 5);
    }

    [Fact]
    public async Task Pending_challenges_are_bounded()
    {
        await using var n = await StartNode(maxChallenges: 8);
        using var raw = new RawPeer();
        for (int i = 0; i < 20; i++) raw.Send(raw.RandomPacket(n.LocalId, new NodeId(RawPeer.Rand(32))), n.LocalEndPoint);
        await n.UntilAsync(() => n.PacketsReceived == 20);
        Assert.Equal(8, n.PendingChallengeCount);
        Assert.Equal(12, n.DropCounts["challenges-full"]);
    }

    [Fact]
    public async Task Pending_requests_and_sessions_are_bounded()
    {
        await using var n = await TestNodes.Create(requestTimeout: TimeSpan.FromSeconds(1), retries: 1, maxPendingRequests: 2, maxSessions: 2).StartedAsync();
        using var silent = new RawPeer();
        var r1 = n.FindNodeAsync(silent.Enr, [256]);
        var r2 = n.FindNodeAsync(silent.Enr, [255]);
        Assert.Equal(RequestFailure.TooManyPending, await n.FindNodeAsync(silent.Enr, [254]).Failure());
        Assert.Equal(RequestFailure.Timeout, await r1.Failure());
        Assert.Equal(RequestFailure.Timeout, await r2.Failure());
        var peers = new List<Discv5Node>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var p = TestNodes.Create();
                await p.StartAsync();
                peers.Add(p);
                await n.PingAsync(p.LocalEnr).Ok();
                Assert.InRange(n.SessionCount, 1, 2);
            }
        }
        finally
        {
            foreach (var p in peers) await p.DisposeAsync();
        }
    }

    [Fact]
    public void Record_with_ip6_and_only_udp_has_no_udp_endpoint()
    {
        var key = TestNodes.NewKey();
        var e = new EnrBuilder().WithIp(IPAddress.Parse("2001:db8::1")).WithUdp(9000).Build(key);
        Assert.Null(e.UdpEndPoint);
        var e6 = new EnrBuilder().WithIp(IPAddress.Parse("2001:db8::1")).WithUdp6(9000).Build(key);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 9000), e6.UdpEndPoint);
    }

    [Fact]
    public void Pong_unmaps_ipv4_mapped_addresses()
    {
        var m = new PongMessage(new RequestId(1, 1), 1, IPAddress.Parse("::ffff:127.0.0.1"), 30303);
        Assert.True(MessageCodec.TryDecode(MessageCodec.Encode(m), out var back, out _));
        Assert.Equal(IPAddress.Loopback, ((PongMessage)back!).RecipientIp);
    }

    [Fact]
    public void Contact_filter_rejects_private_and_low_ports_by_default()
    {
        var key = TestNodes.NewKey();
        Assert.False(ContactFilters.PublicOnly(new EnrBuilder().WithIp(IPAddress.Parse("192.168.1.2")).WithUdp(9000).Build(key)));
        Assert.False(ContactFilters.PublicOnly(new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(9000).Build(key)));
        Assert.False(ContactFilters.PublicOnly(new EnrBuilder().WithIp(IPAddress.Parse("8.8.8.8")).WithUdp(53).Build(key)));
        Assert.True(ContactFilters.PublicOnly(new EnrBuilder().WithIp(IPAddress.Parse("8.8.8.8")).WithUdp(9000).Build(key)));
        Assert.True(ContactFilters.PublicOrLoopback(new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(9000).Build(key)));
    }

    [Theory]
    // geth CheckRelayIP: sender, relayed address, valid
    [InlineData("1.2.3.4", "5.6.7.8", true)]
    [InlineData("1.2.3.4", "192.168.1.2", false)]
    [InlineData("1.2.3.4", "10.0.0.1", false)]
    [InlineData("1.2.3.4", "127.0.0.1", false)]
    [InlineData("1.2.3.4", "0.0.0.0", false)]
    [InlineData("192.168.1.1", "10.0.0.1", true)]
    [InlineData("192.168.1.1", "127.0.0.1", false)]
    [InlineData("192.168.1.1", "5.6.7.8", true)]
    [InlineData("127.0.0.1", "192.168.1.2", true)]
    [InlineData("127.0.0.1", "127.0.0.2", true)]
    [InlineData("2001:4860::1", "fd00::1", false)]
    [InlineData("2001:4860::1", "::1", false)]
    [InlineData("fd00::2", "fd00::1", true)]
    [InlineData("::ffff:1.2.3.4", "::ffff:192.168.0.1", false)]
    public void Relayed_addresses_follow_the_sender_scope(string sender, string address, bool valid) =>
        Assert.Equal(valid, IpClass.IsRelayable(IPAddress.Parse(sender), IPAddress.Parse(address)));

    [Fact]
    public void A_record_is_trusted_only_if_every_address_it_carries_may_come_from_its_relayer()
    {
        Enr Rec(params string[] ips)
        {
            var key = TestNodes.NewKey();
            var b = new EnrBuilder().WithUdp(9000).WithUdp6(9000);
            foreach (var ip in ips) b.WithIp(IPAddress.Parse(ip));
            return b.Build(key);
        }
        var publicRelayer = Rec("1.2.3.4");
        var lanRelayer = Rec("192.168.1.1");
        Assert.True(ContactFilters.RelayTrusted(Rec("192.168.1.7"), null));               // a seed
        Assert.True(ContactFilters.RelayTrusted(Rec(), publicRelayer));                   // no address at all
        Assert.True(ContactFilters.RelayTrusted(Rec("5.6.7.8", "2001:4860::8"), publicRelayer));
        Assert.False(ContactFilters.RelayTrusted(Rec("192.168.1.7"), publicRelayer));
        Assert.False(ContactFilters.RelayTrusted(Rec("5.6.7.8", "fd00::7"), publicRelayer)); // one private address is enough
        Assert.True(ContactFilters.RelayTrusted(Rec("192.168.1.7"), lanRelayer));
        Assert.False(ContactFilters.RelayTrusted(Rec("127.0.0.1"), lanRelayer));
    }
}
