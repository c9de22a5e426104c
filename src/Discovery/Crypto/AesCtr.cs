using System.Security.Cryptography;

namespace ClP2p.Discovery.Crypto;

/// <summary>AES-128-CTR built on an ECB key stream (.NET has no CTR mode). Not thread-safe: one per user.</summary>
public sealed class AesCtr : IDisposable
{
    private readonly Aes _aes;

    public AesCtr(ReadOnlySpan<byte> key16)
    {
        _aes = Aes.Create();
        _aes.Key = key16.ToArray();
    }

    /// <summary>XORs data in place with the key stream starting at counter block iv (128-bit big-endian counter).</summary>
    public void Transform(ReadOnlySpan<byte> iv16, Span<byte> data) => Transform(iv16, data, 0);

    /// <summary>As <see cref="Transform(ReadOnlySpan{byte}, Span{byte})"/>, starting the key stream at block firstBlock.</summary>
    public void Transform(ReadOnlySpan<byte> iv16, Span<byte> data, int firstBlock)
    {
        int blocks = (data.Length + 15) / 16;
        byte[]? rented = null;
        Span<byte> keyStream = blocks * 16 <= 1024 ? stackalloc byte[blocks * 16] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(blocks * 16)).AsSpan(0, blocks * 16);
        Span<byte> counter = stackalloc byte[16];
        iv16.CopyTo(counter);
        AddToCounter(counter, firstBlock);
        for (int b = 0; b < blocks; b++)
        {
            counter.CopyTo(keyStream.Slice(b * 16, 16));
            for (int i = 15; i >= 0; i--) { if (++counter[i] != 0) break; }
        }
        _aes.EncryptEcb(keyStream, keyStream, PaddingMode.None);
        for (int i = 0; i < data.Length; i++) data[i] ^= keyStream[i];
        if (rented != null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
    }

    /// <summary>Adds blocks to a 128-bit big-endian counter block.</summary>
    internal static void AddToCounter(Span<byte> counter, int blocks)
    {
        ulong carry = (ulong)blocks;
        for (int i = 15; i >= 0 && carry != 0; i--)
        {
            ulong v = counter[i] + carry;
            counter[i] = (byte)v;
            carry = v >> 8;
        }
    }

    public void Dispose() => _aes.Dispose();
}
