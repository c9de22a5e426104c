using System.Security.Cryptography;
using ClP2p.Discovery.Crypto;
using static ClP2p.Discovery.Tests.Hex;

namespace ClP2p.Discovery.Tests;

public class PrimitiveTests
{
    [Fact]
    public void Keccak256_of_empty_input_matches_known_digest() =>
        Assert.Equal("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470", S(Keccak.Hash([])));

    [Fact]
    public void Keccak256_of_eip778_content_matches_vector() =>
        Assert.Equal("bc218268b018aecb5d4c5afd5feeb3b920f56eddf09bdf83df9d3de868e1cb95",
            S(Keccak.Hash(B("f84201826964827634826970847f00000189736563703235366b31a103ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd31388375647082765f"))));

    [Fact]
    public void Ecdh_produces_compressed_shared_point_of_vector()
    {
        Span<byte> pub = stackalloc byte[64];
        Assert.True(Secp256k1Ops.TryParsePublicKey(B("039961e4c2356d61bedb83052c115d311acb3a96f5777296dcf297351130266231"), pub));
        Span<byte> shared = stackalloc byte[33];
        Assert.True(Secp256k1Ops.TryEcdh(pub, B("fb757dc581730490a1d7a00deea65e9b1936924caaea8f44d476014856b68736"), shared));
        Assert.Equal("033b11a2a1f214567e1537ce5e509ffd9b21373247f2a3ff6841f4976f53165e7e", S(shared));
    }

    [Fact]
    public void Public_keys_and_node_ids_of_vector_keys_match()
    {
        Assert.Equal("0313d14211e0287b2361a1615890a9b5212080546d0a257ae4cff96cf534992cb9",
            S(Secp256k1Ops.CompressedPublicKey(B("eef77acb6c6a6eebc5b363a475ac583ec7eccdb42b6481424c60f59aa326547f"))));
        Span<byte> p = stackalloc byte[64];
        Assert.True(Secp256k1Ops.TryCreatePublicKey(B("66fb62bfbd66b9177a138c1e5cddbe4f7c30c343e94e68df8769459cb1cde628"), p));
        Assert.Equal("bbbb9d047f0488c0b5a93c1c3f2d8bafc7c8ff337024a55434a0d0555de64db9", Secp256k1Ops.NodeIdOf(p).ToString());
    }

    [Fact]
    public void Sign_is_rfc6979_and_verify_accepts_it_and_rejects_flipped_bit()
    {
        var key = B("fb757dc581730490a1d7a00deea65e9b1936924caaea8f44d476014856b68736");
        var hash = B("f8b18af81856bc494b09db6930f1feebc8bbebc5c1738c58ed5dc1281618ddc0");
        Span<byte> sig = stackalloc byte[64];
        Assert.True(Secp256k1Ops.TrySign(hash, key, sig));
        Assert.Equal("94852a1e2318c4e5e9d422c98eaf19d1d90d876b29cd06ca7cb7546d0fff7b484fe86c09a064fe72bdbef73ba8e9c34df0cd2b53e9d65528c2c7f336d5dfc6e6", S(sig));
        Span<byte> pub = stackalloc byte[64];
        Secp256k1Ops.TryCreatePublicKey(key, pub);
        Assert.True(Secp256k1Ops.Verify(sig, hash, pub));
        sig[5] ^= 1;
        Assert.False(Secp256k1Ops.Verify(sig, hash, pub));
    }

    [Fact]
    public void Aes_gcm_matches_vector()
    {
        using var gcm = new AesGcm(B("9f2d77db7004bf8a1a85107ac686990b"), 16);
        var pt = B("01c20101");
        var ct = new byte[4]; var tag = new byte[16];
        gcm.Encrypt(B("27b5af763c446acd2749fe8e"), pt, ct, tag, B("93a7400fa0d6a694ebc24d5cf570f65d04215b6ac00757875e3f3a5f42107903"));
        Assert.Equal("a5d12a2d94b8ccb3ba55558229867dc13bfa3648", S(ct) + S(tag));
    }

    [Fact]
    public void Aes_ctr_matches_nist_sp800_38a_f51()
    {
        using var ctr = new AesCtr(B("2b7e151628aed2a6abf7158809cf4f3c"));
        var data = B("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        ctr.Transform(B("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"), data);
        Assert.Equal("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff", S(data));
    }

    [Fact]
    public void Header_mask_matches_nist_sp800_38a_f51()
    {
        var data = B("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        HeaderMask.Apply(B("2b7e151628aed2a6abf7158809cf4f3c"), B("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"), data);
        Assert.Equal("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff", S(data));
    }

    [Fact]
    public void Header_mask_agrees_with_the_platform_aes_for_any_key_length_and_offset()
    {
        var rng = new Random(5);
        for (int i = 0; i < 200; i++)
        {
            var key = new byte[16]; var iv = new byte[16];
            rng.NextBytes(key); rng.NextBytes(iv);
            if (i % 10 == 0) iv.AsSpan(8).Fill(0xff);   // the counter carries across bytes
            var data = new byte[rng.Next(0, 200)];
            rng.NextBytes(data);
            int first = rng.Next(0, 5);
            var expected = data.ToArray();
            using (var ctr = new AesCtr(key)) ctr.Transform(iv, expected, first);
            HeaderMask.Apply(key, iv, data, first);
            Assert.Equal(S(expected), S(data));
            if (HeaderMask.Accelerated)
            {
                var again = expected.ToArray();
                new HeaderMask.RoundKeys(key).Apply(iv, again, first);   // applying the stream twice restores the data
                using var ctr2 = new AesCtr(key);
                ctr2.Transform(iv, again, first);
                Assert.Equal(S(expected), S(again));
            }
        }
    }

    [Fact]
    public void Crypto_random_small_draws_never_repeat_across_blocks_and_threads()
    {
        // 8-byte draws over three blocks per thread, on two threads: a block not refilled, or handed out twice, repeats
        int perThread = 3 * CryptoRandom.BlockSize / 8 + 5;
        var draws = new System.Collections.Concurrent.ConcurrentBag<string>();
        void Draw()
        {
            var b = new byte[8];
            for (int i = 0; i < perThread; i++)
            {
                CryptoRandom.Instance.Fill(b);
                draws.Add(Convert.ToHexString(b));
            }
        }
        var t = new Thread(Draw);
        t.Start();
        Draw();
        t.Join();
        Assert.Equal(2 * perThread, draws.Count);
        Assert.Equal(draws.Count, draws.Distinct().Count());
        // a draw larger than the buffered size comes straight from the platform
        var big = new byte[CryptoRandom.MaxBufferedDraw + 1];
        CryptoRandom.Instance.Fill(big);
        Assert.Contains(big, x => x != 0);
    }

    [Fact]
    public void Aes_ctr_counter_carries_across_bytes()
    {
        using var ctr = new AesCtr(new byte[16]);
        var a = new byte[32];
        ctr.Transform(B("000000000000000000000000000000ff"), a);
        var b = new byte[16];
        ctr.Transform(B("00000000000000000000000000000100"), b);
        Assert.Equal(S(b), S(a.AsSpan(16)));
    }

    [Fact]
    public void Aes_ctr_with_block_offset_continues_the_key_stream()
    {
        using var ctr = new AesCtr(B("2b7e151628aed2a6abf7158809cf4f3c"));
        var whole = new byte[100];
        ctr.Transform(B("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"), whole);
        var tail = new byte[36];
        ctr.Transform(B("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"), tail, 4);
        Assert.Equal(S(whole.AsSpan(64)), S(tail));
    }

    [Theory]
    [InlineData("Zm9v=")]
    [InlineData("Zm9+")]
    [InlineData("Zm9/")]
    [InlineData("Zm9 v")]
    [InlineData("Z")]
    [InlineData("Zh")]   // 'h' leaves non-zero trailing bits
    public void Enr_text_rejects_padding_foreign_symbols_and_trailing_bits(string text)
    {
        Assert.False(Enr.TryParse("enr:" + text, out _, out var error));
        Assert.Equal(EnrError.BadBase64, error);
    }

    [Theory]
    [InlineData("8100")]        // single byte < 0x80 wrapped
    [InlineData("817f")]
    [InlineData("b800")]        // long form with leading zero length
    [InlineData("b801ff")]      // long form for a length < 56
    [InlineData("f800")]
    [InlineData("83aabb")]      // truncated
    public void Rlp_rejects_non_canonical_or_truncated_items(string hex)
    {
        var r = new RlpReader(B(hex));
        Assert.False(r.TryReadRaw(out _, out _, out var err));
        Assert.NotEqual(RlpError.None, err);
    }

    [Theory]
    [InlineData("820001", RlpError.NonCanonicalInteger)]
    [InlineData("89010000000000000000", RlpError.IntegerTooLarge)]
    public void Rlp_rejects_bad_integers(string hex, RlpError expected)
    {
        var r = new RlpReader(B(hex));
        Assert.False(r.TryReadUInt64(out _, out var err));
        Assert.Equal(expected, err);
    }

    [Fact]
    public void Rlp_integers_round_trip()
    {
        var rnd = new Random(7);
        Span<byte> buf = stackalloc byte[16];
        for (int i = 0; i < 2000; i++)
        {
            ulong v = (ulong)rnd.NextInt64() >> rnd.Next(64);
            int n = Rlp.WriteUInt64(buf, v);
            Assert.Equal(Rlp.LengthOfUInt64(v), n);
            var r = new RlpReader(buf[..n]);
            Assert.True(r.TryReadUInt64(out ulong back, out _));
            Assert.Equal(v, back);
            Assert.True(r.IsEnd);
        }
    }

    [Fact]
    public void Rlp_byte_strings_round_trip_across_length_forms()
    {
        var rnd = new Random(3);
        foreach (int len in new[] { 0, 1, 2, 55, 56, 57, 255, 256, 1000 })
        {
            var v = new byte[len]; rnd.NextBytes(v);
            var buf = new byte[Rlp.LengthOfBytes(v)];
            Assert.Equal(buf.Length, Rlp.WriteBytes(buf, v));
            var r = new RlpReader(buf);
            Assert.True(r.TryReadBytes(out var back, out _));
            Assert.Equal(v, back.ToArray());
        }
    }
}
