using System.Buffers.Binary;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Noise;

namespace ClP2p.Libp2p.Tests.Vectors;

/// <summary>Noise XX vectors (noise-libp2p spec) and its pitfalls: the identity signature must be checked (dotnet-libp2p #192), frame lengths are unsigned.</summary>
public sealed class NoiseVectorTests
{
    private static byte[] H(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));

    private const string InitStatic = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
    private const string InitEphemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
    private const string RespStatic = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
    private const string RespEphemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";

    private static (NoiseHandshakeState I, NoiseHandshakeState R) Pair(byte[] prologue)
    {
        var i = new NoiseHandshakeState(true, X25519KeyPair.FromPrivateKey(H(InitStatic)), prologue, () => X25519KeyPair.FromPrivateKey(H(InitEphemeral)));
        var r = new NoiseHandshakeState(false, X25519KeyPair.FromPrivateKey(H(RespStatic)), prologue, () => X25519KeyPair.FromPrivateKey(H(RespEphemeral)));
        return (i, r);
    }

    private static byte[] Write(NoiseHandshakeState s, byte[] payload)
    {
        var buf = new byte[65535];
        int n = s.WriteMessage(payload, buf);
        return buf[..n];
    }

    private static byte[] Read(NoiseHandshakeState s, byte[] message)
    {
        var buf = new byte[65535];
        Assert.True(s.TryReadMessage(message, buf, out int n));
        return buf[..n];
    }

    [Fact]
    public void Cacophony_XX_vector_is_reproduced_byte_for_byte()
    {
        var (i, r) = Pair(H("4a6f686e2047616c74"));
        byte[] m0 = Write(i, H("4c756477696720766f6e204d69736573"));
        Assert.Equal("ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573", Convert.ToHexStringLower(m0));
        Assert.Equal(H("4c756477696720766f6e204d69736573"), Read(r, m0));

        byte[] m1 = Write(r, H("4d757272617920526f746862617264"));
        Assert.Equal(
            "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843" +
            "81cbad1f276e038c48378ffce2b65285e08d6b68aaa3629a5a8639392490e5b9" +
            "bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c412f8a0db50f" +
            "8814c7194e83f23dbd8d162c9326ad", Convert.ToHexStringLower(m1));
        Assert.Equal(H("4d757272617920526f746862617264"), Read(i, m1));

        byte[] m2 = Write(i, H("462e20412e20486179656b"));
        Assert.Equal(
            "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a8" +
            "0ae475b9df0f169ae80a89be0865b57f58c9fea0d4ec82a286427402f113e4b6" +
            "ae769a1d95941d49b25030", Convert.ToHexStringLower(m2));
        Assert.Equal(H("462e20412e20486179656b"), Read(r, m2));

        Assert.Equal("c8e5f64e846193be2a834104c2a009868d6c9f3bd3c186299888b488b2f1f58e", Convert.ToHexStringLower(i.HandshakeHash));
        Assert.Equal(i.HandshakeHash.ToArray(), r.HandshakeHash.ToArray());

        var (ic1, ic2) = i.Split();
        var (rc1, rc2) = r.Split();
        // After the handshake: responder→initiator, initiator→responder, responder→initiator.
        Assert.Equal("96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df", Transport(rc2, ic2, "4361726c204d656e676572"));
        Assert.Equal("3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5", Transport(ic1, rc1, "4a65616e2d426170746973746520536179"));
        Assert.Equal("eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f", Transport(rc2, ic2, "457567656e2042f6686d20766f6e2042617765726b"));
    }

    private static string Transport(CipherState send, CipherState recv, string plaintextHex)
    {
        byte[] pt = H(plaintextHex);
        byte[] ct = new byte[pt.Length + 16];
        send.EncryptWithAd(default, pt, ct);
        byte[] back = new byte[pt.Length];
        Assert.True(recv.TryDecryptWithAd(default, ct, back, out int n));
        Assert.Equal(pt, back[..n]);
        return Convert.ToHexStringLower(ct);
    }

    [Fact]
    public void Libp2p_secp256k1_handshake_vector_is_reproduced_byte_for_byte()
    {
        var initId = Identity.FromSecp256k1PrivateKey(H("53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb"));
        var respId = Identity.FromSecp256k1PrivateKey(H("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"));
        using var initLocal = new NoiseLocalIdentity(initId, X25519KeyPair.FromPrivateKey(H(InitStatic)));
        using var respLocal = new NoiseLocalIdentity(respId, X25519KeyPair.FromPrivateKey(H(RespStatic)));
        Assert.Equal("6bc3822a2aa7f4e6981d6538692b3cdf3e6df9eea6ed269eb41d93c22757b75a", Convert.ToHexStringLower(initLocal.StaticKey.PublicKey));
        Assert.Equal(
            "0a2508021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca9912473045022100b0e75d5330f8c0f522f4103b7872df49bdef21312d2a6dc0bdacda7c6d08c05c022077612e0c1195996d4b7bf6adb749058461b284d6a46536b276287749648efeb4",
            Convert.ToHexStringLower(initLocal.Payload));
        Assert.Equal(
            "0a250802122103ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd313812473045022100afff11aafd7ef46e8c4650341f57e9c16d251e5b55c5615efe5b1a059b85be9c022009a0ac98843598033ee2444036085196ddcf69db13c1e458325c8d027719c9e5",
            Convert.ToHexStringLower(respLocal.Payload));

        var (i, r) = Pair([]);
        byte[] m1 = Write(i, []);
        Assert.Equal("0020ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944", Framed(m1));
        Read(r, m1);
        byte[] m2 = Write(r, respLocal.Payload);
        Assert.Equal(
            "00d095ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b65285e08d6b68aaa3629a5a8639392490" +
            "e5b90b20f024c6abdc05d618c61c13a3fe07127882e85ca62a2697648740a2d365a235245a45483610e7af3081c1cbed397861c3c72b0b5ee37982aa106b9862" +
            "5c3bbc51c55341304d6aa6fe383c0c88450d6fa834b41b602b6819b5479c31730b57ddc078c77b55031cb3d0b68569c09b58442da428860eb8e4406bebab9285" +
            "ad761ebed0f3f3fa827ef346259ceea0ad3a", Framed(m2));
        var respKey = NoiseSecurity.VerifyPayload(Read(i, m2), i.RemoteStaticKey);
        Assert.Equal("16Uiu2HAmSH2XVgZqYHWucap5kuPzLnt2TsNQkoppVxB5eJGvaXwm", PeerId.FromPublicKey(respKey).ToString());
        byte[] m3 = Write(i, initLocal.Payload);
        Assert.Equal(
            "00b0c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a8c92f2766e03bec99cc0cacdd0aebbef514c2d6e3e8edc9b488ce8bd05c32" +
            "bbbdd77764621cd029a2cf4f6e427fb7d396d53ff1cb3229a6a25bef920555ba862b4c0f931ae504413d0238f2c6fb0c72d1e82f21ebd004ef32c741c3edbbc2" +
            "2c75e934fb520d3b706fe56915b42cefb5de541d1e251401d40b10c7d5493dfc9f58652921d3c7503c661833ed05e65faab8", Framed(m3));
        var initKey = NoiseSecurity.VerifyPayload(Read(r, m3), r.RemoteStaticKey);
        Assert.Equal("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY", PeerId.FromPublicKey(initKey).ToString());

        Assert.Equal("7a43bc30687ed07e1df7685a56b241efea78cc28275a35479b1528313f93faae", Convert.ToHexStringLower(i.HandshakeHash));
        var (k1, k2) = i.SplitKeysForTest();
        Assert.Equal("3062fff068d0abd171b4b4603c5b7633bf5ee4e79da311370c2eba7f1ed6c69a", Convert.ToHexStringLower(k1));
        Assert.Equal("cbabb3f5e4529fc0e93efda9b4b70169270c04b05c5be25f71e9c55f7955c86a", Convert.ToHexStringLower(k2));

        var (ic1, ic2) = i.Split();
        var (rc1, rc2) = r.Split();
        const string Ms = "132f6d756c746973747265616d2f312e302e300a0d2f79616d75782f312e302e300a";
        Assert.Equal("c63821ce3fc1e866a0663855641dcfd16e34a5d153d5b493458f7d24a63804ff76d6dd28c3e567a0bfb218e1c782a866cb39", Transport(rc2, ic2, Ms));
        Assert.Equal("670afd442e0c4ead4470332ef0bebbb0ffc8be7df43a8e78e19ebf0bd2f3e61be2e1dcd65b8f81a86de6ea2bf575392d69a0", Transport(ic1, rc1, Ms));
    }

    private static string Framed(byte[] message)
    {
        var f = new byte[2 + message.Length];
        BinaryPrimitives.WriteUInt16BigEndian(f, (ushort)message.Length);
        message.CopyTo(f, 2);
        return Convert.ToHexStringLower(f);
    }

    [Fact]
    public void Payload_with_signature_over_another_static_key_is_rejected()
    {
        var id = Identity.GenerateSecp256k1();
        using var local = new NoiseLocalIdentity(id);
        using var other = X25519KeyPair.Generate();
        var ex = Assert.Throws<DialException>(() => NoiseSecurity.VerifyPayload(local.Payload, other.PublicKey));
        Assert.Equal(DialErrorClass.NoiseFailure, ex.Class);
        Assert.Same(id.PublicKey.GetType(), NoiseSecurity.VerifyPayload(local.Payload, local.StaticKey.PublicKey).GetType());
    }

    [Fact]
    public void Payload_with_tampered_signature_is_rejected()
    {
        var id = Identity.GenerateEd25519();
        using var local = new NoiseLocalIdentity(id);
        Assert.True(NoisePayload.TryDecode(local.Payload, out var p, out _));
        p!.IdentitySignature[5] ^= 0x40;
        var ex = Assert.Throws<DialException>(() => NoiseSecurity.VerifyPayload(p.Encode(), local.StaticKey.PublicKey));
        Assert.Equal(DialErrorClass.NoiseFailure, ex.Class);
    }

    [Fact]
    public void Payload_decoder_ignores_extensions_and_unknown_fields()
    {
        var id = Identity.GenerateSecp256k1();
        using var local = new NoiseLocalIdentity(id);
        // extensions = 4 { stream_muxers = 2: "/yamux/1.0.0" }, then unknown field 9 (varint).
        byte[] ext = [0x22, 0x0e, 0x12, 0x0c, .. "/yamux/1.0.0"u8, 0x48, 0x01];
        byte[] payload = [.. local.Payload, .. ext];
        var key = NoiseSecurity.VerifyPayload(payload, local.StaticKey.PublicKey);
        Assert.Equal(id.PublicKey, key);
    }

    [Fact]
    public void Tampered_handshake_message_fails_to_decrypt()
    {
        var (i, r) = Pair([]);
        byte[] m1 = Write(i, []);
        Read(r, m1);
        byte[] m2 = Write(r, [1, 2, 3]);
        m2[40] ^= 1;
        Assert.False(i.TryReadMessage(m2, new byte[1000], out _));
    }

    [Fact]
    public void Transport_frames_larger_than_65535_are_split()
    {
        // noise-libp2p "Wire Format": 2-byte unsigned big-endian lengths; a 65535-byte frame must be read as 65535, not -1.
        var (i, r) = Pair([]);
        Read(r, Write(i, []));
        Read(i, Write(r, []));
        Read(r, Write(i, []));
        var (ic1, ic2) = i.Split();
        var (rc1, rc2) = r.Split();
        var (a, b) = ClP2p.Libp2p.Transport.DuplexPipe.CreatePair(1 << 22);
        using var sa = new NoiseStream(a, ic1, ic2);
        using var sb = new NoiseStream(b, rc2, rc1);
        byte[] data = new byte[200_000];
        new Random(7).NextBytes(data);
        sa.WriteAsync(data).AsTask().Wait();
        byte[] got = new byte[data.Length];
        sb.ReadExactly(got);
        Assert.Equal(data, got);
    }
}
