using Org.BouncyCastle.Crypto.Digests;

namespace ClP2p.Discovery.Crypto;

/// <summary>Keccak-256 (the pre-standard SHA-3 padding Ethereum uses; .NET's SHA3_256 is a different function).</summary>
public static class Keccak
{
    [ThreadStatic] private static KeccakDigest? t_digest;

    public static void Hash(ReadOnlySpan<byte> data, Span<byte> output32) => Hash(data, default, output32);

    /// <summary>Hashes the concatenation a || b.</summary>
    public static void Hash(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> output32)
    {
        var d = t_digest ??= new KeccakDigest(256);
        d.BlockUpdate(a);
        if (!b.IsEmpty) d.BlockUpdate(b);
        d.DoFinal(output32);
    }

    public static byte[] Hash(ReadOnlySpan<byte> data)
    {
        var o = new byte[32];
        Hash(data, o);
        return o;
    }
}
