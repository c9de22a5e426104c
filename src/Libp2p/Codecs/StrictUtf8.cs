using System.Text;

namespace ClP2p.Libp2p.Codecs;

/// <summary>UTF-8 that throws <see cref="DecoderFallbackException"/> on bytes that are not UTF-8, for wire text that
/// must be valid (multistream messages, multiaddr names). One instance: it holds no state between calls.</summary>
internal static class StrictUtf8
{
    public static readonly UTF8Encoding Encoding = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
