using System.Buffers.Binary;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;

namespace ClP2p.Eth2.Ssz;

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
