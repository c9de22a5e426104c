using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace ClP2p.Eth2.Networks;

/// <summary>SSZ <c>Version</c> (Bytes4), e.g. <c>06000000</c> for mainnet Fulu.</summary>
public readonly record struct ForkVersion(uint Value)
{
    public const int Length = 4;

    public static ForkVersion Read(ReadOnlySpan<byte> bytes) => new(BinaryPrimitives.ReadUInt32BigEndian(bytes));

    public void WriteTo(Span<byte> destination) => BinaryPrimitives.WriteUInt32BigEndian(destination, Value);

    public override string ToString() => Value.ToString("x8", CultureInfo.InvariantCulture);

    public static bool TryParse(string? text, out ForkVersion version)
    {
        version = default;
        if (!HexUtil.TryParseFixed(text, Length, out var bytes)) return false;
        version = Read(bytes);
        return true;
    }

    public static ForkVersion Parse(string text) =>
        TryParse(text, out var v) ? v : throw new FormatException($"not a 4-byte fork version: '{text}'");
}
