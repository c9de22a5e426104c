namespace ClP2p.Libp2p.Codecs;

/// <summary>Result of reading an unsigned varint from a buffer.</summary>
public enum VarintStatus
{
    Ok,
    /// <summary>The buffer ends inside the varint; read more bytes.</summary>
    NeedMore,
    /// <summary>Longer than <see cref="Varint.MaxLength"/> bytes or not minimally encoded.</summary>
    Invalid,
}

/// <summary>multiformats unsigned-varint (libp2p/unsigned-varint.md): LEB128, minimal, at most 9 bytes.</summary>
public static class Varint
{
    /// <summary>"the maximum varint length is 9 bytes" (63 bits of payload).</summary>
    public const int MaxLength = 9;

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

    /// <summary>Writes <paramref name="value"/> (must fit 63 bits) and returns the byte count.</summary>
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

    public static VarintStatus TryRead(ReadOnlySpan<byte> source, out ulong value, out int consumed)
    {
        value = 0;
        consumed = 0;
        for (int i = 0; i < MaxLength; i++)
        {
            if (i >= source.Length)
            {
                return VarintStatus.NeedMore;
            }
            byte b = source[i];
            value |= (ulong)(b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0)
            {
                if (b == 0 && i > 0)
                {
                    value = 0;
                    return VarintStatus.Invalid; // not minimal: a trailing zero group
                }
                consumed = i + 1;
                return VarintStatus.Ok;
            }
        }
        value = 0;
        return VarintStatus.Invalid;
    }
}
