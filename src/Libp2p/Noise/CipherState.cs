using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ClP2p.Libp2p.Noise;

/// <summary>Noise CipherState with ChaChaPoly: nonce = 4 zero bytes || u64 little-endian counter (noise §5.1, §12.3).</summary>
internal sealed class CipherState : IDisposable
{
    public const int TagSize = 16;
    private ChaCha20Poly1305? _aead;
    private ulong _nonce;

    public bool HasKey => _aead is not null;

    public ulong Nonce => _nonce;

    public void InitializeKey(ReadOnlySpan<byte> key32)
    {
        _aead?.Dispose();
        _aead = new ChaCha20Poly1305(key32);
        _nonce = 0;
    }

    /// <summary>Encrypts <paramref name="plaintext"/> into <paramref name="output"/> (ciphertext || tag). In place is allowed.</summary>
    public int EncryptWithAd(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        if (_aead is null)
        {
            plaintext.CopyTo(output);
            return plaintext.Length;
        }
        if (_nonce == ulong.MaxValue)
        {
            throw new CryptographicException("noise nonce exhausted");
        }
        Span<byte> nonce = stackalloc byte[12];
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], _nonce);
        _aead.Encrypt(nonce, plaintext, output[..plaintext.Length], output.Slice(plaintext.Length, TagSize), ad);
        _nonce++;
        return plaintext.Length + TagSize;
    }

    /// <summary>Decrypts (ciphertext || tag) into <paramref name="output"/>; false when authentication fails.</summary>
    public bool TryDecryptWithAd(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> ciphertext, Span<byte> output, out int written)
    {
        written = 0;
        if (_aead is null)
        {
            ciphertext.CopyTo(output);
            written = ciphertext.Length;
            return true;
        }
        if (ciphertext.Length < TagSize || _nonce == ulong.MaxValue)
        {
            return false;
        }
        Span<byte> nonce = stackalloc byte[12];
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], _nonce);
        int plaintextLength = ciphertext.Length - TagSize;
        try
        {
            _aead.Decrypt(nonce, ciphertext[..plaintextLength], ciphertext[plaintextLength..], output[..plaintextLength], ad);
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
        _nonce++;
        written = plaintextLength;
        return true;
    }

    public void Dispose() => _aead?.Dispose();
}
