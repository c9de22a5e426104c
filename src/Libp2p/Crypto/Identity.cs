using System.Security.Cryptography;
using NSec.Cryptography;
using Secp256k1Net;

namespace ClP2p.Libp2p.Crypto;

/// <summary>Our libp2p identity: a private key with its <see cref="Crypto.PublicKey"/> and <see cref="Crypto.PeerId"/>.</summary>
public sealed class Identity
{
    private readonly byte[]? _secp256k1Secret;
    private readonly Key? _ed25519;

    private Identity(byte[]? secp, Key? ed, PublicKey publicKey)
    {
        _secp256k1Secret = secp;
        _ed25519 = ed;
        PublicKey = publicKey;
        PeerId = PeerId.FromPublicKey(publicKey);
    }

    public PublicKey PublicKey { get; }

    public PeerId PeerId { get; }

    public KeyType KeyType => PublicKey.Type;

    public static Identity GenerateSecp256k1()
    {
        Span<byte> sk = stackalloc byte[32];
        do
        {
            RandomNumberGenerator.Fill(sk);
        }
        while (!Secp256k1.IsValidSecretKey(sk));
        return FromSecp256k1PrivateKey(sk);
    }

    /// <summary>A secp256k1 identity from its 32-byte secret (e.g. the crawler's persisted node key).</summary>
    public static Identity FromSecp256k1PrivateKey(ReadOnlySpan<byte> secret32)
    {
        if (secret32.Length != 32 || !Secp256k1.IsValidSecretKey(secret32))
        {
            throw new ArgumentException("not a valid 32-byte secp256k1 secret key", nameof(secret32));
        }
        byte[] pub = Secp256k1.CreatePublicKey(secret32, true);
        return new Identity(secret32.ToArray(), null, PublicKey.FromSecp256k1(pub));
    }

    public static Identity GenerateEd25519()
    {
        var key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return new Identity(null, key, PublicKey.FromEd25519(key.PublicKey.Export(KeyBlobFormat.RawPublicKey)));
    }

    /// <summary>An Ed25519 identity from its 32-byte seed.</summary>
    public static Identity FromEd25519Seed(ReadOnlySpan<byte> seed32)
    {
        var key = Key.Import(SignatureAlgorithm.Ed25519, seed32, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return new Identity(null, key, PublicKey.FromEd25519(key.PublicKey.Export(KeyBlobFormat.RawPublicKey)));
    }

    /// <summary>The 32-byte secp256k1 secret, or null for other key types.</summary>
    public byte[]? ExportSecp256k1PrivateKey() => (byte[]?)_secp256k1Secret?.Clone();

    /// <summary>Signs per peer-ids.md: secp256k1 = DER, low-S ECDSA over sha256(message); Ed25519 = 64 raw bytes.</summary>
    public byte[] Sign(ReadOnlySpan<byte> message)
    {
        if (_secp256k1Secret is not null)
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(message, hash);
            // libsecp256k1 signs with RFC 6979 nonces and always emits low-S.
            byte[] compact = Secp256k1.Sign(hash, _secp256k1Secret);
            return Secp256k1.SignatureToDer(compact);
        }
        return SignatureAlgorithm.Ed25519.Sign(_ed25519!, message);
    }
}
