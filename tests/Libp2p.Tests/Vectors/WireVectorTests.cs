using System.Buffers;
using ClP2p.Libp2p.Codecs;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Mplex;
using ClP2p.Libp2p.Multistream;
using ClP2p.Libp2p.Protocols;
using ClP2p.Libp2p.Yamux;

namespace ClP2p.Libp2p.Tests.Vectors;

/// <summary>Wire vectors of multistream-select, yamux, mplex and identify, and what their specs leave to pitfalls (each test names its upstream issue).</summary>
public sealed class WireVectorTests
{
    [Theory]
    [InlineData("/multistream/1.0.0", "132f6d756c746973747265616d2f312e302e300a")]
    [InlineData("/noise", "072f6e6f6973650a")]
    [InlineData("/yamux/1.0.0", "0d2f79616d75782f312e302e300a")]
    [InlineData("/mplex/6.7.0", "0d2f6d706c65782f362e372e300a")]
    [InlineData("/ipfs/id/1.0.0", "0f2f697066732f69642f312e302e300a")]
    [InlineData("/ipfs/ping/1.0.0", "112f697066732f70696e672f312e302e300a")]
    [InlineData("/eth2/beacon_chain/req/status/2/ssz_snappy", "2b2f657468322f626561636f6e5f636861696e2f7265712f7374617475732f322f73737a5f736e617070790a")]
    [InlineData("/eth2/beacon_chain/req/metadata/3/ssz_snappy", "2d2f657468322f626561636f6e5f636861696e2f7265712f6d657461646174612f332f73737a5f736e617070790a")]
    [InlineData("/eth2/beacon_chain/req/goodbye/1/ssz_snappy", "2c2f657468322f626561636f6e5f636861696e2f7265712f676f6f646279652f312f73737a5f736e617070790a")]
    [InlineData("na", "036e610a")]
    [InlineData("ls", "036c730a")]
    public void Multistream_message_encodes_with_length_including_newline(string message, string hex)
    {
        Assert.Equal(hex, Convert.ToHexStringLower(MultistreamCodec.Encode(message)));
        Assert.True(MultistreamCodec.TryDecode(Convert.FromHexString(hex), out var back, out int consumed, out _));
        Assert.Equal(message, back);
        Assert.Equal(hex.Length / 2, consumed);
    }

    [Theory]
    [InlineData("022f6e")] // no trailing newline
    [InlineData("05616263")] // truncated
    [InlineData("818001")] // length 16385 > 1024
    [InlineData("8000")] // non-minimal varint
    public void Multistream_decode_rejects_bad_messages(string hex) =>
        Assert.False(MultistreamCodec.TryDecode(Convert.FromHexString(hex), out _, out _, out _));

    [Theory]
    [InlineData(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1u, 0u, "000100010000000100000000")]
    [InlineData(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, 1u, 0u, "000100020000000100000000")]
    [InlineData(YamuxFrameType.Data, YamuxFlags.None, 1u, 20u, "000000000000000100000014")]
    [InlineData(YamuxFrameType.Data, YamuxFlags.Syn, 3u, 5u, "000000010000000300000005")]
    [InlineData(YamuxFrameType.Data, YamuxFlags.Fin, 1u, 0u, "000000040000000100000000")]
    [InlineData(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, 1u, 0u, "000100080000000100000000")]
    [InlineData(YamuxFrameType.WindowUpdate, YamuxFlags.None, 2u, 16u * 1024 * 1024 - 256 * 1024, "000100000000000200fc0000")]
    [InlineData(YamuxFrameType.Ping, YamuxFlags.Syn, 0u, 7u, "000200010000000000000007")]
    [InlineData(YamuxFrameType.Ping, YamuxFlags.Ack, 0u, 7u, "000200020000000000000007")]
    [InlineData(YamuxFrameType.GoAway, YamuxFlags.None, 0u, 0u, "000300000000000000000000")]
    [InlineData(YamuxFrameType.GoAway, YamuxFlags.None, 0u, 1u, "000300000000000000000001")]
    public void Yamux_header_matches_vector(YamuxFrameType type, YamuxFlags flags, uint id, uint length, string hex)
    {
        var h = new YamuxHeader(type, flags, id, length);
        var buf = new byte[12];
        h.Encode(buf);
        Assert.Equal(hex, Convert.ToHexStringLower(buf));
        Assert.True(YamuxHeader.TryDecode(buf, out var back, out _));
        Assert.Equal(h, back);
    }

    [Theory]
    [InlineData("010000000000000100000000")] // version 1 (yamux spec: version 0; reject anything else, nim-libp2p #2787)
    [InlineData("000400000000000100000000")] // type 4
    [InlineData("0000000000000001000000")] // 11 bytes
    public void Yamux_header_decode_rejects_bad_headers(string hex) =>
        Assert.False(YamuxHeader.TryDecode(Convert.FromHexString(hex), out _, out _));

    [Theory]
    [InlineData(0ul, MplexFlag.NewStream, new byte[] { 0x30 }, "000130")]
    [InlineData(17ul, MplexFlag.NewStream, new byte[0], "880100")]
    [InlineData(17ul, MplexFlag.MessageInitiator, new byte[] { 1, 2 }, "8a01020102")]
    [InlineData(17ul, MplexFlag.MessageReceiver, new byte[] { 1, 2 }, "8901020102")]
    [InlineData(17ul, MplexFlag.CloseInitiator, new byte[0], "8c0100")]
    [InlineData(17ul, MplexFlag.CloseReceiver, new byte[0], "8b0100")]
    [InlineData(17ul, MplexFlag.ResetInitiator, new byte[0], "8e0100")]
    [InlineData(17ul, MplexFlag.ResetReceiver, new byte[0], "8d0100")]
    public void Mplex_frame_matches_vector(ulong id, MplexFlag flag, byte[] data, string hex)
    {
        var h = new MplexHeader(id, flag, data.Length);
        var buf = new byte[MplexHeader.MaxSize + data.Length];
        int n = h.Encode(buf);
        data.CopyTo(buf, n);
        Assert.Equal(hex, Convert.ToHexStringLower(buf.AsSpan(0, n + data.Length)));
        Assert.Equal(OperationStatus.Done, MplexHeader.TryDecode(buf.AsSpan(0, n), out var back, out int consumed, out _));
        Assert.Equal(h, back);
        Assert.Equal(n, consumed);
    }

    [Fact]
    public void Mplex_header_for_id_1000_and_200_bytes_matches_vector()
    {
        var buf = new byte[MplexHeader.MaxSize];
        int n = new MplexHeader(1000, MplexFlag.MessageInitiator, 200).Encode(buf);
        Assert.Equal("c23ec801", Convert.ToHexStringLower(buf.AsSpan(0, n)));
    }

    [Fact]
    public void Mplex_flag_is_masked_from_the_low_three_bits()
    {
        // go-mplex #12 (mask the flag correctly): id 17 with flag 6 = (17 << 3) | 6 = 0x8e 0x01.
        Assert.Equal(OperationStatus.Done, MplexHeader.TryDecode(Convert.FromHexString("8e0100"), out var h, out _, out _));
        Assert.Equal(17ul, h.StreamId);
        Assert.Equal(MplexFlag.ResetInitiator, h.Flag);
        Assert.True(h.SentByInitiator);
        Assert.Equal(OperationStatus.Done, MplexHeader.TryDecode(Convert.FromHexString("8d0100"), out h, out _, out _));
        Assert.False(h.SentByInitiator);
    }

    [Fact]
    public void Mplex_header_rejects_messages_over_1_MiB_without_allocating()
    {
        // MessageInitiator on stream 17 declaring 1 MiB + 1 bytes: rejected from the header alone.
        var buf = new byte[MplexHeader.MaxSize];
        int n = Varint.Write(buf, (17ul << 3) | 2);
        n += Varint.Write(buf.AsSpan(n), (1 << 20) + 1);
        Assert.Equal(OperationStatus.InvalidData, MplexHeader.TryDecode(buf.AsSpan(0, n), out _, out _, out var error));
        Assert.Contains("1 MiB", error, StringComparison.Ordinal);
        Assert.Equal(OperationStatus.NeedMoreData, MplexHeader.TryDecode(buf.AsSpan(0, 1), out _, out _, out _));
    }

    [Fact]
    public void Mplex_header_rejects_flag_7()
    {
        Assert.Equal(OperationStatus.InvalidData, MplexHeader.TryDecode([0x0f, 0x00], out _, out _, out _));
    }

    [Theory]
    [InlineData("/ip4/127.0.0.1/tcp/9000", "047f000001062328")]
    [InlineData("/ip6/::1/tcp/9000", "2900000000000000000000000000000001062328")]
    [InlineData("/ip4/192.168.1.10/udp/9001/quic-v1", "04c0a8010a91022329cd03")]
    [InlineData("/dns4/example.com/tcp/9000", "360b6578616d706c652e636f6d062328")]
    [InlineData("/ip4/127.0.0.1/tcp/9000/p2p/16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY", "047f000001062328a50327002508021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99")]
    public void Multiaddr_round_trips_vector(string text, string hex)
    {
        Assert.True(Multiaddr.TryDecode(Convert.FromHexString(hex), out var decoded, out _));
        Assert.Equal(text, decoded);
        Assert.True(Multiaddr.TryEncode(text, out var encoded, out _));
        Assert.Equal(hex, Convert.ToHexStringLower(encoded));
    }

    [Theory]
    [InlineData("047f0000")] // truncated ip4
    [InlineData("ff7f")] // unknown code
    [InlineData("360b6578")] // dns4 length beyond data
    [InlineData("")]
    public void Multiaddr_decode_rejects_bad_bytes(string hex) =>
        Assert.False(Multiaddr.TryDecode(Convert.FromHexString(hex), out _, out _));

    [Fact]
    public void Multiaddr_certhash_reads_as_multibase_base64url_without_padding()
    {
        // multibase "u" is RFC 4648 §5 (base64url, no padding): fb ff 00 12 is "-_8AEg", not "+/8AEg=="
        Assert.True(Multiaddr.TryDecode(Convert.FromHexString("d20304fbff0012"), out var text, out _));
        Assert.Equal("/certhash/u-_8AEg", text);
    }

    [Fact]
    public void Multiaddr_from_endpoint_unmaps_ipv4_mapped_ipv6()
    {
        var ep = new System.Net.IPEndPoint(System.Net.IPAddress.Parse("::ffff:203.0.113.7"), 40000);
        Assert.True(Multiaddr.TryDecode(Multiaddr.FromTcpEndPoint(ep), out var text, out _));
        Assert.Equal("/ip4/203.0.113.7/tcp/40000", text);
    }

    private const string IdentifyHex =
        "c8012a0a697066732f302e312e3032264c69676874686f7573652f76382e302e" +
        "312d616263646566302f7838365f36342d6c696e75780a2508021221037777e9" +
        "94e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99120804" +
        "7f000001062328120b04c0a8010a91022329cd03220804cb007107069c401a0e" +
        "2f697066732f69642f312e302e301a2a2f657468322f626561636f6e5f636861" +
        "696e2f7265712f7374617475732f322f73737a5f736e617070791a0e2f6d6573" +
        "687375622f312e312e30";

    [Fact]
    public void Identify_vector_decodes_every_field()
    {
        byte[] wire = Convert.FromHexString(IdentifyHex);
        Assert.Equal(VarintStatus.Ok, Varint.TryRead(wire, Varint.MaxLength, out ulong len, out int n));
        Assert.Equal((ulong)(wire.Length - n), len);
        Assert.True(IdentifyMessage.TryDecode(wire.AsSpan(n), out var info, out int skipped, out _));
        Assert.Equal(0, skipped);
        Assert.Equal("ipfs/0.1.0", info!.ProtocolVersion);
        Assert.Equal("Lighthouse/v8.0.1-abcdef0/x86_64-linux", info.AgentVersion);
        Assert.Equal(["/ip4/127.0.0.1/tcp/9000", "/ip4/192.168.1.10/udp/9001/quic-v1"], info.ListenAddrs);
        Assert.Equal("/ip4/203.0.113.7/tcp/40000", info.ObservedAddr);
        Assert.Equal(["/ipfs/id/1.0.0", "/eth2/beacon_chain/req/status/2/ssz_snappy", "/meshsub/1.1.0"], info.Protocols);
        Assert.Equal("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY", PeerId.FromPublicKey(info.PublicKey!).ToString());
    }

    [Fact]
    public void Identify_encoder_reproduces_the_vector_body()
    {
        Assert.True(PublicKey.TryDecode(Convert.FromHexString("08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"), out var key, out _));
        Multiaddr.TryEncode("/ip4/127.0.0.1/tcp/9000", out var a1, out _);
        Multiaddr.TryEncode("/ip4/203.0.113.7/tcp/40000", out var obs, out _);
        byte[] a2 = Convert.FromHexString("04c0a8010a91022329cd03");
        byte[] body = IdentifyMessage.Encode("Lighthouse/v8.0.1-abcdef0/x86_64-linux", "ipfs/0.1.0",
            ["/ipfs/id/1.0.0", "/eth2/beacon_chain/req/status/2/ssz_snappy", "/meshsub/1.1.0"], [a1, a2], obs, key);
        Assert.Equal(IdentifyHex[4..], Convert.ToHexStringLower(body));
    }

    [Fact]
    public void Identify_decoder_skips_signed_peer_record_and_nat_status()
    {
        byte[] wire = Convert.FromHexString(IdentifyHex)[2..];
        byte[] extra = [0x42, 0x03, 1, 2, 3, 0x38, 0x01]; // field 8 bytes, field 7 varint
        Assert.True(IdentifyMessage.TryDecode([.. wire, .. extra], out var info, out _, out _));
        Assert.Equal("Lighthouse/v8.0.1-abcdef0/x86_64-linux", info!.AgentVersion);
    }

    [Fact]
    public void Identify_decoder_rejects_truncated_fields_and_skips_bad_addresses()
    {
        byte[] wire = Convert.FromHexString(IdentifyHex)[2..];
        Assert.False(IdentifyMessage.TryDecode(wire[..^3], out _, out _, out _));
        byte[] badAddr = [0x12, 0x02, 0xff, 0x7f];
        Assert.True(IdentifyMessage.TryDecode([.. wire, .. badAddr], out var info, out int skipped, out _));
        Assert.Equal(1, skipped);
        Assert.Equal(2, info!.ListenAddrs.Count);
    }

    [Theory]
    [InlineData(0ul, "00")]
    [InlineData(1ul, "01")]
    [InlineData(127ul, "7f")]
    [InlineData(128ul, "8001")]
    [InlineData(255ul, "ff01")]
    [InlineData(300ul, "ac02")]
    [InlineData(16384ul, "808001")]
    public void Varint_matches_unsigned_varint_spec_examples(ulong value, string hex)
    {
        var buf = new byte[Varint.MaxLength];
        int n = Varint.Write(buf, value);
        Assert.Equal(hex, Convert.ToHexStringLower(buf.AsSpan(0, n)));
        Assert.Equal(VarintStatus.Ok, Varint.TryRead(buf.AsSpan(0, n), Varint.MaxLength, out ulong back, out int consumed));
        Assert.Equal(value, back);
        Assert.Equal(n, consumed);
    }

    [Theory]
    [InlineData("8000", VarintStatus.NotMinimal)]
    [InlineData("ffffffffffffffffff01", VarintStatus.TooLong)] // 10 bytes where multiformats allows 9
    public void Varint_rejects_non_minimal_and_overlong(string hex, VarintStatus expected) =>
        Assert.Equal(expected, Varint.TryRead(Convert.FromHexString(hex), Varint.MaxLength, out _, out _));

    [Fact]
    public void Varint_round_trips_random_values()
    {
        var rng = new Random(42);
        var buf = new byte[Varint.MaxLength];
        for (int i = 0; i < 1000; i++)
        {
            ulong v = (ulong)rng.NextInt64() >> rng.Next(0, 63);
            int n = Varint.Write(buf, v);
            Assert.Equal(Varint.GetLength(v), n);
            Assert.Equal(VarintStatus.Ok, Varint.TryRead(buf.AsSpan(0, n), Varint.MaxLength, out ulong back, out _));
            Assert.Equal(v, back);
        }
    }
}
