using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.Ssz;
using static ClP2p.Eth2.Tests.SnappyTests;

namespace ClP2p.Eth2.Tests;

public class SszTests
{
    [Fact]
    public void Status_v1_and_v2_decode_the_section9_values_and_round_trip()
    {
        Assert.True(StatusMessage.TryDecode(Hex(StatusV2Ssz), 2, out var s2, out _));
        Assert.Equal("8c9f62fe", s2.ForkDigest.ToString());
        Assert.Equal(437120UL, s2.FinalizedEpoch);
        Assert.Equal(13988100UL, s2.HeadSlot);
        Assert.Equal(13500000UL, s2.EarliestAvailableSlot);
        Assert.StartsWith("d62a74ae", s2.FinalizedRoot.ToString(), StringComparison.Ordinal);
        Assert.StartsWith("4f0e5b8f", s2.HeadRoot.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, s2.Version);
        Assert.Equal(StatusV2Ssz, Convert.ToHexStringLower(s2.Encode()));
        Assert.Equal(StatusV1Ssz, Convert.ToHexStringLower(s2.AsV1().Encode()));
        Assert.True(StatusMessage.TryDecode(Hex(StatusV1Ssz), 1, out var s1, out _));
        Assert.Equal(s2.AsV1(), s1);
        Assert.Equal(0UL, s1.AsV2().EarliestAvailableSlot);
        Assert.Null(s1.AsV2().KnownEarliestAvailableSlot); // 0 means unknown
        Assert.Equal(13500000UL, s2.KnownEarliestAvailableSlot);
    }

    [Theory]
    [InlineData(83, 1)]
    [InlineData(85, 1)]
    [InlineData(84, 2)]
    [InlineData(92, 1)]
    [InlineData(0, 2)]
    public void Status_rejects_every_other_length(int length, int version)
    {
        Assert.False(StatusMessage.TryDecode(new byte[length], version, out _, out var e));
        Assert.Equal(SszError.WrongLength, e);
    }

    [Fact]
    public void MetaData_v2_and_v3_decode_the_section9_values()
    {
        Assert.True(MetaDataMessage.TryDecode(Hex("05000000000000000100000000000080020400000000000000"), 3, out var m3, out _));
        Assert.Equal(5UL, m3.SeqNumber);
        Assert.Equal([0, 63], m3.Attnets.Subnets.ToArray());
        Assert.Equal([1], m3.Syncnets.Subnets.ToArray());
        Assert.Equal(4UL, m3.CustodyGroupCount);
        Assert.Equal("05000000000000000100000000000080020400000000000000", Convert.ToHexStringLower(m3.Encode()));
        Assert.True(MetaDataMessage.TryDecode(Hex("0500000000000000010000000000008002"), 2, out var m2, out _));
        Assert.Null(m2.CustodyGroupCount);
        Assert.Equal(m3 with { CustodyGroupCount = null }, m2);
    }

    [Fact]
    public void MetaData_rejects_wrong_lengths_and_syncnets_padding()
    {
        Assert.False(MetaDataMessage.TryDecode(new byte[16], 2, out _, out var e));
        Assert.Equal(SszError.WrongLength, e);
        Assert.False(MetaDataMessage.TryDecode(new byte[17], 3, out _, out e));
        Assert.Equal(SszError.WrongLength, e);
        var bad = Hex("0500000000000000010000000000008012");
        Assert.False(MetaDataMessage.TryDecode(bad, 2, out _, out e));
        Assert.Equal(SszError.InvalidBitvectorPadding, e);
    }

    [Fact]
    public void Ping_and_goodbye_are_bare_uint64_little_endian()
    {
        Assert.Equal("0100000000000000", Convert.ToHexStringLower(SszUInt64.Encode(GoodbyeReasons.ClientShutdown)));
        Assert.True(SszUInt64.TryDecode(Hex("8100000000000000"), out var reason, out _));
        Assert.Equal(GoodbyeReasons.TooManyPeers, reason);
        Assert.Equal("too_many_peers", GoodbyeReasons.Describe(reason));
        Assert.False(SszUInt64.TryDecode(new byte[7], out _, out _));
        Assert.False(SszUInt64.TryDecode(new byte[9], out _, out _));
    }

    [Fact]
    public void ErrorMessage_is_a_list_of_at_most_256_bytes()
    {
        Assert.True(ErrorMessage.TryDecode("bad request"u8, out var text, out _));
        Assert.Equal("bad request", text);
        Assert.True(ErrorMessage.TryDecode(new byte[256], out _, out _));
        Assert.False(ErrorMessage.TryDecode(new byte[257], out _, out var e));
        Assert.Equal(SszError.TooLong, e);
        Assert.True(ErrorMessage.TryDecode([0xff, 0xfe], out _, out _)); // any bytes are valid
        Assert.Equal(256, ErrorMessage.Encode(new string('x', 300)).Length);
    }

    [Fact]
    public void Random_status_and_metadata_round_trip()
    {
        var rng = new Random(42);
        for (int i = 0; i < 200; i++)
        {
            var b = new byte[92];
            rng.NextBytes(b);
            Assert.True(StatusMessage.TryDecode(b, 2, out var s, out _));
            Assert.Equal(b, s.Encode());
            var m = new byte[25];
            rng.NextBytes(m);
            m[16] &= 0x0f;
            Assert.True(MetaDataMessage.TryDecode(m, 3, out var md, out _));
            Assert.Equal(m, md.Encode());
            Assert.Equal(new AttestationSubnets(md.Attnets.Bits), AttestationSubnets.FromSubnets(md.Attnets.Subnets));
        }
        Assert.Equal(ForkDigest.Parse("8c9f62fe"), ForkDigest.Read(ForkDigest.Parse("8c9f62fe").ToArray()));
    }
}
