using System.Numerics;
using System.Runtime.InteropServices;

namespace ClP2p.Eth2.Snappy;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78; RFC 3720 §12.1) over <see cref="BitOperations.Crc32C(uint, ulong)"/>,
/// which uses SSE4.2/ARM CRC instructions when present and a table otherwise; plus the snappy framing mask.
/// </summary>
public static class Crc32C
{
    /// <summary>Mask constant (framing_format.txt §3): masked = rotr15(crc) + 0xa282ead8.</summary>
    public const uint MaskDelta = 0xa282ead8;

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var w in words) crc = BitOperations.Crc32C(crc, BitConverter.IsLittleEndian ? w : System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(w));
        foreach (var b in data[(words.Length * 8)..]) crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }

    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + MaskDelta;

    public static uint ComputeMasked(ReadOnlySpan<byte> data) => Mask(Compute(data));
}
