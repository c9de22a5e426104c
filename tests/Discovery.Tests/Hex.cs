namespace ClP2p.Discovery.Tests;

internal static class Hex
{
    public static byte[] B(string hex) => Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));
    public static string S(ReadOnlySpan<byte> b) => Convert.ToHexStringLower(b);
}
