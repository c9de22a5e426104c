using System.Security.Cryptography;

namespace ClP2p.Discovery.Crypto;

/// <summary>Source of the random bytes discv5 needs (nonces, masking IVs, id-nonces, ephemeral keys, request ids).
/// Tests inject a fixed source to replay vectors.</summary>
public interface IDiscoveryRandom
{
    void Fill(Span<byte> destination);
}

/// <summary>
/// The default cryptographic random source. Every packet we send takes three small draws (request id, masking IV,
/// nonce); one call into the platform's generator per draw cost more than the packet's AES (OpenSSL takes a lock and
/// checks its process id on each call). So small draws come from a per-thread block of the same generator's output,
/// drawn <see cref="BlockSize"/> bytes at a time; each byte is handed out once.
/// </summary>
public sealed class CryptoRandom : IDiscoveryRandom
{
    public static readonly CryptoRandom Instance = new();

    /// <summary>Bytes taken from the platform's generator at once, per thread.</summary>
    public const int BlockSize = 4096;

    /// <summary>Draws larger than this go to the platform's generator directly.</summary>
    public const int MaxBufferedDraw = 64;

    [ThreadStatic] private static byte[]? t_block;
    [ThreadStatic] private static int t_used;

    public void Fill(Span<byte> destination)
    {
        if (destination.Length > MaxBufferedDraw)
        {
            RandomNumberGenerator.Fill(destination);
            return;
        }
        var block = t_block;
        if (block is null || t_used + destination.Length > BlockSize)
        {
            block ??= t_block = new byte[BlockSize];
            RandomNumberGenerator.Fill(block);
            t_used = 0;
        }
        var take = block.AsSpan(t_used, destination.Length);
        take.CopyTo(destination);
        // what was handed out is not kept: a later read of this memory shows nothing already used
        take.Clear();
        t_used += destination.Length;
    }
}
