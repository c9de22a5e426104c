using System.Security.Cryptography;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Discovery.Sessions;

/// <summary>discv5-theory.md "Handshake Steps" / discv5-wire.md: key derivation and the id-nonce signature.</summary>
public static class HandshakeCrypto
{
    public const int KeySize = 16;
    private static ReadOnlySpan<byte> KeyAgreementInfo => "discovery v5 key agreement"u8;
    private static ReadOnlySpan<byte> IdProofPrefix => "discovery v5 identity proof"u8;

    /// <summary>
    /// prk = HKDF-Extract(salt = challenge-data, ikm = secret); okm = HKDF-Expand(prk, "discovery v5 key agreement" || id-A || id-B, 32).
    /// initiator-key = okm[0:16], recipient-key = okm[16:32]. A = the node that sends the handshake.
    /// </summary>
    public static void DeriveKeys(ReadOnlySpan<byte> secret33, ReadOnlySpan<byte> challengeData, NodeId initiator, NodeId recipient,
        Span<byte> initiatorKey, Span<byte> recipientKey)
    {
        Span<byte> prk = stackalloc byte[32];
        HKDF.Extract(HashAlgorithmName.SHA256, secret33, challengeData, prk);
        Span<byte> info = stackalloc byte[26 + 64];
        KeyAgreementInfo.CopyTo(info);
        initiator.CopyTo(info[26..]);
        recipient.CopyTo(info[58..]);
        Span<byte> okm = stackalloc byte[32];
        HKDF.Expand(HashAlgorithmName.SHA256, prk, okm, info);
        okm[..16].CopyTo(initiatorKey);
        okm[16..].CopyTo(recipientKey);
    }

    private static void IdProofHash(ReadOnlySpan<byte> challengeData, ReadOnlySpan<byte> ephemeralPublicKey, NodeId destination, Span<byte> hash)
    {
        Span<byte> input = stackalloc byte[27 + challengeData.Length + 33 + 32];
        IdProofPrefix.CopyTo(input);
        challengeData.CopyTo(input[27..]);
        ephemeralPublicKey.CopyTo(input[(27 + challengeData.Length)..]);
        destination.CopyTo(input[(27 + challengeData.Length + 33)..]);
        SHA256.HashData(input, hash);
    }

    /// <summary>id-signature = sign(sha256("discovery v5 identity proof" || challenge-data || ephemeral-pubkey || node-id-B)).</summary>
    public static bool TrySignIdNonce(ReadOnlySpan<byte> staticPrivateKey, ReadOnlySpan<byte> challengeData, ReadOnlySpan<byte> ephemeralPublicKey, NodeId destination, Span<byte> signature64)
    {
        Span<byte> idProof = stackalloc byte[32];
        IdProofHash(challengeData, ephemeralPublicKey, destination, idProof);
        return Secp256k1Ops.TrySign(idProof, staticPrivateKey, signature64);
    }

    public static bool VerifyIdNonce(ReadOnlySpan<byte> parsedPublicKey64, ReadOnlySpan<byte> challengeData, ReadOnlySpan<byte> ephemeralPublicKey, NodeId destination, ReadOnlySpan<byte> signature64)
    {
        Span<byte> idProof = stackalloc byte[32];
        IdProofHash(challengeData, ephemeralPublicKey, destination, idProof);
        return Secp256k1Ops.Verify(signature64, idProof, parsedPublicKey64);
    }
}
