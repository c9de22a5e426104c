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

    public static string Encode(ReadOnlySpan<byte> data)
    {
        int zeros = 0;
        while (zeros < data.Length && data[zeros] == 0)
        {
            zeros++;
        }
        int size = ((data.Length - zeros) * 138 / 100) + 1;
        Span<byte> b58 = size <= 256 ? stackalloc byte[size] : new byte[size];
        b58.Clear();
        int length = 0;
        for (int i = zeros; i < data.Length; i++)
        {
            int carry = data[i];
            int j = 0;
            for (int k = size - 1; (carry != 0 || j < length) && k >= 0; k--, j++)
            {
                carry += 256 * b58[k];
                b58[k] = (byte)(carry % 58);
                carry /= 58;
            }
            length = j;
        }
        int start = size - length;
        while (start < size && b58[start] == 0)
        {
            start++;
        }
        var chars = new char[zeros + (size - start)];
        chars.AsSpan(0, zeros).Fill('1');
        for (int i = start, o = zeros; i < size; i++, o++)
        {
            chars[o] = Alphabet[b58[i]];
        }
        return new string(chars);
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
