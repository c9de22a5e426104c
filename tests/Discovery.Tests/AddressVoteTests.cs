using System.Collections.Concurrent;
using System.Net;

namespace ClP2p.Discovery.Tests;

/// <summary>The local record's address from PONG votes (sigp "ip_votes", geth ipTracker), and inbound contacts reported.</summary>
public sealed class AddressVoteTests
{
    private static Discv5Node Voter(IPAddress? external = null, Action<InboundContact>? inbound = null) => new(new Discv5Options
    {
        PrivateKey = TestNodes.NewKey(),
        BindEndPoint = new IPEndPoint(IPAddress.Any, 0),
        AdvertisedIp = external,
        AdvertisedTcpPort = 9000,
        AddressVotesNeeded = 3,
        AcceptObservedAddress = IPAddress.IsLoopback,
        ContactFilter = ContactFilters.PublicOrLoopback,
        LivenessInterval = TimeSpan.Zero,
        InboundContact = inbound,
    });

    [Fact]
    public async Task The_record_takes_the_endpoint_once_three_peers_agree_on_it()
    {
        await using var me = Voter();
        await me.StartAsync();
        var peers = new List<Discv5Node>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var p = TestNodes.Create();
                peers.Add(p);
                await p.StartAsync();
            }
            ulong seq = me.LocalEnr.Seq;
            Assert.Null(me.LocalEnr.Ip);
            await me.PingAsync(peers[0].LocalEnr).Ok();
            await me.PingAsync(peers[1].LocalEnr).Ok();
            await me.PingAsync(peers[1].LocalEnr).Ok();   // one peer's second vote is still one vote
            Assert.Null(me.LocalEnr.Ip);
            Assert.Equal(seq, me.LocalEnr.Seq);
            await me.PingAsync(peers[2].LocalEnr).Ok();
            var record = me.LocalEnr;
            Assert.Equal(IPAddress.Loopback, record.Ip);
            Assert.Equal(me.LocalEndPoint.Port, record.Udp);
            Assert.Equal(9000, record.Tcp);
            Assert.Equal(seq + 1, record.Seq);
            Assert.True(Enr.TryDecode(record.Raw.Span, out _, out _));   // signed by the node's key
        }
        finally
        {
            foreach (var p in peers) await p.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_given_external_ip_is_never_replaced_by_votes()
    {
        var external = IPAddress.Parse("203.0.113.7");
        await using var me = Voter(external);
        await me.StartAsync();
        var peers = new List<Discv5Node>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var p = TestNodes.Create();
                peers.Add(p);
                await p.StartAsync();
                await me.PingAsync(p.LocalEnr).Ok();
            }
            Assert.Equal(external, me.LocalEnr.Ip);
            Assert.Equal(9000, me.LocalEnr.Tcp);
        }
        finally
        {
            foreach (var p in peers) await p.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_peer_that_contacts_us_is_reported_once_per_session_with_its_record_and_address()
    {
        var contacts = new ConcurrentQueue<InboundContact>();
        await using var me = Voter(IPAddress.Loopback, contacts.Enqueue);
        await using var peer = TestNodes.Create();
        await me.StartAsync();
        await peer.StartAsync();
        await peer.PingAsync(me.LocalEnr).Ok();
        await peer.FindNodeAsync(me.LocalEnr, [0]).Ok();
        await peer.PingAsync(me.LocalEnr).Ok();
        var c = Assert.Single(contacts);
        Assert.Equal(peer.LocalId, c.NodeId);
        Assert.True(c.Handshake);
        Assert.Equal(peer.LocalEnr.Raw.ToArray(), c.Record!.Raw.ToArray());
        Assert.Equal(peer.LocalEndPoint, c.From);
        // our own requests to a node are not contacts from it
        await me.PingAsync(peer.LocalEnr).Ok();
        Assert.Single(contacts);
    }
}
