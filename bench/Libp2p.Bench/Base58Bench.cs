using BenchmarkDotNet.Attributes;
using ClP2p.Libp2p.Codecs;
using ClP2p.Libp2p.Crypto;

namespace ClP2p.Bench;

/// <summary>
/// A peer id's text (the crawler writes one for every record it stores and every node it dials): base58 five digits
/// at a time in 64-bit steps, against the textbook conversion one digit and one byte at a time that it replaced.
/// </summary>
[MemoryDiagnoser]
public class Base58Bench
{
    private const string Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    private byte[] _id = [];

    [GlobalSetup]
    public void Setup() => _id = PeerId.FromPublicKey(Identity.GenerateSecp256k1().PublicKey).Bytes.ToArray();

    [Benchmark(Description = "peer id text, five digits a step")]
    public string Limbs() => Base58.Encode(_id);

    [Benchmark(Baseline = true, Description = "peer id text, one digit and one byte a step")]
    public string DigitByDigit()
    {
        ReadOnlySpan<byte> data = _id;
        int zeros = 0;
        while (zeros < data.Length && data[zeros] == 0) zeros++;
        int size = ((data.Length - zeros) * 138 / 100) + 1;
        Span<byte> b58 = stackalloc byte[size];
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
        while (start < size && b58[start] == 0) start++;
        var chars = new char[zeros + (size - start)];
        chars.AsSpan(0, zeros).Fill('1');
        for (int i = start, o = zeros; i < size; i++, o++) chars[o] = Alphabet[b58[i]];
        return new string(chars);
    }
}
