using System.Buffers.Binary;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;

namespace ClP2p.Eth2.Ssz;

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
