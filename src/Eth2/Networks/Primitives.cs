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

internal static class HexUtil
{
    public static bool TryParseFixed([NotNullWhen(true)] string? text, int length, [NotNullWhen(true)] out byte[]? bytes)
    {
        bytes = null;
        if (text is null) return false;
        var s = text.AsSpan().Trim();
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) s = s[2..];
        if (s.Length != length * 2) return false;
        var result = new byte[length];
        if (Convert.FromHexString(s, result, out _, out var written) != System.Buffers.OperationStatus.Done || written != length)
            return false;
        bytes = result;
        return true;
    }
}
