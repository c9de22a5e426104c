using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ClP2p.Libp2p.Noise;

/// <summary>
/// Noise CipherState with ChaChaPoly: nonce = 4 zero bytes || u64 little-endian counter (noise §5.1, §12.3), the
/// IETF ChaCha20-Poly1305 of RFC 8439. Calls libsodium directly, as <see cref="X25519"/> does: the platform's
/// ChaCha20Poly1305 makes a cipher context per key (a dial keys five: the handshake's MixKeys and the two transport
/// directions) and re-initialises it, and clears the error queue, on every frame.
/// </summary>
internal sealed partial class CipherState : IDisposable
{
    public const int TagSize = 16;
    private const int KeySize = 32;
    private readonly byte[] _key = new byte[KeySize];
    private bool _hasKey;
    private ulong _nonce;

    static CipherState() => X25519.EnsureInitialized();

    public bool HasKey => _hasKey;

    public ulong Nonce => _nonce;

    public void InitializeKey(ReadOnlySpan<byte> key32)
    {
        if (key32.Length != KeySize) throw new ArgumentException($"a ChaChaPoly key is {KeySize} bytes, not {key32.Length}", nameof(key32));
        key32.CopyTo(_key);
        _hasKey = true;
        _nonce = 0;
    }

    /// <summary>Encrypts <paramref name="plaintext"/> into <paramref name="output"/> (ciphertext || tag). In place is allowed.</summary>
    public int EncryptWithAd(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        if (!_hasKey)
        {
            plaintext.CopyTo(output);
            return plaintext.Length;
        }
        if (_nonce == ulong.MaxValue)
        {
            throw new CryptographicException("noise nonce exhausted");
        }
        if (output.Length < plaintext.Length + TagSize) throw new ArgumentException("output too short for the ciphertext and its tag", nameof(output));
        Span<byte> nonce = stackalloc byte[12];
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], _nonce);
        if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(output[..plaintext.Length], output.Slice(plaintext.Length, TagSize), out _,
                plaintext, (ulong)plaintext.Length, ad, (ulong)ad.Length, IntPtr.Zero, nonce, _key) != 0)
        {
            throw new CryptographicException("ChaChaPoly encryption failed");
        }
        _nonce++;
        return plaintext.Length + TagSize;
    }

    /// <summary>Decrypts (ciphertext || tag) into <paramref name="output"/>; false when authentication fails.</summary>
    public bool TryDecryptWithAd(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> ciphertext, Span<byte> output, out int written)
    {
        written = 0;
        if (!_hasKey)
        {
            ciphertext.CopyTo(output);
            written = ciphertext.Length;
            return true;
        }
        if (ciphertext.Length < TagSize || _nonce == ulong.MaxValue)
        {
            return false;
        }
        int plaintextLength = ciphertext.Length - TagSize;
        if (output.Length < plaintextLength) return false;
        Span<byte> nonce = stackalloc byte[12];
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], _nonce);
        // libsodium checks the tag before it decrypts; on a mismatch it clears the output (as the platform cipher does)
        if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(output[..plaintextLength], IntPtr.Zero, ciphertext[..plaintextLength],
                (ulong)plaintextLength, ciphertext[plaintextLength..], ad, (ulong)ad.Length, nonce, _key) != 0)
        {
            return false;
        }
        _nonce++;
        written = plaintextLength;
        return true;
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_key);
        _hasKey = false;
    }

    [LibraryImport(X25519.Sodium)]
    private static partial int crypto_aead_chacha20poly1305_ietf_encrypt_detached(Span<byte> c, Span<byte> mac, out ulong maclen,
        ReadOnlySpan<byte> m, ulong mlen, ReadOnlySpan<byte> ad, ulong adlen, IntPtr nsec, ReadOnlySpan<byte> npub, ReadOnlySpan<byte> k);

    [LibraryImport(X25519.Sodium)]
    private static partial int crypto_aead_chacha20poly1305_ietf_decrypt_detached(Span<byte> m, IntPtr nsec, ReadOnlySpan<byte> c, ulong clen,
        ReadOnlySpan<byte> mac, ReadOnlySpan<byte> ad, ulong adlen, ReadOnlySpan<byte> npub, ReadOnlySpan<byte> k);
}
