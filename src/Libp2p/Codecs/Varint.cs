namespace ClP2p.Libp2p.Codecs;

/// <summary>Result of reading an unsigned varint from a buffer.</summary>
public enum VarintStatus
{
    Ok,
    /// <summary>The buffer ends inside the varint; read more bytes.</summary>
    NeedMore,
    /// <summary>Still continuing after the maximum length the caller allows.</summary>
    TooLong,
    /// <summary>A trailing 0x00 group: the same value has a shorter encoding.</summary>
    NotMinimal,
    /// <summary>The tenth byte carries bits beyond 64.</summary>
    Overflow,
}

/// <summary>
/// Unsigned LEB128 varints, the one implementation for every length prefix we read: multiformats unsigned-varint
/// (libp2p/unsigned-varint.md: minimal, at most 9 bytes), protobuf (10 bytes, not necessarily minimal) and the
/// ssz_snappy length prefix (phase0/p2p-interface.md: "MUST not exceed 10 bytes", "SHOULD be minimally encoded").
/// </summary>
public static class Varint
{
    /// <summary>multiformats unsigned-varint: "the maximum varint length is 9 bytes" (63 bits of payload).</summary>
    public const int MaxLength = 9;

    /// <summary>Any uint64 fits in 10 bytes (protobuf, ssz_snappy).</summary>
    public const int MaxUInt64Length = 10;

    public static int GetLength(ulong value)
    {
        int n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }
        return n;
    }

    /// <summary>Writes <paramref name="value"/> and returns the byte count (at most <see cref="MaxUInt64Length"/>).</summary>
    public static int Write(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static byte[] Encode(ulong value)
    {
        var bytes = new byte[GetLength(value)];
        Write(bytes, value);
        return bytes;
    }

    /// <summary>
    /// Reads a varint of at most <paramref name="maxLength"/> bytes (1 to 10) from the start of
    /// <paramref name="source"/>. A non-minimal encoding is rejected unless <paramref name="allowNonMinimal"/>.
    /// </summary>
    public static VarintStatus TryRead(ReadOnlySpan<byte> source, int maxLength, out ulong value, out int consumed, bool allowNonMinimal = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLength, MaxUInt64Length);
        value = 0;
        consumed = 0;
        for (int i = 0; i < maxLength; i++)
        {
            if (i >= source.Length)
            {
                value = 0;
                return VarintStatus.NeedMore;
            }
            byte b = source[i];
            if (i == MaxUInt64Length - 1 && b > 1)
            {
                value = 0;
                return (b & 0x80) != 0 ? VarintStatus.TooLong : VarintStatus.Overflow;
            }
            value |= (ulong)(b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0)
            {
                if (b == 0 && i > 0 && !allowNonMinimal)
                {
                    value = 0;
                    return VarintStatus.NotMinimal;
                }
                consumed = i + 1;
                return VarintStatus.Ok;
            }
        }
        value = 0;
        return VarintStatus.TooLong;
    }
}
