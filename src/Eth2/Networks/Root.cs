using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace ClP2p.Eth2.Networks;

/// <summary>SSZ <c>Root</c> (Bytes32), stored as four big-endian words so equality is a value comparison.</summary>
public readonly record struct Root(ulong W0, ulong W1, ulong W2, ulong W3)
{
    public const int Length = 32;

    public static Root Zero => default;

    public static Root Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt64BigEndian(bytes),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, W0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], W1);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], W2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], W3);
    }

    public byte[] ToArray()
    {
        var b = new byte[Length];
        WriteTo(b);
        return b;
    }

    public bool IsZero => (W0 | W1 | W2 | W3) == 0;

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[Length];
        WriteTo(b);
        return Convert.ToHexStringLower(b);
    }

    public static bool TryParse(string? text, out Root root)
    {
        root = default;
        if (!HexUtil.TryParseFixed(text, Length, out var bytes)) return false;
        root = Read(bytes);
        return true;
    }

    public static Root Parse(string text) =>
        TryParse(text, out var r) ? r : throw new FormatException($"not a 32-byte root: '{text}'");
}
