using Secp256k1Net;

namespace ClP2p.Discovery.Crypto;

/// <summary>
/// secp256k1 through the native libsecp256k1 (Secp256k1.Net). Public keys travel as 64-byte opaque
/// parsed objects inside this class and as 33-byte compressed keys outside it.
/// Each thread uses its own context, so every method is safe to call from any thread.
/// </summary>
public static class Secp256k1Ops
{
    public const int PrivateKeySize = 32;
    public const int CompressedSize = 33;
    public const int ParsedSize = 64;
    public const int SignatureSize = 64;

    [ThreadStatic] private static Secp256k1? t_ctx;
    private static readonly ErrorCallbackDelegate IgnoreErrors = static (_, _) => { };

    // One context per thread: libsecp256k1 contexts are not safe for concurrent use by this wrapper.
    // Illegal-argument callbacks are ignored (the calls then just return 0) instead of aborting the process.
    private static Secp256k1 Ctx => t_ctx ??= new Secp256k1(IgnoreErrors);

    /// <summary>Parses a compressed (33) or uncompressed (65) public key into its opaque 64-byte form.</summary>
    public static bool TryParsePublicKey(ReadOnlySpan<byte> serialized, Span<byte> parsed64)
    {
        if (serialized.Length != 33 && serialized.Length != 65) return false;
        return Ctx.EcPubkeyParse(parsed64, serialized);
    }

    public static void SerializeCompressed(ReadOnlySpan<byte> parsed64, Span<byte> out33)
    {
        Span<byte> tmp = stackalloc byte[65];
        nuint len = 65;
        Ctx.EcPubkeySerialize(tmp, ref len, parsed64, Secp256k1EcFlags.Compressed);
        tmp[..33].CopyTo(out33);
    }

    public static void SerializeUncompressed(ReadOnlySpan<byte> parsed64, Span<byte> out65)
    {
        nuint len = 65;
        Ctx.EcPubkeySerialize(out65, ref len, parsed64, Secp256k1EcFlags.Uncompressed);
    }

    public static bool IsValidPrivateKey(ReadOnlySpan<byte> key) => key.Length == 32 && Ctx.EcSeckeyVerify(key);

    public static bool TryCreatePublicKey(ReadOnlySpan<byte> privateKey, Span<byte> parsed64) =>
        privateKey.Length == 32 && Ctx.EcPubkeyCreate(parsed64, privateKey);

    /// <summary>The 33-byte compressed public key of a private key.</summary>
    public static byte[] CompressedPublicKey(ReadOnlySpan<byte> privateKey)
    {
        Span<byte> p = stackalloc byte[64];
        if (!TryCreatePublicKey(privateKey, p)) throw new ArgumentException("invalid secp256k1 private key", nameof(privateKey));
        var o = new byte[33];
        SerializeCompressed(p, o);
        return o;
    }

    /// <summary>node-id = keccak256(x || y) of the uncompressed key (EIP-778 "v4").</summary>
    public static NodeId NodeIdOf(ReadOnlySpan<byte> parsed64)
    {
        Span<byte> uncompressed = stackalloc byte[65];
        SerializeUncompressed(parsed64, uncompressed);
        Span<byte> hash = stackalloc byte[32];
        Keccak.Hash(uncompressed[1..], hash);
        return new NodeId(hash);
    }

    /// <summary>Signs a 32-byte hash (RFC 6979 nonce, low-S) into 64-byte r || s.</summary>
    public static bool TrySign(ReadOnlySpan<byte> hash32, ReadOnlySpan<byte> privateKey, Span<byte> sig64)
    {
        Span<byte> signature = stackalloc byte[64];
        if (!Ctx.EcdsaSign(signature, hash32, privateKey)) return false;
        return Ctx.EcdsaSignatureSerializeCompact(sig64, signature);
    }

    /// <summary>Verifies a 64-byte r || s signature. High-S signatures are normalized first (other stacks accept them).</summary>
    public static bool Verify(ReadOnlySpan<byte> sig64, ReadOnlySpan<byte> hash32, ReadOnlySpan<byte> parsed64)
    {
        if (sig64.Length != 64 || hash32.Length != 32) return false;
        Span<byte> signature = stackalloc byte[64];
        if (!Ctx.EcdsaSignatureParseCompact(signature, sig64)) return false;
        Span<byte> normalized = stackalloc byte[64];
        Ctx.EcdsaSignatureNormalize(normalized, signature);
        return Ctx.EcdsaVerify(normalized, hash32, parsed64);
    }

    /// <summary>
    /// discv5 ECDH: the 33-byte compressed shared point pub * priv (not libsecp256k1's hashed ECDH).
    /// </summary>
    public static bool TryEcdh(ReadOnlySpan<byte> parsedPublic64, ReadOnlySpan<byte> privateKey, Span<byte> shared33)
    {
        Span<byte> point = stackalloc byte[64];
        parsedPublic64.CopyTo(point);
        if (!Ctx.EcPubkeyTweakMul(point, privateKey)) return false;
        SerializeCompressed(point, shared33);
        return true;
    }

    /// <summary>Generates a valid private key from a random source.</summary>
    public static void GeneratePrivateKey(IDiscoveryRandom random, Span<byte> key32)
    {
        do { random.Fill(key32); } while (!IsValidPrivateKey(key32));
    }
}
