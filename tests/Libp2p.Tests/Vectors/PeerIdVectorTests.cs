using ClP2p.Libp2p.Codecs;
using ClP2p.Libp2p.Crypto;

namespace ClP2p.Libp2p.Tests.Vectors;

/// <summary>The peer-ids spec test keys, and the libp2p signature format (sha256, DER, low-S).</summary>
public sealed class PeerIdVectorTests
{
    private const string SecpPublicProto = "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99";
    private const string SecpPrivate = "53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb";
    private const string EdPublicProto = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string EcdsaPublicProto = "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e62";

    [Fact]
    public void Secp256k1_private_key_gives_spec_public_key_protobuf_and_16Uiu2_peer_id()
    {
        var id = Identity.FromSecp256k1PrivateKey(Convert.FromHexString(SecpPrivate));
        Assert.Equal(SecpPublicProto, Convert.ToHexStringLower(id.PublicKey.Protobuf));
        Assert.Equal("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY", id.PeerId.ToString());
        Assert.Equal("002508021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99", Convert.ToHexStringLower(id.PeerId.Bytes));
    }

    [Fact]
    public void Peer_id_from_compressed_enr_key_matches_identity_peer_id()
    {
        var id = PeerId.FromSecp256k1PublicKey(Convert.FromHexString("037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"));
        Assert.Equal("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY", id.ToString());
    }

    [Fact]
    public void A_verified_records_key_gives_the_same_protobuf_and_peer_id_without_parsing_the_point()
    {
        var key = Convert.FromHexString("037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99");
        Assert.Equal(SecpPublicProto, Convert.ToHexStringLower(PublicKey.FromVerifiedSecp256k1(key).Protobuf));
        Assert.Equal("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY", PeerId.FromVerifiedSecp256k1PublicKey(key).ToString());
        for (int i = 0; i < 20; i++)
        {
            var other = Identity.GenerateSecp256k1().PublicKey.Data.ToArray();
            Assert.Equal(PeerId.FromSecp256k1PublicKey(other), PeerId.FromVerifiedSecp256k1PublicKey(other));
        }
        Assert.Throws<ArgumentException>(() => PeerId.FromVerifiedSecp256k1PublicKey(key.AsSpan(0, 32)));
    }

    [Fact]
    public void TryFromSecp256k1PublicKey_rejects_keys_that_are_not_compressed_points()
    {
        Assert.False(PeerId.TryFromSecp256k1PublicKey(new byte[33], out _));
        Assert.False(PeerId.TryFromSecp256k1PublicKey(Convert.FromHexString("037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca"), out _));
        Assert.True(PeerId.TryFromSecp256k1PublicKey(Convert.FromHexString("037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"), out var id));
        Assert.Equal("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY", id.ToString());
    }

    [Fact]
    public void Ed25519_public_key_protobuf_gives_12D3Koo_peer_id()
    {
        Assert.True(PublicKey.TryDecode(Convert.FromHexString(EdPublicProto), out var key, out _));
        Assert.Equal(KeyType.Ed25519, key!.Type);
        Assert.Equal("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq", PeerId.FromPublicKey(key).ToString());
    }

    [Fact]
    public void Ed25519_seed_from_spec_private_key_gives_spec_public_key()
    {
        var id = Identity.FromEd25519Seed(Convert.FromHexString("7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"));
        Assert.Equal(EdPublicProto, Convert.ToHexStringLower(id.PublicKey.Protobuf));
    }

    [Fact]
    public void Ecdsa_key_over_42_bytes_uses_sha256_multihash()
    {
        Assert.True(PublicKey.TryDecode(Convert.FromHexString(EcdsaPublicProto), out var key, out _));
        var id = PeerId.FromPublicKey(key!);
        Assert.Equal("QmVMT29id3TUASyfZZ6k9hmNyc2nYabCo4uMSpDw4zrgDk", id.ToString());
        Assert.Equal(0x12, id.Bytes[0]);
        Assert.False(id.TryGetPublicKey(out _));
    }

    [Theory]
    [InlineData("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY")]
    [InlineData("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")]
    [InlineData("QmVMT29id3TUASyfZZ6k9hmNyc2nYabCo4uMSpDw4zrgDk")]
    public void Peer_id_text_round_trips(string text)
    {
        Assert.True(PeerId.TryParse(text, out var id));
        Assert.Equal(text, id.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLp0")] // '0' is not base58
    [InlineData("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLp")] // truncated multihash
    [InlineData("1111")]
    public void Parse_rejects_invalid_peer_ids(string text) => Assert.False(PeerId.TryParse(text, out _));

    [Fact]
    public void Identity_peer_id_inlines_the_public_key()
    {
        var id = PeerId.Parse("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY");
        Assert.True(id.TryGetPublicKey(out var key));
        Assert.Equal(SecpPublicProto, Convert.ToHexStringLower(key!.Protobuf));
        Assert.True(id.Matches(key));
    }

    [Fact]
    public void Secp256k1_libp2p_signature_is_der_low_s_over_sha256_and_verifies()
    {
        // peer-ids spec "Key Types": libp2p signs sha256(message) with DER, low-S — not ENR's keccak r||s.
        var id = Identity.FromSecp256k1PrivateKey(Convert.FromHexString(SecpPrivate));
        byte[] message = "noise-libp2p-static-key:"u8.ToArray();
        byte[] sig = id.Sign(message);
        Assert.Equal(0x30, sig[0]);
        Assert.Equal(sig.Length - 2, sig[1]);
        Assert.True(id.PublicKey.Verify(message, sig));
        Assert.False(id.PublicKey.Verify("other"u8, sig));
        var compact = Secp256k1Net.Secp256k1.SignatureFromDer(sig);
        Assert.True(Secp256k1Net.Secp256k1.IsNormalizedSignature(compact));
    }

    [Fact]
    public void Ed25519_signature_verifies_and_rejects_tampering()
    {
        var id = Identity.GenerateEd25519();
        byte[] sig = id.Sign("hello"u8);
        Assert.Equal(64, sig.Length);
        Assert.True(id.PublicKey.Verify("hello"u8, sig));
        sig[10] ^= 1;
        Assert.False(id.PublicKey.Verify("hello"u8, sig));
    }

    [Theory]
    [InlineData("0802122103")] // truncated data
    [InlineData("08021221047777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99")] // 04 prefix is not compressed
    [InlineData("0809122000")] // unknown key type 9
    [InlineData("1220aaaa")] // no type
    [InlineData("0801121f1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2")] // 31-byte ed25519
    public void Public_key_decode_rejects_bad_protobufs(string hex) => Assert.False(PublicKey.TryDecode(Convert.FromHexString(hex), out _, out _));

    [Fact]
    public void Public_key_decode_skips_unknown_fields()
    {
        byte[] withExtra = Convert.FromHexString(SecpPublicProto + "1801" + "2203abcdef");
        Assert.True(PublicKey.TryDecode(withExtra, out var key, out _));
        Assert.Equal(KeyType.Secp256k1, key!.Type);
    }

    [Fact]
    public void Base58_encodes_leading_zeros_as_ones_and_round_trips()
    {
        byte[] data = [0, 0, 1, 2, 3, 255];
        string text = Base58.Encode(data);
        Assert.StartsWith("11", text, StringComparison.Ordinal);
        Assert.True(Base58.TryDecode(text, out var back));
        Assert.Equal(data, back);
    }

    // Bitcoin Core's base58 test vectors (its base58 encode/decode test data)
    [Theory]
    [InlineData("", "")]
    [InlineData("61", "2g")]
    [InlineData("626262", "a3gV")]
    [InlineData("636363", "aPEr")]
    [InlineData("73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2")]
    [InlineData("00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L")]
    [InlineData("516b6fcd0f", "ABnLTmg")]
    [InlineData("bf4f89001e670274dd", "3SEo3LWLoPntC")]
    [InlineData("572e4794", "3EFU7m")]
    [InlineData("ecac89cad93923c02321", "EJDM8drfXA6uyA")]
    [InlineData("10c8511e", "Rt5zm")]
    [InlineData("00000000000000000000", "1111111111")]
    public void Base58_matches_the_bitcoin_vectors(string hex, string text)
    {
        Assert.Equal(text, Base58.Encode(Convert.FromHexString(hex)));
        Assert.True(Base58.TryDecode(text, out var back));
        Assert.Equal(Convert.FromHexString(hex), back);
    }

    [Fact]
    public void Base58_agrees_with_a_big_integer_conversion_for_random_inputs()
    {
        const string alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        var rng = new Random(58);
        for (int n = 0; n < 2_000; n++)
        {
            var data = new byte[rng.Next(0, 90)];
            rng.NextBytes(data);
            int zeros = rng.Next(0, 4);
            for (int i = 0; i < Math.Min(zeros, data.Length); i++) data[i] = 0;
            var value = new System.Numerics.BigInteger(data, isUnsigned: true, isBigEndian: true);
            var sb = new System.Text.StringBuilder();
            while (value > 0)
            {
                sb.Insert(0, alphabet[(int)(value % 58)]);
                value /= 58;
            }
            int lead = 0;
            while (lead < data.Length && data[lead] == 0) lead++;
            string expected = new string('1', lead) + sb;
            Assert.Equal(expected, Base58.Encode(data));
        }
    }

    [Fact]
    public void Secp256k1_high_s_signature_from_another_implementation_still_verifies()
    {
        var id = Identity.FromSecp256k1PrivateKey(Convert.FromHexString(SecpPrivate));
        byte[] message = "payload"u8.ToArray();
        byte[] compact = Secp256k1Net.Secp256k1.SignatureFromDer(id.Sign(message));
        // s' = n - s is the same signature with a high S.
        var n = System.Numerics.BigInteger.Parse("0FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", System.Globalization.NumberStyles.HexNumber);
        var s = new System.Numerics.BigInteger(compact.AsSpan(32, 32), isUnsigned: true, isBigEndian: true);
        byte[] high = (n - s).ToByteArray(isUnsigned: true, isBigEndian: true);
        byte[] highCompact = new byte[64];
        compact.AsSpan(0, 32).CopyTo(highCompact);
        high.CopyTo(highCompact, 64 - high.Length);
        Assert.False(Secp256k1Net.Secp256k1.IsNormalizedSignature(highCompact));
        Assert.True(id.PublicKey.Verify(message, Secp256k1Net.Secp256k1.SignatureToDer(highCompact)));
    }
}
