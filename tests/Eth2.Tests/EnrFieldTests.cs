using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.PeerDas;

namespace ClP2p.Eth2.Tests;

public class EnrFieldTests
{
    private static byte[] Hex(string h) => Convert.FromHexString(h);

    [Fact]
    public void Eth2_field_of_the_section5_record_decodes_to_mainnet_bpo2()
    {
        Assert.True(Eth2EnrFields.TryParseEth2(Hex("8c9f62fe06000000ffffffffffffffff"), out var id, out _));
        Assert.Equal("8c9f62fe", id.ForkDigest.ToString());
        Assert.Equal("06000000", id.NextForkVersion.ToString());
        Assert.Equal(ForkDigests.FarFutureEpoch, id.NextForkEpoch);
        Assert.False(id.HasNextFork);
        Assert.Equal("8c9f62fe06000000ffffffffffffffff", Convert.ToHexStringLower(id.ToArray()));
        Assert.True(NetworkRegistry.Builtin.TryNameDigest(id.ForkDigest, out var name));
        Assert.Equal(("mainnet", "bpo2"), (name.Network, name.Fork));
    }

    [Fact]
    public void Eth2_field_of_a_stale_pre_altair_bootnode_reads_next_fork_epoch_little_endian()
    {
        Assert.True(Eth2EnrFields.TryParseEth2(Hex("b5303f2a010000000022010000000000"), out var id, out _));
        Assert.Equal(74240UL, id.NextForkEpoch);
        Assert.Equal("01000000", id.NextForkVersion.ToString());
    }

    [Fact]
    public void Pre_genesis_eth2_value_of_mainnet_bootnodes_is_named_stale()
    {
        Assert.True(Eth2EnrFields.TryParseEth2(Hex("f5a5fd4200000000ffffffffffffffff"), out var id, out _));
        Assert.True(NetworkRegistry.Builtin.TryNameDigest(id.ForkDigest, out var name));
        Assert.Equal(DigestKind.PreGenesis, name.Kind);
    }

    [Theory]
    [InlineData("8c9f62fe06000000ffffffffffffff")]
    [InlineData("8c9f62fe06000000ffffffffffffffff00")]
    [InlineData("")]
    public void Eth2_field_rejects_wrong_lengths(string hex)
    {
        Assert.False(Eth2EnrFields.TryParseEth2(Hex(hex), out _, out var error));
        Assert.Equal(EnrFieldError.WrongLength, error);
    }

    [Fact]
    public void Attnets_bit_order_is_lsb_first_per_byte()
    {
        Assert.True(Eth2EnrFields.TryParseAttnets(Hex("0100000000000080"), out var att, out _));
        Assert.Equal([0, 63], att.Subnets.ToArray());
        Assert.True(att.IsSet(0));
        Assert.False(att.IsSet(7));
        Assert.Equal(2, att.PopCount);
        Assert.Equal("0100000000000080", AttestationSubnets.FromSubnets([0, 63]).ToString());
        Assert.False(Eth2EnrFields.TryParseAttnets(Hex("01000000000000"), out _, out var e));
        Assert.Equal(EnrFieldError.WrongLength, e);
    }

    [Fact]
    public void Syncnets_rejects_nonzero_high_bits()
    {
        Assert.True(Eth2EnrFields.TryParseSyncnets([0x02], out var s, out _));
        Assert.Equal([1], s.Subnets.ToArray());
        Assert.False(Eth2EnrFields.TryParseSyncnets([0x12], out _, out var e));
        Assert.Equal(EnrFieldError.NonZeroPadding, e);
        Assert.False(Eth2EnrFields.TryParseSyncnets([0x01, 0x00], out _, out e));
        Assert.Equal(EnrFieldError.WrongLength, e);
    }

    [Theory]
    [InlineData("04", 4UL)]
    [InlineData("80", 128UL)]
    [InlineData("", 0UL)]
    [InlineData("0100", 256UL)]
    public void Cgc_is_minimal_big_endian(string hex, ulong expected)
    {
        Assert.True(Eth2EnrFields.TryParseCustodyGroupCount(Hex(hex), out var cgc, out _));
        Assert.Equal(expected, cgc);
        Assert.Equal(hex.ToLowerInvariant(), Convert.ToHexStringLower(Eth2EnrFields.EncodeCustodyGroupCount(expected)));
    }

    [Theory]
    [InlineData("0004", EnrFieldError.NotMinimal)]
    [InlineData("010000000000000000", EnrFieldError.Overflow)]
    public void Cgc_rejects_leading_zeros_and_overflow(string hex, EnrFieldError expected)
    {
        Assert.False(Eth2EnrFields.TryParseCustodyGroupCount(Hex(hex), out _, out var e));
        Assert.Equal(expected, e);
    }

    [Fact]
    public void Nfd_zero_means_no_next_fork_and_wrong_length_is_rejected()
    {
        Assert.True(Eth2EnrFields.TryParseNextForkDigest(Hex("00000000"), out var nfd, out _));
        Assert.Equal(ForkDigest.Zero, nfd);
        Assert.False(Eth2EnrFields.TryParseNextForkDigest(Hex("000000"), out _, out _));
    }

    [Fact]
    public void Eth2EnrInfo_collects_all_fields_of_the_section5_record_and_keeps_reasons()
    {
        var values = new Dictionary<string, byte[]>
        {
            ["attnets"] = Hex("0100000000000080"),
            ["cgc"] = Hex("04"),
            ["eth2"] = Hex("8c9f62fe06000000ffffffffffffffff"),
            ["nfd"] = Hex("00000000"),
            ["syncnets"] = Hex("12"),
        };
        var info = Eth2EnrInfo.From((string k, out ReadOnlyMemory<byte> v) =>
        {
            bool found = values.TryGetValue(k, out var bytes);
            v = bytes;
            return found;
        });
        Assert.Equal("8c9f62fe", info.Eth2?.ForkDigest.ToString());
        Assert.Equal(4UL, info.CustodyGroupCount);
        Assert.Equal(ForkDigest.Zero, info.NextForkDigest);
        Assert.Null(info.Syncnets);
        Assert.Equal(EnrFieldError.NonZeroPadding, info.Errors["syncnets"]);
    }

    [Theory]
    [InlineData("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 4, new[] { 1, 47, 87, 102 })]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000", 4, new[] { 1, 17, 87, 102 })]
    [InlineData("a448f24c6d18e575453db13171562b71999873db5b286df957af199ec94617f7", 4, new[] { 41, 45, 47, 125 })]
    [InlineData("727b3ca85d37c2542453757ba46abbc5c3f109f4582955f23295be4837b4af2a", 47,
        new[] { 3, 6, 7, 8, 9, 12, 25, 26, 29, 30, 32, 40, 42, 47, 52, 53, 54, 55, 56, 57, 69, 70, 71, 72, 74, 77, 80, 81, 83, 88, 93, 94, 95, 98, 101, 105, 106, 112, 114, 116, 118, 120, 121, 123, 124, 125, 127 })]
    [InlineData("8a3be431f87ea0a1cb1e1d037de534d5cb91df958c76dc02bb5eb6e3898126c6", 93,
        new[] { 0, 1, 2, 4, 5, 6, 7, 9, 10, 13, 14, 16, 19, 20, 21, 22, 23, 24, 25, 26, 29, 30, 31, 34, 36, 37, 38, 39, 40, 41, 42, 44, 45, 46, 49, 50, 53, 54, 55, 56, 57, 58, 60, 62, 66, 67, 68, 70, 71, 72, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 86, 87, 88, 89, 90, 91, 92, 93, 95, 96, 98, 99, 100, 101, 103, 104, 105, 107, 108, 109, 111, 112, 113, 114, 115, 117, 118, 120, 122, 123, 126, 127 })]
    public void Custody_groups_match_the_section8_vectors(string nodeId, int cgc, int[] expected)
    {
        Assert.Equal(expected, CustodyGroups.GetCustodyGroups(Hex(nodeId), (ulong)cgc));
    }

    [Fact]
    public void Supernode_custodies_every_group_and_columns_equal_groups_on_mainnet()
    {
        Assert.Equal(Enumerable.Range(0, 128), CustodyGroups.GetCustodyGroups(new byte[32], 128));
        Assert.Equal([54], CustodyGroups.ComputeColumnsForCustodyGroup(54));
        Assert.Throws<ArgumentOutOfRangeException>(() => CustodyGroups.GetCustodyGroups(new byte[32], 129));
    }
}
