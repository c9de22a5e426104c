using System.Security.Cryptography;

namespace ClP2p.Discovery.Crypto;

/// <summary>Source of the random bytes discv5 needs (nonces, masking IVs, id-nonces, ephemeral keys, request ids).
/// Tests inject a fixed source to replay vectors.</summary>
public interface IDiscoveryRandom
{
    void Fill(Span<byte> destination);
}

/// <summary>The default cryptographic random source.</summary>
public sealed class CryptoRandom : IDiscoveryRandom
{
    public static readonly CryptoRandom Instance = new();
    public void Fill(Span<byte> destination) => RandomNumberGenerator.Fill(destination);
}
