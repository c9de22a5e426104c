namespace ClP2p.Discovery.Messages;

/// <summary>A request id: an RLP byte string of at most 8 bytes (kept with its length, leading zeros included).</summary>
public readonly record struct RequestId(ulong Value, byte Length)
{
    /// <summary>discv5-wire.md: "request-id ... Its length must not exceed 8 bytes."</summary>
    public const int MaxLength = 8;

    public static RequestId From(ReadOnlySpan<byte> bytes)
    {
        ulong v = 0;
        foreach (byte b in bytes) v = (v << 8) | b;
        return new RequestId(v, (byte)bytes.Length);
    }

    public int CopyTo(Span<byte> dest)
    {
        for (int i = 0; i < Length; i++) dest[i] = (byte)(Value >> (8 * (Length - 1 - i)));
        return Length;
    }

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[8];
        return Convert.ToHexStringLower(b[..CopyTo(b)]);
    }
}
