using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace ClP2p.Eth2.Networks;

/// <summary>SSZ <c>ForkDigest</c> (Bytes4): the first 4 bytes of the fork data root (xor blob parameters from Fulu on).</summary>
public readonly record struct ForkDigest(uint Value) : IComparable<ForkDigest>
{
    public const int Length = 4;

    public static ForkDigest Zero => default;

    public static ForkDigest Read(ReadOnlySpan<byte> bytes) => new(BinaryPrimitives.ReadUInt32BigEndian(bytes));

    public void WriteTo(Span<byte> destination) => BinaryPrimitives.WriteUInt32BigEndian(destination, Value);

    public byte[] ToArray()
    {
        var b = new byte[Length];
        WriteTo(b);
        return b;
    }

    /// <summary>Lowercase hex, 8 characters, no 0x prefix (e.g. <c>8c9f62fe</c>).</summary>
    public override string ToString() => Value.ToString("x8", CultureInfo.InvariantCulture);

    /// <summary>Parses 8 hex digits with an optional 0x prefix.</summary>
    public static bool TryParse(string? text, out ForkDigest digest)
    {
        digest = default;
        if (!HexUtil.TryParseFixed(text, Length, out var bytes)) return false;
        digest = Read(bytes);
        return true;
    }

    public static ForkDigest Parse(string text) =>
        TryParse(text, out var d) ? d : throw new FormatException($"not a 4-byte fork digest: '{text}'");

    public int CompareTo(ForkDigest other) => Value.CompareTo(other.Value);
}
