using System.Buffers.Binary;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;

namespace ClP2p.Eth2.Ssz;

public enum SszError
{
    None,
    WrongLength,
    TooLong,
    InvalidBitvectorPadding,
}

/// <summary>
/// Status (phase0/p2p-interface.md "Status v1", 84 bytes; fulu "Status v2", 92 bytes with earliest_available_slot).
/// <see cref="EarliestAvailableSlot"/> is null for v1.
/// </summary>
public sealed record StatusMessage(
    ForkDigest ForkDigest,
    Root FinalizedRoot,
    ulong FinalizedEpoch,
    Root HeadRoot,
    ulong HeadSlot,
    ulong? EarliestAvailableSlot = null)
{
    public const int V1Length = 84;
    public const int V2Length = 92;

    public int Version => EarliestAvailableSlot is null ? 1 : 2;

    public int Length => Version == 1 ? V1Length : V2Length;

    /// <summary>earliest_available_slot, with 0 read as "unknown" (Prysm sent 0 before prysm #15818; PITFALLS 22).</summary>
    public ulong? KnownEarliestAvailableSlot => EarliestAvailableSlot is > 0 ? EarliestAvailableSlot : null;

    /// <summary>The same status as v1 (drops earliest_available_slot).</summary>
    public StatusMessage AsV1() => this with { EarliestAvailableSlot = null };

    /// <summary>The same status as v2; a v1 status gets earliest_available_slot = 0 ("unknown", PITFALLS 22).</summary>
    public StatusMessage AsV2() => EarliestAvailableSlot is null ? this with { EarliestAvailableSlot = 0 } : this;

    public byte[] Encode()
    {
        var b = new byte[Length];
        ForkDigest.WriteTo(b);
        FinalizedRoot.WriteTo(b.AsSpan(4));
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(36), FinalizedEpoch);
        HeadRoot.WriteTo(b.AsSpan(44));
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(76), HeadSlot);
        if (EarliestAvailableSlot is { } eas) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(84), eas);
        return b;
    }

    /// <summary>Decodes exactly <paramref name="version"/>'s length (1 → 84, 2 → 92); anything else is rejected.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> ssz, int version, out StatusMessage status, out SszError error)
    {
        status = null!;
        int expected = version == 1 ? V1Length : V2Length;
        if (ssz.Length != expected) { error = SszError.WrongLength; return false; }
        status = new StatusMessage(
            ForkDigest.Read(ssz),
            Root.Read(ssz[4..]),
            BinaryPrimitives.ReadUInt64LittleEndian(ssz[36..]),
            Root.Read(ssz[44..]),
            BinaryPrimitives.ReadUInt64LittleEndian(ssz[76..]),
            version == 1 ? null : BinaryPrimitives.ReadUInt64LittleEndian(ssz[84..]));
        error = SszError.None;
        return true;
    }
}

/// <summary>
/// MetaData (altair/p2p-interface.md v2: seq_number, attnets, syncnets = 17 bytes; fulu v3: + custody_group_count = 25).
/// <see cref="CustodyGroupCount"/> is null for v2.
/// </summary>
public sealed record MetaDataMessage(
    ulong SeqNumber,
    AttestationSubnets Attnets,
    SyncCommitteeSubnets Syncnets,
    ulong? CustodyGroupCount = null)
{
    public const int V2Length = 17;
    public const int V3Length = 25;

    public int Version => CustodyGroupCount is null ? 2 : 3;

    public int Length => Version == 2 ? V2Length : V3Length;

    public byte[] Encode()
    {
        var b = new byte[Length];
        BinaryPrimitives.WriteUInt64LittleEndian(b, SeqNumber);
        Attnets.WriteTo(b.AsSpan(8));
        b[16] = Syncnets.Bits;
        if (CustodyGroupCount is { } cgc) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(17), cgc);
        return b;
    }

    public static bool TryDecode(ReadOnlySpan<byte> ssz, int version, out MetaDataMessage metadata, out SszError error)
    {
        metadata = null!;
        int expected = version == 2 ? V2Length : V3Length;
        if (ssz.Length != expected) { error = SszError.WrongLength; return false; }
        if (!SyncCommitteeSubnets.TryRead(ssz[16], out var sync)) { error = SszError.InvalidBitvectorPadding; return false; }
        metadata = new MetaDataMessage(
            BinaryPrimitives.ReadUInt64LittleEndian(ssz),
            AttestationSubnets.Read(ssz[8..]),
            sync,
            version == 2 ? null : BinaryPrimitives.ReadUInt64LittleEndian(ssz[17..]));
        error = SszError.None;
        return true;
    }
}

/// <summary>Single-field messages are bare uint64 LE (Ping seq_number, Goodbye reason), not containers.</summary>
public static class SszUInt64
{
    public const int Length = 8;

    public static byte[] Encode(ulong value)
    {
        var b = new byte[Length];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return b;
    }

    public static bool TryDecode(ReadOnlySpan<byte> ssz, out ulong value, out SszError error)
    {
        value = 0;
        if (ssz.Length != Length) { error = SszError.WrongLength; return false; }
        value = BinaryPrimitives.ReadUInt64LittleEndian(ssz);
        error = SszError.None;
        return true;
    }
}

/// <summary>ErrorMessage = List[byte, 256] (phase0/p2p-interface.md), encoded as the raw bytes.</summary>
public static class ErrorMessage
{
    public const int MaxLength = 256;

    public static bool TryDecode(ReadOnlySpan<byte> ssz, out string text, out SszError error)
    {
        text = string.Empty;
        if (ssz.Length > MaxLength) { error = SszError.TooLong; return false; }
        // Any byte sequence is valid; decode leniently for display (invalid UTF-8 becomes U+FFFD).
        text = System.Text.Encoding.UTF8.GetString(ssz);
        error = SszError.None;
        return true;
    }

    public static byte[] Encode(string text)
    {
        var b = System.Text.Encoding.UTF8.GetBytes(text);
        return b.Length <= MaxLength ? b : b[..MaxLength];
    }
}

/// <summary>
/// Goodbye reasons: 1-3 from phase0/p2p-interface.md "Goodbye"; codes from 128 are the clients' own, named as they name
/// them: Teku 128 (unable to verify network) and 130 (rate limiting), Lighthouse 129 (too many peers), 250 (bad score),
/// 251 (banned) and 252 (banned IP), Nimbus 237 (peer score low). Prysm and Lodestar use the Teku/Lighthouse codes.
/// </summary>
public static class GoodbyeReasons
{
    public const ulong ClientShutdown = 1;
    public const ulong IrrelevantNetwork = 2;
    public const ulong Fault = 3;
    public const ulong UnableToVerifyNetwork = 128;
    public const ulong TooManyPeers = 129;
    /// <summary>Teku: the peer sent requests faster than allowed.</summary>
    public const ulong RateLimiting = 130;
    /// <summary>Nimbus: the peer's score fell below its threshold.</summary>
    public const ulong PeerScoreLow = 237;
    public const ulong BadScore = 250;
    public const ulong Banned = 251;
    public const ulong BannedIp = 252;

    public static string Describe(ulong reason) => reason switch
    {
        ClientShutdown => "client_shutdown",
        IrrelevantNetwork => "irrelevant_network",
        Fault => "fault",
        UnableToVerifyNetwork => "unable_to_verify_network",
        TooManyPeers => "too_many_peers",
        RateLimiting => "rate_limiting",
        PeerScoreLow => "peer_score_low",
        BadScore => "bad_score",
        Banned => "banned",
        BannedIp => "banned_ip",
        _ => "unknown",
    };
}
