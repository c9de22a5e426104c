using System.Buffers.Binary;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;

namespace ClP2p.Eth2.Ssz;

/// <summary>ErrorMessage = List[byte, 256] (phase0/p2p-interface.md), encoded as the raw bytes.</summary>
public static class ErrorMessage
{
    public const int MaxLength = 256;

    public static bool TryDecode(ReadOnlySpan<byte> ssz, out string text, out SszError error)
    {
        text = string.Empty;
        if (ssz.Length > MaxLength) { error = SszError.TooLong; return false; }
        // Any byte sequence is valid; decode leniently for display (invalid UTF-8 becomes U+FFFD).
        text = System.Text.Encoding.UTF8.GetString(ssz);
        error = SszError.None;
        return true;
    }

    public static byte[] Encode(string text)
    {
        var b = System.Text.Encoding.UTF8.GetBytes(text);
        return b.Length <= MaxLength ? b : b[..MaxLength];
    }
}
