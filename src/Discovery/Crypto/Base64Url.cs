namespace ClP2p.Discovery.Crypto;

/// <summary>
/// Strict unpadded base64url (RFC 4648 §5) as used by the ENR text form: no padding, no whitespace,
/// '-' and '_' alphabet, and the unused trailing bits of the last symbol must be zero.
/// </summary>
public static class Base64Url
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    private static readonly sbyte[] Decode = BuildDecode();

    private static sbyte[] BuildDecode()
    {
        var t = new sbyte[128];
        Array.Fill(t, (sbyte)-1);
        for (int i = 0; i < Alphabet.Length; i++) t[Alphabet[i]] = (sbyte)i;
        return t;
    }

    public static string Encode(ReadOnlySpan<byte> data)
    {
        int outLen = (data.Length * 4 + 2) / 3;
        return string.Create(outLen, data.ToArray(), static (span, bytes) =>
        {
            int o = 0, i = 0;
            for (; i + 3 <= bytes.Length; i += 3)
            {
                int v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
                span[o++] = Alphabet[(v >> 18) & 63]; span[o++] = Alphabet[(v >> 12) & 63];
                span[o++] = Alphabet[(v >> 6) & 63]; span[o++] = Alphabet[v & 63];
            }
            int rem = bytes.Length - i;
            if (rem == 1)
            {
                int v = bytes[i] << 16;
                span[o++] = Alphabet[(v >> 18) & 63]; span[o++] = Alphabet[(v >> 12) & 63];
            }
            else if (rem == 2)
            {
                int v = (bytes[i] << 16) | (bytes[i + 1] << 8);
                span[o++] = Alphabet[(v >> 18) & 63]; span[o++] = Alphabet[(v >> 12) & 63]; span[o++] = Alphabet[(v >> 6) & 63];
            }
        });
    }

    /// <summary>Maximum decoded size of a text of the given length.</summary>
    public static int MaxDecodedLength(int textLength) => textLength * 3 / 4;

    /// <summary>Decodes strictly; returns false on any invalid symbol, impossible length or non-zero trailing bits.</summary>
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> dest, out int written)
    {
        written = 0;
        if (text.Length % 4 == 1) return false;
        int need = text.Length * 3 / 4;
        if (dest.Length < need) return false;
        int acc = 0, bits = 0, o = 0;
        foreach (char c in text)
        {
            if (c >= 128) return false;
            int v = Decode[c];
            if (v < 0) return false;
            acc = (acc << 6) | v; bits += 6;
            if (bits >= 8) { bits -= 8; dest[o++] = (byte)(acc >> bits); acc &= (1 << bits) - 1; }
        }
        if (acc != 0) return false;
        written = o;
        return true;
    }
}
