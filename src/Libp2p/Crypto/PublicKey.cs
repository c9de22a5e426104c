using System.Buffers;
using System.Security.Cryptography;
using ClP2p.Libp2p.Codecs;
using Secp256k1Net;

namespace ClP2p.Libp2p.Crypto;

/// <summary>libp2p key types (peer-ids.md, <c>enum KeyType</c>).</summary>
public enum KeyType
{
    Rsa = 0,
    Ed25519 = 1,
    Secp256k1 = 2,
    Ecdsa = 3,
}

/// <summary>
/// A libp2p public key: the protobuf <c>PublicKey { required KeyType Type = 1; required bytes Data = 2; }</c>
/// (peer-ids.md). Keeps the exact protobuf bytes it was decoded from, since the peer id hashes them.
/// </summary>
public sealed class PublicKey : IEquatable<PublicKey>
{
    /// <summary>Compressed secp256k1 public key size.</summary>
    public const int Secp256k1Size = 33;
    /// <summary>Ed25519 public key size.</summary>
    public const int Ed25519Size = 32;
    /// <summary>Upper bound for a key protobuf we accept (RSA keys are at most a few KiB; peer-ids.md caps RSA at 16384 bits).</summary>
    public const int MaxProtobufSize = 4096;

    /// <summary>n / 2 for secp256k1, big-endian: an S above it is "high".</summary>
    private static ReadOnlySpan<byte> Secp256k1HalfOrder =>
    [
        0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
    ];

    private readonly byte[] _data;
    private readonly byte[] _protobuf;

    private PublicKey(KeyType type, byte[] data, byte[] protobuf)
    {
        Type = type;
        _data = data;
        _protobuf = protobuf;
    }

    public KeyType Type { get; }

    /// <summary>The raw key bytes (33-byte compressed secp256k1, 32-byte Ed25519, DER for RSA/ECDSA).</summary>
    public ReadOnlySpan<byte> Data => _data;

    /// <summary>The protobuf encoding as received or produced.</summary>
    public ReadOnlySpan<byte> Protobuf => _protobuf;

    public byte[] ToProtobuf() => (byte[])_protobuf.Clone();

    public static PublicKey FromSecp256k1(ReadOnlySpan<byte> compressed33)
    {
        if (compressed33.Length != Secp256k1Size || !Secp256k1.IsValidPublicKey(compressed33))
        {
            throw new ArgumentException("not a valid 33-byte compressed secp256k1 public key", nameof(compressed33));
        }
        return Create(KeyType.Secp256k1, compressed33.ToArray());
    }

    /// <summary>
    /// As <see cref="FromSecp256k1"/> for a key already known to be a point of the curve: the key of a record whose
    /// signature was verified with it (an ENR's). The point is not parsed again (~4.4 µs each, the square root of the
    /// decompression); only the length is checked.
    /// </summary>
    public static PublicKey FromVerifiedSecp256k1(ReadOnlySpan<byte> compressed33)
    {
        if (compressed33.Length != Secp256k1Size)
        {
            throw new ArgumentException("a compressed secp256k1 public key is 33 bytes", nameof(compressed33));
        }
        return Create(KeyType.Secp256k1, compressed33.ToArray());
    }

    public static PublicKey FromEd25519(ReadOnlySpan<byte> raw32)
    {
        if (raw32.Length != Ed25519Size)
        {
            throw new ArgumentException("an Ed25519 public key is 32 bytes", nameof(raw32));
        }
        return Create(KeyType.Ed25519, raw32.ToArray());
    }

    private static PublicKey Create(KeyType type, byte[] data)
    {
        var buffer = new ArrayBufferWriter<byte>(data.Length + 8);
        var w = new ProtoWriter(buffer);
        w.WriteVarintField(1, (ulong)type);
        w.WriteBytesField(2, data);
        return new PublicKey(type, data, buffer.WrittenSpan.ToArray());
    }

    /// <summary>Decodes a PublicKey protobuf; unknown fields are skipped. Secp256k1 and Ed25519 keys are validated.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> protobuf, out PublicKey? key, out string? error)
    {
        key = null;
        error = null;
        if (protobuf.Length > MaxProtobufSize)
        {
            error = "public key protobuf too large";
            return false;
        }
        var r = new ProtoReader(protobuf);
        ulong? type = null;
        ReadOnlySpan<byte> data = default;
        bool haveData = false;
        while (!r.End)
        {
            if (!r.TryReadTag(out int field, out var wt))
            {
                error = "bad protobuf tag";
                return false;
            }
            if (field == 1 && wt == WireType.Varint)
            {
                if (!r.TryReadVarint(out ulong t))
                {
                    error = "bad key type";
                    return false;
                }
                type = t;
            }
            else if (field == 2 && wt == WireType.LengthDelimited)
            {
                if (!r.TryReadBytes(out data))
                {
                    error = "bad key data";
                    return false;
                }
                haveData = true;
            }
            else if (!r.TrySkip(wt))
            {
                error = "bad protobuf field";
                return false;
            }
        }
        if (type is null || !haveData)
        {
            error = "missing key type or data";
            return false;
        }
        switch ((KeyType)type.Value)
        {
            case KeyType.Secp256k1:
                if (data.Length != Secp256k1Size || !Secp256k1.IsValidPublicKey(data))
                {
                    error = "invalid secp256k1 public key";
                    return false;
                }
                break;
            case KeyType.Ed25519:
                if (data.Length != Ed25519Size)
                {
                    error = "invalid Ed25519 public key length";
                    return false;
                }
                break;
            case KeyType.Rsa:
            case KeyType.Ecdsa:
                break;
            default:
                error = "unknown key type";
                return false;
        }
        key = new PublicKey((KeyType)type.Value, data.ToArray(), protobuf.ToArray());
        return true;
    }

    /// <summary>
    /// Verifies a libp2p signature over <paramref name="message"/> (peer-ids.md "Signing"): secp256k1 = DER ECDSA
    /// over sha256 (high-S is normalised first), Ed25519 = raw 64 bytes, RSA = PKCS#1 v1.5 SHA-256, ECDSA = DER P-256 SHA-256.
    /// Returns false for every malformed input.
    /// </summary>
    public bool Verify(ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        try
        {
            switch (Type)
            {
                case KeyType.Secp256k1:
                {
                    if (signature.Length is < 8 or > 72)
                    {
                        return false;
                    }
                    Span<byte> hash = stackalloc byte[32];
                    SHA256.HashData(message, hash);
                    byte[] compact = Secp256k1.SignatureFromDer(signature);
                    // libsecp256k1 only verifies low-S; other implementations may send high-S, so normalise those.
                    if (compact.AsSpan(32, 32).SequenceCompareTo(Secp256k1HalfOrder) > 0)
                    {
                        compact = Secp256k1.NormalizeSignature(compact);
                    }
                    return Secp256k1.Verify(compact, hash, _data);
                }
                case KeyType.Ed25519:
                {
                    if (signature.Length != 64)
                    {
                        return false;
                    }
                    var pk = NSec.Cryptography.PublicKey.Import(NSec.Cryptography.SignatureAlgorithm.Ed25519, _data, NSec.Cryptography.KeyBlobFormat.RawPublicKey);
                    return NSec.Cryptography.SignatureAlgorithm.Ed25519.Verify(pk, message, signature);
                }
                case KeyType.Rsa:
                {
                    using var rsa = RSA.Create();
                    rsa.ImportSubjectPublicKeyInfo(_data, out _);
                    return rsa.VerifyData(message, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                }
                case KeyType.Ecdsa:
                {
                    using var ec = ECDsa.Create();
                    ec.ImportSubjectPublicKeyInfo(_data, out _);
                    return ec.VerifyData(message, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
                }
                default:
                    return false;
            }
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    public bool Equals(PublicKey? other) => other is not null && Type == other.Type && _data.AsSpan().SequenceEqual(other._data);

    public override bool Equals(object? obj) => Equals(obj as PublicKey);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Type);
        h.AddBytes(_data);
        return h.ToHashCode();
    }

    public override string ToString() => $"{Type}:{Convert.ToHexStringLower(_data)}";
}
