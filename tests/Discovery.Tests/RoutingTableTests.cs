using System.Net;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Table;

namespace ClP2p.Discovery.Tests;

public class RoutingTableTests
{
    private static readonly NodeId Local = NodeId.FromHex("aaaa8419e9f49d0083561b48287df592939a8d19947d8c0ef88f2a4856a69fbb");

    private static List<Enr> At(int distance, int count, ulong seq = 1)
    {
        var list = new List<Enr>();
        var key = new byte[32];
        while (list.Count < count)
        {
            Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, key);
            var e = new EnrBuilder().WithSeq(seq).WithIp(IPAddress.Parse("1.2.3.4")).WithUdp(30303).Build(key);
            if (NodeId.LogDistance(Local, e.NodeId) == distance) list.Add(e);
        }
        return list;
    }

    [Fact]
    public void Full_bucket_sends_newcomers_to_the_replacement_cache_and_removal_promotes_one()
    {
        var t = new RoutingTable(Local);
        var nodes = At(256, 18);
        for (int i = 0; i < 16; i++) Assert.Equal(TableResult.Added, t.AddOrUpdate(nodes[i], i));
        Assert.Equal(TableResult.BucketFull, t.AddOrUpdate(nodes[16], 16));
        Assert.Equal(TableResult.BucketFull, t.AddOrUpdate(nodes[17], 17));
        Assert.Equal(16, t.Count);
        Assert.Equal(2, t.Replacements(256).Count);
        Assert.Equal(nodes[0].NodeId, t.LeastRecentlySeen(256)!.NodeId);
        Assert.True(t.Remove(nodes[0].NodeId, 18));
        Assert.Equal(16, t.Count);
        Assert.NotNull(t.Get(nodes[17].NodeId)); // most recent replacement promoted
        Assert.Null(t.Get(nodes[0].NodeId));
    }

    [Fact]
    public void Update_keeps_the_higher_seq_and_marks_the_node_recently_seen()
    {
        var t = new RoutingTable(Local);
        var a = At(255, 2);
        t.AddOrUpdate(a[0], 0);
        t.AddOrUpdate(a[1], 1);
        Assert.Equal(a[0].NodeId, t.LeastRecentlySeen(255)!.NodeId);
        Assert.Equal(TableResult.Updated, t.AddOrUpdate(a[0], 2));
        Assert.Equal(a[1].NodeId, t.LeastRecentlySeen(255)!.NodeId);
    }

    [Fact]
    public void Closest_orders_by_xor_distance_and_local_id_is_ignored()
    {
        var t = new RoutingTable(Local);
        var all = At(256, 5).Concat(At(254, 3)).Concat(At(250, 2)).ToList();
        foreach (var e in all) t.AddOrUpdate(e, 0);
        Assert.Equal(TableResult.Ignored, t.AddOrUpdate(new EnrBuilder().Build(Hex.B("eef77acb6c6a6eebc5b363a475ac583ec7eccdb42b6481424c60f59aa326547f")), 0));
        var target = all[3].NodeId;
        var closest = t.Closest(target, 4);
        Assert.Equal(target, closest[0].NodeId);
        for (int i = 1; i < closest.Count; i++) Assert.True(NodeId.CompareDistance(target, closest[i - 1].NodeId, closest[i].NodeId) < 0);
        Assert.Equal(3, t.Bucket(254).Count);
        Assert.Equal([250, 254, 256], t.NonEmptyDistances().ToArray());
    }
}
