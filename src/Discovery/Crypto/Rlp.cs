using System.Buffers.Binary;

namespace ClP2p.Discovery.Crypto;

/// <summary>Why an RLP input was rejected.</summary>
public enum RlpError
{
    None,
    Truncated,
    NonCanonicalSize,
    NonCanonicalInteger,
    IntegerTooLarge,
    UnexpectedList,
    UnexpectedString,
    TrailingBytes,
}

/// <summary>
/// Strict RLP reader (Ethereum yellow paper, appendix B): single bytes below 0x80 must not be wrapped,
/// long-form lengths must be needed and have no leading zeros, integers have no leading zeros.
/// </summary>
public ref struct RlpReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _pos;

    public RlpReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _pos = 0;
    }

    public readonly int Position => _pos;
    public readonly bool IsEnd => _pos >= _data.Length;
    public readonly int Remaining => _data.Length - _pos;

    /// <summary>Reads one item header at the current position. Does not advance.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> src, out bool isList, out int headerLength, out int payloadLength, out RlpError error)
    {
        isList = false; headerLength = 0; payloadLength = 0; error = RlpError.None;
        if (src.IsEmpty) { error = RlpError.Truncated; return false; }
        byte b = src[0];
        if (b < 0x80) { headerLength = 0; payloadLength = 1; return true; }
        if (b <= 0xb7)
        {
            headerLength = 1; payloadLength = b - 0x80;
            if (payloadLength == 1)
            {
                if (src.Length < 2) { error = RlpError.Truncated; return false; }
                if (src[1] < 0x80) { error = RlpError.NonCanonicalSize; return false; }
            }
        }
        else if (b <= 0xbf)
        {
            if (!TryLongLength(src, b - 0xb7, out payloadLength, out error)) return false;
            headerLength = 1 + (b - 0xb7);
        }
        else if (b <= 0xf7)
        {
            isList = true; headerLength = 1; payloadLength = b - 0xc0;
        }
        else
        {
            isList = true;
            if (!TryLongLength(src, b - 0xf7, out payloadLength, out error)) return false;
            headerLength = 1 + (b - 0xf7);
        }
        if ((long)headerLength + payloadLength > src.Length) { error = RlpError.Truncated; return false; }
        return true;
    }

    private static bool TryLongLength(ReadOnlySpan<byte> src, int lenOfLen, out int length, out RlpError error)
    {
        length = 0; error = RlpError.None;
        if (src.Length < 1 + lenOfLen) { error = RlpError.Truncated; return false; }
        if (lenOfLen > 4) { error = RlpError.Truncated; return false; }
        if (src[1] == 0) { error = RlpError.NonCanonicalSize; return false; }
        long l = 0;
        for (int i = 0; i < lenOfLen; i++) l = (l << 8) | src[1 + i];
        if (l < 56) { error = RlpError.NonCanonicalSize; return false; }
        if (l > int.MaxValue) { error = RlpError.Truncated; return false; }
        length = (int)l;
        return true;
    }

    /// <summary>Reads any item, returning its full encoding (header included).</summary>
    public bool TryReadRaw(out ReadOnlySpan<byte> item, out bool isList, out RlpError error)
    {
        item = default;
        if (!TryReadHeader(_data[_pos..], out isList, out int h, out int p, out error)) return false;
        item = _data.Slice(_pos, h + p);
        _pos += h + p;
        return true;
    }

    /// <summary>Reads a byte string and returns its content.</summary>
    public bool TryReadBytes(out ReadOnlySpan<byte> value, out RlpError error)
    {
        value = default;
        if (!TryReadHeader(_data[_pos..], out bool isList, out int h, out int p, out error)) return false;
        if (isList) { error = RlpError.UnexpectedList; return false; }
        value = _data.Slice(_pos + h, p);
        _pos += h + p;
        return true;
    }

    /// <summary>Reads a list and returns a reader over its payload.</summary>
    public bool TryReadList(out RlpReader inner, out RlpError error)
    {
        inner = default;
        if (!TryReadHeader(_data[_pos..], out bool isList, out int h, out int p, out error)) return false;
        if (!isList) { error = RlpError.UnexpectedString; return false; }
        inner = new RlpReader(_data.Slice(_pos + h, p));
        _pos += h + p;
        return true;
    }

    /// <summary>Reads a canonical big-endian unsigned integer of at most 8 bytes.</summary>
    public bool TryReadUInt64(out ulong value, out RlpError error)
    {
        value = 0;
        if (!TryReadBytes(out var b, out error)) return false;
        return Rlp.TryParseUInt64(b, out value, out error);
    }
}

/// <summary>RLP helpers: sizes, writers and integer rules.</summary>
public static class Rlp
{
    public static bool TryParseUInt64(ReadOnlySpan<byte> b, out ulong value, out RlpError error)
    {
        value = 0; error = RlpError.None;
        if (b.Length > 8) { error = RlpError.IntegerTooLarge; return false; }
        if (b.Length > 0 && b[0] == 0) { error = RlpError.NonCanonicalInteger; return false; }
        for (int i = 0; i < b.Length; i++) value = (value << 8) | b[i];
        return true;
    }

    public static int LengthOfLength(int len) => len < 0x100 ? 1 : len < 0x10000 ? 2 : len < 0x1000000 ? 3 : 4;

    public static int HeaderLength(int payloadLength) => payloadLength < 56 ? 1 : 1 + LengthOfLength(payloadLength);

    public static int LengthOfBytes(ReadOnlySpan<byte> value) =>
        value.Length == 1 && value[0] < 0x80 ? 1 : HeaderLength(value.Length) + value.Length;

    public static int LengthOfUInt64(ulong v) => v < 0x80 ? 1 : 1 + ByteLength(v);

    public static int LengthOfList(int payloadLength) => HeaderLength(payloadLength) + payloadLength;

    public static int ByteLength(ulong v) => v == 0 ? 0 : 8 - (System.Numerics.BitOperations.LeadingZeroCount(v) / 8);

    /// <summary>Writes a list header for a payload of the given length, returns bytes written.</summary>
    public static int WriteListHeader(Span<byte> dest, int payloadLength) => WriteHeader(dest, payloadLength, 0xc0);

    private static int WriteHeader(Span<byte> dest, int len, byte baseByte)
    {
        if (len < 56) { dest[0] = (byte)(baseByte + len); return 1; }
        int ll = LengthOfLength(len);
        dest[0] = (byte)(baseByte + 55 + ll);
        for (int i = 0; i < ll; i++) dest[ll - i] = (byte)(len >> (8 * i));
        return 1 + ll;
    }

    public static int WriteBytes(Span<byte> dest, ReadOnlySpan<byte> value)
    {
        if (value.Length == 1 && value[0] < 0x80) { dest[0] = value[0]; return 1; }
        int h = WriteHeader(dest, value.Length, 0x80);
        value.CopyTo(dest[h..]);
        return h + value.Length;
    }

    public static int WriteUInt64(Span<byte> dest, ulong v)
    {
        if (v == 0) { dest[0] = 0x80; return 1; }
        if (v < 0x80) { dest[0] = (byte)v; return 1; }
        int n = ByteLength(v);
        dest[0] = (byte)(0x80 + n);
        Span<byte> tmp = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(tmp, v);
        tmp[(8 - n)..].CopyTo(dest[1..]);
        return 1 + n;
    }
}
