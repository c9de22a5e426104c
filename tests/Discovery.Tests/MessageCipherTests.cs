using System.Security.Cryptography;
using ClP2p.Discovery.Crypto;
using static ClP2p.Discovery.Tests.Hex;

namespace ClP2p.Discovery.Tests;

/// <summary>
/// The session cipher (AES-128-GCM computed with the CPU's AES and carry-less multiply instructions): the discv5 and
/// GCM specification vectors, and agreement with the platform's AES-GCM (OpenSSL) on every length of message and
/// associated data a packet can have; a changed bit anywhere fails authentication and leaves the output untouched.
/// </summary>
public sealed class MessageCipherTests
{
    [Fact]
    public void This_machine_uses_its_own_instructions_so_the_tests_below_check_them_against_the_platform()
    {
        Assert.True(MessageCipher.Accelerated);
    }

    // discv5-wire-test-vectors.md "Encryption/Decryption"; then "The Galois/Counter Mode of Operation (GCM)" (McGrew and
    // Viega), test cases 1-4 (AES-128)
    [Theory]
    [InlineData("9f2d77db7004bf8a1a85107ac686990b", "27b5af763c446acd2749fe8e", "01c20101", "93a7400fa0d6a694ebc24d5cf570f65d04215b6ac00757875e3f3a5f42107903", "a5d12a2d", "94b8ccb3ba55558229867dc13bfa3648")]
    [InlineData("00000000000000000000000000000000", "000000000000000000000000", "", "", "", "58e2fccefa7e3061367f1d57a4e7455a")]
    [InlineData("00000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "", "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf")]
    [InlineData("feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255", "",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985", "4d5c2af327cd64a62cf35abd2ba6fab4")]
    [InlineData("feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091", "5bc94fbc3221a5db94fae95ae7121a47")]
    public void Vectors(string key, string nonce, string plaintext, string ad, string ciphertext, string tag)
    {
        using var cipher = new MessageCipher(B(key));
        var pt = B(plaintext);
        var ct = new byte[pt.Length];
        var t = new byte[16];
        cipher.Encrypt(B(nonce), pt, ct, t, B(ad));
        Assert.Equal(ciphertext, S(ct));
        Assert.Equal(tag, S(t));
        var back = new byte[ct.Length];
        Assert.True(cipher.TryDecrypt(B(nonce), ct, t, back, B(ad)));
        Assert.Equal(plaintext, S(back));
    }

    [Fact]
    public void Agrees_with_the_platform_on_every_length_and_rejects_any_changed_bit_leaving_the_output_untouched()
    {
        var rng = new Random(20261205);
        for (int round = 0; round < 1500; round++)
        {
            var key = new byte[16];
            var nonce = new byte[12];
            rng.NextBytes(key);
            rng.NextBytes(nonce);
            // every length up to a whole packet, the block boundaries most often
            int length = round < 300 ? round : rng.Next(0, 1300);
            int adLength = round % 5 == 0 ? 0 : rng.Next(0, 200);
            var pt = new byte[length];
            var ad = new byte[adLength];
            rng.NextBytes(pt);
            rng.NextBytes(ad);
            using var ours = new MessageCipher(key);
            using var platform = new AesGcm(key, 16);
            var ct = new byte[length];
            var tag = new byte[16];
            ours.Encrypt(nonce, pt, ct, tag, ad);
            var ct2 = new byte[length];
            var tag2 = new byte[16];
            platform.Encrypt(nonce, pt, ct2, tag2, ad);
            Assert.Equal(ct2, ct);
            Assert.Equal(tag2, tag);

            var back = new byte[length];
            Assert.True(ours.TryDecrypt(nonce, ct, tag, back, ad));
            Assert.Equal(pt, back);

            // one changed bit: in the ciphertext, the tag, the associated data or the nonce
            var sentinel = new byte[length];
            Array.Fill(sentinel, (byte)0x5a);
            var output = (byte[])sentinel.Clone();
            int which = round % 4;
            if (which == 0 && length == 0) which = 1;
            if (which == 2 && adLength == 0) which = 3;
            var (c, t, a, n) = ((byte[])ct.Clone(), (byte[])tag.Clone(), (byte[])ad.Clone(), (byte[])nonce.Clone());
            var target = which switch { 0 => c, 1 => t, 2 => a, _ => n };
            target[rng.Next(target.Length)] ^= (byte)(1 << rng.Next(8));
            Assert.False(ours.TryDecrypt(n, c, t, output, a), $"round {round}: a changed bit in part {which} went unnoticed");
            Assert.Equal(sentinel, output);
        }
    }

    [Fact]
    public void Encrypts_and_decrypts_in_place()
    {
        var key = RandomNumberGenerator.GetBytes(16);
        var nonce = RandomNumberGenerator.GetBytes(12);
        var ad = RandomNumberGenerator.GetBytes(32);
        var pt = RandomNumberGenerator.GetBytes(1100);
        using var cipher = new MessageCipher(key);
        using var platform = new AesGcm(key, 16);
        var expected = new byte[pt.Length];
        var expectedTag = new byte[16];
        platform.Encrypt(nonce, pt, expected, expectedTag, ad);
        var buffer = (byte[])pt.Clone();
        var tag = new byte[16];
        cipher.Encrypt(nonce, buffer, buffer, tag, ad);
        Assert.Equal(expected, buffer);
        Assert.Equal(expectedTag, tag);
        Assert.True(cipher.TryDecrypt(nonce, buffer, tag, buffer, ad));
        Assert.Equal(pt, buffer);
        // overlapping at different offsets is refused rather than computed wrong
        Assert.Throws<ArgumentException>(() => cipher.Encrypt(nonce, buffer.AsSpan(0, 100), buffer.AsSpan(16, 100), tag, ad));
    }
}
