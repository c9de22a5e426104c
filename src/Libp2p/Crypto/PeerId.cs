using System.Security.Cryptography;
using ClP2p.Libp2p.Codecs;

namespace ClP2p.Libp2p.Crypto;

/// <summary>
/// A libp2p peer id (peer-ids.md): the multihash of the PublicKey protobuf, identity (0x00) when the protobuf is
/// at most 42 bytes, else sha2-256 (0x12). Text form is base58btc of the multihash.
/// </summary>
public readonly struct PeerId : IEquatable<PeerId>
{
    /// <summary>"keys that are 42 bytes or smaller MUST be inlined with the identity multihash".</summary>
    public const int MaxInlineKeyLength = 42;
    private const byte IdentityCode = 0x00;
    private const byte Sha256Code = 0x12;

    private readonly byte[]? _multihash;

    private PeerId(byte[] multihash) => _multihash = multihash;

    /// <summary>The multihash bytes.</summary>
    public ReadOnlySpan<byte> Bytes => _multihash;

    public bool IsEmpty => _multihash is null;

    public static PeerId FromPublicKey(PublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var proto = key.Protobuf;
        if (proto.Length <= MaxInlineKeyLength)
        {
            var mh = new byte[2 + proto.Length];
            mh[0] = IdentityCode;
            mh[1] = (byte)proto.Length;
            proto.CopyTo(mh.AsSpan(2));
            return new PeerId(mh);
        }
        var sha = new byte[34];
        sha[0] = Sha256Code;
        sha[1] = 32;
        SHA256.HashData(proto, sha.AsSpan(2));
        return new PeerId(sha);
    }

    /// <summary>Peer id of a secp256k1 identity given its 33-byte compressed key (e.g. the ENR "secp256k1" entry).</summary>
    public static PeerId FromSecp256k1PublicKey(ReadOnlySpan<byte> compressed33) => FromPublicKey(PublicKey.FromSecp256k1(compressed33));

    /// <summary>The peer id of a key a record's signature was verified with (see
    /// <see cref="PublicKey.FromVerifiedSecp256k1"/>): the same id, without parsing the point again.</summary>
    public static PeerId FromVerifiedSecp256k1PublicKey(ReadOnlySpan<byte> compressed33) => FromPublicKey(PublicKey.FromVerifiedSecp256k1(compressed33));

    /// <summary>As <see cref="FromSecp256k1PublicKey"/>, but false (no exception) for a key that is not a valid compressed point.</summary>
    public static bool TryFromSecp256k1PublicKey(ReadOnlySpan<byte> compressed33, out PeerId peerId)
    {
        peerId = default;
        if (compressed33.Length != PublicKey.Secp256k1Size || !Secp256k1Net.Secp256k1.IsValidPublicKey(compressed33))
        {
            return false;
        }
        peerId = FromPublicKey(PublicKey.FromSecp256k1(compressed33));
        return true;
    }

    /// <summary>Parses a multihash (identity or sha2-256).</summary>
    public static bool TryFromMultihash(ReadOnlySpan<byte> multihash, out PeerId peerId)
    {
        peerId = default;
        if (multihash.Length < 2)
        {
            return false;
        }
        if (multihash[0] == IdentityCode && multihash[1] <= MaxInlineKeyLength && multihash.Length == 2 + multihash[1])
        {
            if (!PublicKey.TryDecode(multihash[2..], out _, out _))
            {
                return false;
            }
        }
        else if (!(multihash[0] == Sha256Code && multihash[1] == 32 && multihash.Length == 34))
        {
            return false;
        }
        peerId = new PeerId(multihash.ToArray());
        return true;
    }

    /// <summary>Parses the base58btc text form (<c>16Uiu2…</c>, <c>12D3Koo…</c>, <c>Qm…</c>).</summary>
    public static bool TryParse(string? text, out PeerId peerId)
    {
        peerId = default;
        return !string.IsNullOrEmpty(text) && Base58.TryDecode(text, out var bytes) && TryFromMultihash(bytes, out peerId);
    }

    public static PeerId Parse(string text) => TryParse(text, out var id) ? id : throw new FormatException($"not a peer id: {text}");

    /// <summary>The public key inlined in an identity multihash, if any.</summary>
    public bool TryGetPublicKey(out PublicKey? key)
    {
        key = null;
        return _multihash is { Length: > 2 } mh && mh[0] == IdentityCode && PublicKey.TryDecode(mh.AsSpan(2), out key, out _);
    }

    /// <summary>True when this id is the id of <paramref name="key"/>.</summary>
    public bool Matches(PublicKey key) => Equals(FromPublicKey(key));

    public bool Equals(PeerId other) => Bytes.SequenceEqual(other.Bytes);

    public override bool Equals(object? obj) => obj is PeerId p && Equals(p);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.AddBytes(Bytes);
        return h.ToHashCode();
    }

    public static bool operator ==(PeerId left, PeerId right) => left.Equals(right);

    public static bool operator !=(PeerId left, PeerId right) => !left.Equals(right);

    public override string ToString() => _multihash is null ? "" : Base58.Encode(_multihash);
}
