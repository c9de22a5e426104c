using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace ClP2p.Eth2.Networks;

internal static class HexUtil
{
    public static bool TryParseFixed([NotNullWhen(true)] string? text, int length, [NotNullWhen(true)] out byte[]? bytes)
    {
        bytes = null;
        if (text is null) return false;
        var s = text.AsSpan().Trim();
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) s = s[2..];
        if (s.Length != length * 2) return false;
        var result = new byte[length];
        if (Convert.FromHexString(s, result, out _, out var written) != System.Buffers.OperationStatus.Done || written != length)
            return false;
        bytes = result;
        return true;
    }
}
