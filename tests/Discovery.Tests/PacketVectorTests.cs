using System.Net;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Packets;
using ClP2p.Discovery.Sessions;
using static ClP2p.Discovery.Tests.Hex;

namespace ClP2p.Discovery.Tests;

/// <summary>The official discv5 v5.1 wire vectors (devp2p discv5/discv5-wire-test-vectors.md), packets and cryptographic primitives.</summary>
public class PacketVectorTests
{
    internal static readonly byte[] KeyA = B("eef77acb6c6a6eebc5b363a475ac583ec7eccdb42b6481424c60f59aa326547f");
    internal static readonly byte[] KeyB = B("66fb62bfbd66b9177a138c1e5cddbe4f7c30c343e94e68df8769459cb1cde628");
    internal static readonly NodeId IdA = NodeId.FromHex("aaaa8419e9f49d0083561b48287df592939a8d19947d8c0ef88f2a4856a69fbb");
    internal static readonly NodeId IdB = NodeId.FromHex("bbbb9d047f0488c0b5a93c1c3f2d8bafc7c8ff337024a55434a0d0555de64db9");
    private static readonly byte[] Iv0 = new byte[16];

    private const string PingPacket = "00000000000000000000000000000000088b3d4342774649325f313964a39e55ea96c005ad52be8c7560413a7008f16c9e6d2f43bbea8814a546b7409ce783d34c4f53245d08dab84102ed931f66d1492acb308fa1c6715b9d139b81acbdcc";
    private const string WhoAreYouPacket = "00000000000000000000000000000000088b3d434277464933a1ccc59f5967ad1d6035f15e528627dde75cd68292f9e6c27d6b66c8100a873fcbaed4e16b8d";
    private const string HandshakePacket = "00000000000000000000000000000000088b3d4342774649305f313964a39e55ea96c005ad521d8c7560413a7008f16c9e6d2f43bbea8814a546b7409ce783d34c4f53245d08da4bb252012b2cba3f4f374a90a75cff91f142fa9be3e0a5f3ef268ccb9065aeecfd67a999e7fdc137e062b2ec4a0eb92947f0d9a74bfbf44dfba776b21301f8b65efd5796706adff216ab862a9186875f9494150c4ae06fa4d1f0396c93f215fa4ef524f1eadf5f0f4126b79336671cbcf7a885b1f8bd2a5d839cf8";
    private const string HandshakeRecordPacket = "00000000000000000000000000000000088b3d4342774649305f313964a39e55ea96c005ad539c8c7560413a7008f16c9e6d2f43bbea8814a546b7409ce783d34c4f53245d08da4bb23698868350aaad22e3ab8dd034f548a1c43cd246be98562fafa0a1fa86d8e7a3b95ae78cc2b988ded6a5b59eb83ad58097252188b902b21481e30e5e285f19735796706adff216ab862a9186875f9494150c4ae06fa4d1f0396c93f215fa4ef524e0ed04c3c21e39b1868e1ca8105e585ec17315e755e6cfc4dd6cb7fd8e1a1f55e49b4b5eb024221482105346f3c82b15fdaae36a3bb12a494683b4a3c7f2ae41306252fed84785e2bbff3b022812d0882f06978df84a80d443972213342d04b9048fc3b1d5fcb1df0f822152eced6da4d3f6df27e70e4539717307a0208cd208d65093ccab5aa596a34d7511401987662d8cf62b139471";
    private const string ChallengeSeq0 = "000000000000000000000000000000006469736376350001010102030405060708090a0b0c00180102030405060708090a0b0c0d0e0f100000000000000000";
    private const string ChallengeSeq1 = "000000000000000000000000000000006469736376350001010102030405060708090a0b0c00180102030405060708090a0b0c0d0e0f100000000000000001";
    private const string EphKey = "0288ef00023598499cb6c940146d050d2b1fb914198c327f76aad590bead68b6";
    private const string EphPub = "039a003ba6517b473fa0cd74aefe99dadfdb34627f90fec6362df85803908f53a5";
    private const string RecordA = "f87db84017e1b073918da32d640642c762c0e2781698e4971f8ab39a77746adad83f01e76ffc874c5924808bbe7c50890882c2b8a01287a0b08312d1d53a17d517f5eb2701826964827634826970847f00000189736563703235366b31a10313d14211e0287b2361a1615890a9b5212080546d0a257ae4cff96cf534992cb9";

    [Fact]
    public void Ordinary_ping_packet_decodes_and_decrypts()
    {
        using var codec = new PacketCodec(IdB);
        Assert.True(codec.TryDecode(B(PingPacket), out var v, out var err), err.ToString());
        Assert.Equal(PacketFlag.Message, v.Flag);
        Assert.Equal("ffffffffffffffffffffffff", S(v.Nonce));
        Assert.Equal(IdA, v.SourceId);
        using var key = new MessageCipher(new byte[16]);
        var pt = new byte[v.Message.Length - 16];
        Assert.True(PacketCodec.TryDecrypt(key, v.Nonce, v.Message, v.Header, pt));
        Assert.Equal("01c6840000000102", S(pt));
        Assert.True(MessageCodec.TryDecode(pt, out var m, out _));
        Assert.Equal(new PingMessage(RequestId.From(B("00000001")), 2), m);
    }

    [Fact]
    public void Ordinary_ping_packet_encodes_byte_for_byte()
    {
        using var key = new MessageCipher(new byte[16]);
        var buf = new byte[1280];
        int n = PacketCodec.EncodeMessage(buf, IdB, Iv0, B("ffffffffffffffffffffffff"), IdA, key, B("01c6840000000102"));
        Assert.Equal(PingPacket, S(buf.AsSpan(0, n)));
    }

    [Fact]
    public void WhoAreYou_packet_decodes_and_encodes_byte_for_byte()
    {
        using var codec = new PacketCodec(IdB);
        Assert.True(codec.TryDecode(B(WhoAreYouPacket), out var v, out var err), err.ToString());
        Assert.Equal(PacketFlag.WhoAreYou, v.Flag);
        Assert.Equal("0102030405060708090a0b0c", S(v.Nonce));
        Assert.Equal("0102030405060708090a0b0c0d0e0f100000000000000000", S(v.AuthData));
        Assert.Equal(ChallengeSeq0, S(v.Header));
        Assert.True(v.Message.IsEmpty);
        var buf = new byte[1280];
        var challenge = new byte[63];
        int n = PacketCodec.EncodeWhoAreYou(buf, IdB, Iv0, B("0102030405060708090a0b0c"), B("0102030405060708090a0b0c0d0e0f10"), 0, challenge);
        Assert.Equal(WhoAreYouPacket, S(buf.AsSpan(0, n)));
        Assert.Equal(ChallengeSeq0, S(challenge));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Handshake_packet_encodes_byte_for_byte(bool withRecord)
    {
        var challenge = B(withRecord ? ChallengeSeq0 : ChallengeSeq1);
        Span<byte> pubB = stackalloc byte[64];
        Assert.True(Secp256k1Ops.TryCreatePublicKey(KeyB, pubB));
        Span<byte> secret = stackalloc byte[33];
        Assert.True(Secp256k1Ops.TryEcdh(pubB, B(EphKey), secret));
        Span<byte> ik = stackalloc byte[16]; Span<byte> rk = stackalloc byte[16];
        HandshakeCrypto.DeriveKeys(secret, challenge, IdA, IdB, ik, rk);
        Assert.Equal(withRecord ? "53b1c075f41876423154e157470c2f48" : "4f9fac6de7567d1e3b1241dffe90f662", S(ik));
        Assert.Equal(withRecord ? "a481e0236e0cc759796a55562a812182" : "c2a7ea4264554ea79eab74a0652ad940", S(rk));
        Assert.Equal(EphPub, S(Secp256k1Ops.CompressedPublicKey(B(EphKey))));
        Span<byte> sig = stackalloc byte[64];
        Assert.True(HandshakeCrypto.TrySignIdNonce(KeyA, challenge, B(EphPub), IdB, sig));
        Assert.Equal(withRecord
            ? "a439e69918e3f53f555d8ca4838fbe8abeab56aa55b056a2ac4d49c157ee719240a93f56c9fccfe7742722a92b3f2dfa27a5452f5aca8adeeab8c4d5d87df555"
            : "c0a04b36f276172afc66a62848eb0769800c670c4edbefab8f26785e7fda6b56506a3f27ca72a75b106edd392a2cbf8a69272f5c1785c36d1de9d98a0894b2db", S(sig));
        byte[] record = withRecord ? new EnrBuilder().WithSeq(1).WithIp(IPAddress.Loopback).Build(KeyA).Raw.ToArray() : [];
        if (withRecord) Assert.Equal(RecordA, S(record));
        using var key = new MessageCipher(ik.ToArray());
        var buf = new byte[1280];
        int n = PacketCodec.EncodeHandshake(buf, IdB, Iv0, B("ffffffffffffffffffffffff"), IdA, sig, B(EphPub), record, key, B("01c6840000000101"));
        Assert.Equal(withRecord ? HandshakeRecordPacket : HandshakePacket, S(buf.AsSpan(0, n)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Handshake_packet_decodes_verifies_and_decrypts_at_recipient(bool withRecord)
    {
        var challenge = B(withRecord ? ChallengeSeq0 : ChallengeSeq1);
        using var codec = new PacketCodec(IdB);
        Assert.True(codec.TryDecode(B(withRecord ? HandshakeRecordPacket : HandshakePacket), out var v, out var err), err.ToString());
        Assert.Equal(PacketFlag.Handshake, v.Flag);
        var auth = new HandshakeAuthData(v.AuthData);
        Assert.Equal(IdA, auth.SourceId);
        Assert.Equal(EphPub, S(auth.EphemeralPublicKey));
        Span<byte> pubA = stackalloc byte[64];
        if (withRecord)
        {
            Assert.True(Enr.TryDecode(auth.Record, out var rec, out var rerr), rerr.ToString());
            Assert.Equal(IdA, rec!.NodeId);
            rec.ParsedPublicKey.CopyTo(pubA);
        }
        else
        {
            Assert.True(auth.Record.IsEmpty);
            Secp256k1Ops.TryCreatePublicKey(KeyA, pubA);
        }
        Assert.True(HandshakeCrypto.VerifyIdNonce(pubA, challenge, auth.EphemeralPublicKey, IdB, auth.IdSignature));
        Span<byte> eph = stackalloc byte[64];
        Assert.True(Secp256k1Ops.TryParsePublicKey(auth.EphemeralPublicKey, eph));
        Span<byte> secret = stackalloc byte[33];
        Assert.True(Secp256k1Ops.TryEcdh(eph, KeyB, secret));
        Span<byte> ik = stackalloc byte[16]; Span<byte> rk = stackalloc byte[16];
        HandshakeCrypto.DeriveKeys(secret, challenge, IdA, IdB, ik, rk);
        using var key = new MessageCipher(ik.ToArray());
        var pt = new byte[v.Message.Length - 16];
        Assert.True(PacketCodec.TryDecrypt(key, v.Nonce, v.Message, v.Header, pt));
        Assert.Equal("01c6840000000101", S(pt));
    }

    [Fact]
    public void Key_derivation_matches_crypto_vector()
    {
        Span<byte> dest = stackalloc byte[64];
        Assert.True(Secp256k1Ops.TryParsePublicKey(B("0317931e6e0840220642f230037d285d122bc59063221ef3226b1f403ddc69ca91"), dest));
        Span<byte> secret = stackalloc byte[33];
        Assert.True(Secp256k1Ops.TryEcdh(dest, B("fb757dc581730490a1d7a00deea65e9b1936924caaea8f44d476014856b68736"), secret));
        Assert.Equal("022c82f214eb37159111712add00040fcdf73fd4d7d0b7c0f980da4d099aa59ba4", S(secret));
        Span<byte> ik = stackalloc byte[16]; Span<byte> rk = stackalloc byte[16];
        HandshakeCrypto.DeriveKeys(secret, B(ChallengeSeq0), IdA, IdB, ik, rk);
        Assert.Equal("dccc82d81bd610f4f76d3ebe97a40571", S(ik));
        Assert.Equal("ac74bb8773749920b0d3a8881c173ec5", S(rk));
    }

    [Fact]
    public void Id_nonce_signature_matches_crypto_vector()
    {
        var key = B("fb757dc581730490a1d7a00deea65e9b1936924caaea8f44d476014856b68736");
        var eph = B("039961e4c2356d61bedb83052c115d311acb3a96f5777296dcf297351130266231");
        Span<byte> sig = stackalloc byte[64];
        Assert.True(HandshakeCrypto.TrySignIdNonce(key, B(ChallengeSeq0), eph, IdB, sig));
        Assert.Equal("94852a1e2318c4e5e9d422c98eaf19d1d90d876b29cd06ca7cb7546d0fff7b484fe86c09a064fe72bdbef73ba8e9c34df0cd2b53e9d65528c2c7f336d5dfc6e6", S(sig));
        Span<byte> pub = stackalloc byte[64];
        Secp256k1Ops.TryCreatePublicKey(key, pub);
        Assert.True(HandshakeCrypto.VerifyIdNonce(pub, B(ChallengeSeq0), eph, IdB, sig));
        Assert.False(HandshakeCrypto.VerifyIdNonce(pub, B(ChallengeSeq1), eph, IdB, sig));
    }

    [Fact]
    public void Decode_rejects_packets_below_63_or_above_1280_bytes()
    {
        using var codec = new PacketCodec(IdB);
        Assert.False(codec.TryDecode(B(WhoAreYouPacket)[..62], out _, out var e1));
        Assert.Equal(PacketError.TooSmall, e1);
        Assert.False(codec.TryDecode(new byte[1281], out _, out var e2));
        Assert.Equal(PacketError.TooLarge, e2);
    }

    [Fact]
    public void Decode_rejects_whoareyou_with_trailing_bytes()
    {
        using var codec = new PacketCodec(IdB);
        Assert.False(codec.TryDecode(B(WhoAreYouPacket + "00"), out _, out var e));
        Assert.Equal(PacketError.WhoAreYouWithMessage, e);
    }

    [Fact]
    public void Decode_with_wrong_masking_key_fails_on_protocol_id()
    {
        using var codec = new PacketCodec(IdA);
        Assert.False(codec.TryDecode(B(PingPacket), out _, out var e));
        Assert.Equal(PacketError.BadProtocolId, e);
    }

    [Fact]
    public void Tampered_message_fails_authentication()
    {
        using var codec = new PacketCodec(IdB);
        var p = B(PingPacket); p[^1] ^= 1;
        Assert.True(codec.TryDecode(p, out var v, out _));
        using var key = new MessageCipher(new byte[16]);
        Assert.False(PacketCodec.TryDecrypt(key, v.Nonce, v.Message, v.Header, new byte[64]));
    }

    [Fact]
    public void Random_message_packets_round_trip()
    {
        var rnd = new Random(5);
        using var codec = new PacketCodec(IdB);
        var k = new byte[16];
        for (int i = 0; i < 200; i++)
        {
            rnd.NextBytes(k);
            using var key = new MessageCipher(k);
            var iv = new byte[16]; rnd.NextBytes(iv);
            var nonce = new byte[12]; rnd.NextBytes(nonce);
            var pt = new byte[rnd.Next(1, 1100)]; rnd.NextBytes(pt);
            var buf = new byte[1280];
            int n = PacketCodec.EncodeMessage(buf, IdB, iv, nonce, IdA, key, pt);
            Assert.True(codec.TryDecode(buf.AsSpan(0, n), out var v, out _));
            Assert.Equal(IdA, v.SourceId);
            Assert.Equal(nonce, v.Nonce.ToArray());
            var back = new byte[pt.Length];
            Assert.True(PacketCodec.TryDecrypt(key, v.Nonce, v.Message, v.Header, back));
            Assert.Equal(pt, back);
        }
    }
}
