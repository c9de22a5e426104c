using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ClP2p.Libp2p.Noise;

/// <summary>
/// X25519 over spans, calling libsodium (shipped with NSec.Cryptography) directly: no key objects or handles per
/// operation on the handshake hot path. Its static constructor initialises libsodium for <see cref="CipherState"/> too.
/// </summary>
internal static partial class X25519
{
    public const int KeySize = 32;
    internal const string Sodium = "libsodium";

    static X25519()
    {
        if (sodium_init() < 0)
        {
            throw new CryptographicException("libsodium failed to initialise");
        }
    }

    /// <summary>Runs the static constructor (libsodium's sodium_init) for the other callers of libsodium.</summary>
    internal static void EnsureInitialized() { }

    /// <summary>Public key of a (clamped by libsodium) private scalar.</summary>
    public static void PublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey)
    {
        if (privateKey.Length != KeySize || publicKey.Length < KeySize || crypto_scalarmult_curve25519_base(publicKey, privateKey) != 0)
        {
            throw new CryptographicException("X25519 public key derivation failed");
        }
    }

    /// <summary>DH(priv, pub); false for low-order points (all-zero output), which Noise must reject.</summary>
    public static bool TryAgree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey, Span<byte> shared)
    {
        if (privateKey.Length != KeySize || publicKey.Length != KeySize || shared.Length < KeySize)
        {
            return false;
        }
        return crypto_scalarmult_curve25519(shared, privateKey, publicKey) == 0;
    }

    [LibraryImport(Sodium)]
    private static partial int sodium_init();

    [LibraryImport(Sodium)]
    private static partial int crypto_scalarmult_curve25519(Span<byte> q, ReadOnlySpan<byte> n, ReadOnlySpan<byte> p);

    [LibraryImport(Sodium)]
    private static partial int crypto_scalarmult_curve25519_base(Span<byte> q, ReadOnlySpan<byte> n);
}
