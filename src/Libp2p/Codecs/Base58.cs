namespace ClP2p.Libp2p.Codecs;

/// <summary>base58btc (the Bitcoin alphabet), as used for peer id text.</summary>
public static class Base58
{
    private const string Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    private static readonly sbyte[] Map = BuildMap();

    private static sbyte[] BuildMap()
    {
        var map = new sbyte[128];
        Array.Fill(map, (sbyte)-1);
        for (int i = 0; i < Alphabet.Length; i++)
        {
            map[Alphabet[i]] = (sbyte)i;
        }
        return map;
    }

    // 58^5, the largest power of 58 below 2^32: the number is converted in limbs of five digits, from words of four
    // bytes, in 64-bit steps (a peer id of 38 bytes: ~100 steps instead of ~2,000 one digit and one byte at a time)
    private const ulong Limb = 58UL * 58 * 58 * 58 * 58;

    public static string Encode(ReadOnlySpan<byte> data)
    {
        int zeros = 0;
        while (zeros < data.Length && data[zeros] == 0)
        {
            zeros++;
        }
        var rest = data[zeros..];
        int maxLimbs = (((rest.Length * 138) / 100) / 5) + 2;
        Span<uint> limbs = maxLimbs <= 128 ? stackalloc uint[maxLimbs] : new uint[maxLimbs];   // least significant first
        int used = 0;
        for (int i = 0; i < rest.Length;)
        {
            int take = i == 0 && rest.Length % 4 != 0 ? rest.Length % 4 : 4;   // the first word may be partial
            ulong carry = 0;
            for (int k = 0; k < take; k++)
            {
                carry = (carry << 8) | rest[i + k];
            }
            i += take;
            ulong scale = 1UL << (8 * take);
            for (int j = 0; j < used; j++)
            {
                ulong t = (limbs[j] * scale) + carry;
                limbs[j] = (uint)(t % Limb);
                carry = t / Limb;
            }
            while (carry != 0)
            {
                limbs[used++] = (uint)(carry % Limb);
                carry /= Limb;
            }
        }
        Span<char> digits = used * 5 <= 512 ? stackalloc char[used * 5] : new char[used * 5];
        int at = digits.Length;
        for (int j = 0; j < used; j++)
        {
            uint limb = limbs[j];
            for (int d = 0; d < 5; d++)
            {
                digits[--at] = Alphabet[(int)(limb % 58)];
                limb /= 58;
            }
        }
        while (at < digits.Length && digits[at] == '1')
        {
            at++;   // the top limb's leading zeros
        }
        return Build(zeros, digits[at..]);
    }

    private static string Build(int zeros, ReadOnlySpan<char> digits)
    {
        Span<char> text = zeros + digits.Length <= 512 ? stackalloc char[zeros + digits.Length] : new char[zeros + digits.Length];
        text[..zeros].Fill('1');
        digits.CopyTo(text[zeros..]);
        return new string(text);
    }

    public static bool TryDecode(ReadOnlySpan<char> text, out byte[] data)
    {
        data = [];
        if (text.Length > 512)
        {
            return false;
        }
        int zeros = 0;
        while (zeros < text.Length && text[zeros] == '1')
        {
            zeros++;
        }
        int size = ((text.Length - zeros) * 733 / 1000) + 1;
        Span<byte> b256 = stackalloc byte[size];
        b256.Clear();
        int length = 0;
        for (int i = zeros; i < text.Length; i++)
        {
            char c = text[i];
            if (c >= 128 || Map[c] < 0)
            {
                return false;
            }
            int carry = Map[c];
            int j = 0;
            for (int k = size - 1; (carry != 0 || j < length) && k >= 0; k--, j++)
            {
                carry += 58 * b256[k];
                b256[k] = (byte)(carry & 0xff);
                carry >>= 8;
            }
            length = j;
        }
        int start = size - length;
        while (start < size && b256[start] == 0)
        {
            start++;
        }
        data = new byte[zeros + (size - start)];
        b256[start..].CopyTo(data.AsSpan(zeros));
        return true;
    }
}
