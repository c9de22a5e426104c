using System.Buffers.Binary;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;

namespace ClP2p.Eth2.Ssz;

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

    /// <summary>earliest_available_slot, with 0 read as "unknown" (Prysm sent 0 before prysm #15818).</summary>
    public ulong? KnownEarliestAvailableSlot => EarliestAvailableSlot is > 0 ? EarliestAvailableSlot : null;

    /// <summary>The same status as v1 (drops earliest_available_slot).</summary>
    public StatusMessage AsV1() => this with { EarliestAvailableSlot = null };

    /// <summary>The same status as v2; a v1 status gets earliest_available_slot = 0 ("unknown", as Prysm sent it before prysm #15818).</summary>
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
