using ClP2p.Discovery.Crypto;

namespace ClP2p.Discovery.Tests;

public class NodeIdTests
{
    private static readonly NodeId A = NodeId.FromHex("aaaa8419e9f49d0083561b48287df592939a8d19947d8c0ef88f2a4856a69fbb");
    private static readonly NodeId B = NodeId.FromHex("bbbb9d047f0488c0b5a93c1c3f2d8bafc7c8ff337024a55434a0d0555de64db9");
    private static readonly NodeId E = NodeId.FromHex("a448f24c6d18e575453db13171562b71999873db5b286df957af199ec94617f7");

    [Fact]
    public void Log_distance_matches_vectors()
    {
        Assert.Equal(253, NodeId.LogDistance(A, B));
        Assert.Equal(252, NodeId.LogDistance(A, E));
        Assert.Equal(253, NodeId.LogDistance(B, E));
        Assert.Equal(0, NodeId.LogDistance(A, A));
        var flipped = A.ToByteArray(); flipped[31] ^= 1;
        Assert.Equal(1, NodeId.LogDistance(A, new NodeId(flipped)));
    }

    [Fact]
    public void Log_distance_is_bit_length_not_popcount()
    {
        var x = A.ToByteArray(); x[0] ^= 0x80; x[31] ^= 0xff;
        Assert.Equal(256, NodeId.LogDistance(A, new NodeId(x)));
    }

    [Fact]
    public void ToString_is_lowercase_hex_and_parses_back()
    {
        Assert.Equal("aaaa8419e9f49d0083561b48287df592939a8d19947d8c0ef88f2a4856a69fbb", A.ToString());
        Assert.True(NodeId.TryParse(A.ToString(), out var back));
        Assert.Equal(A, back);
    }

    [Fact]
    public void RandomAtDistance_yields_ids_at_that_distance()
    {
        for (int d = 1; d <= 256; d++)
            Assert.Equal(d, NodeId.LogDistance(A, A.RandomAtDistance(d, CryptoRandom.Instance)));
    }

    [Fact]
    public void CompareDistance_orders_by_xor_metric()
    {
        Assert.True(NodeId.CompareDistance(A, A, B) < 0);
        Assert.True(NodeId.CompareDistance(A, E, B) < 0);
        Assert.Equal(0, NodeId.CompareDistance(A, B, B));
    }
}
