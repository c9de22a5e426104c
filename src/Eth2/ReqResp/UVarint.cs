namespace ClP2p.Eth2.ReqResp;

public enum UVarintError
{
    None,
    NeedMoreData,
    /// <summary>"MUST not exceed 10 bytes in length" (phase0/p2p-interface.md ssz_snappy header).</summary>
    TooLong,
    /// <summary>"SHOULD be minimally encoded": a trailing 0x00 continuation byte; rejected.</summary>
    NotMinimal,
    Overflow,
}

/// <summary>Unsigned LEB128 (protobuf) varint, as the ssz_snappy length prefix.</summary>
public static class UVarint
{
    /// <summary>Any uint64 fits in 10 bytes; longer prefixes are invalid.</summary>
    public const int MaxLength = 10;

    public static int GetLength(ulong value)
    {
        int n = 1;
        while (value >= 0x80) { value >>= 7; n++; }
        return n;
    }

    public static int Write(ulong value, Span<byte> destination)
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
        var b = new byte[GetLength(value)];
        Write(value, b);
        return b;
    }

    public static bool TryRead(ReadOnlySpan<byte> input, out ulong value, out int consumed, out UVarintError error)
    {
        value = 0;
        consumed = 0;
        for (int i = 0; i < MaxLength; i++)
        {
            if (i >= input.Length) { error = UVarintError.NeedMoreData; return false; }
            byte b = input[i];
            if (i == MaxLength - 1 && b > 1) { error = (b & 0x80) != 0 ? UVarintError.TooLong : UVarintError.Overflow; return false; }
            value |= (ulong)(b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0)
            {
                if (i > 0 && b == 0) { error = UVarintError.NotMinimal; return false; }
                consumed = i + 1;
                error = UVarintError.None;
                return true;
            }
        }
        error = UVarintError.TooLong;
        return false;
    }
}
