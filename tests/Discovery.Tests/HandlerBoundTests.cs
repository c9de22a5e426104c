using ClP2p.Discovery.Handler;
using ClP2p.Discovery.Packets;

namespace ClP2p.Discovery.Tests;

/// <summary>
/// A handler shard that is behind drops what arrives past its bound, except a challenge (WHOAREYOU, exactly 63 bytes):
/// it has a reserve of a quarter of the bound more, and past that it is dropped too.
/// </summary>
public sealed class HandlerBoundTests
{
    [Theory]
    [InlineData(8, 90, true)]       // within the bound: any packet
    [InlineData(8, 63, true)]
    [InlineData(9, 90, false)]      // past it: an ordinary packet is dropped
    [InlineData(9, 63, true)]       // a challenge goes into the reserve
    [InlineData(10, 63, true)]      // up to a quarter of the bound more
    [InlineData(11, 63, false)]     // and no further
    [InlineData(9, 64, false)]      // one byte more is not a challenge
    public void Past_the_bound_only_a_challenge_is_queued_within_its_reserve(int queued, int length, bool admitted) =>
        Assert.Equal(admitted, HandlerShard.Admits(queued, length, bound: 8));

    [Fact]
    public void A_whoareyou_packet_is_the_size_the_reserve_looks_for()
    {
        var buffer = new byte[PacketCodec.MaxPacketSize];
        var challenge = new byte[63];
        int n = PacketCodec.EncodeWhoAreYou(buffer, new NodeId(Enumerable.Repeat((byte)7, 32).ToArray()), new byte[16], new byte[12], new byte[16], 1, challenge);
        Assert.Equal(PacketCodec.WhoAreYouSize, n);
        Assert.True(HandlerShard.Admits(9, n, bound: 8));
    }
}
