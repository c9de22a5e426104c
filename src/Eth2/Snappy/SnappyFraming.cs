using System.Buffers;
using System.Buffers.Binary;
using ClP2p.Libp2p.Codecs;
using Snappier;

namespace ClP2p.Eth2.Snappy;

public enum SnappyFrameError
{
    None,
    NeedMoreData,
    MissingStreamIdentifier,
    BadStreamIdentifier,
    ReservedUnskippableChunk,
    ChunkTooShort,
    ChunkTooLarge,
    BadSnappyBlock,
    /// <summary>A chunk decompresses to more bytes than remain of the declared length (decompression bomb).</summary>
    ExpandsPastDeclaredLength,
    ChecksumMismatch,
}

/// <summary>
/// Snappy framing format (google/snappy framing_format.txt): a stream identifier chunk, then chunks of
/// type(1) || length(3, LE) || data. Compressed (0x00) and uncompressed (0x01) data start with the masked CRC-32C
/// of the uncompressed bytes; 0x80–0xfe are skipped; 0x02–0x7f are errors. Blocks use Snappier's block API.
/// </summary>
public static class SnappyFraming
{
    public const byte ChunkCompressed = 0x00;
    public const byte ChunkUncompressed = 0x01;
    public const byte ChunkPadding = 0xfe;
    public const byte ChunkStreamIdentifier = 0xff;

    /// <summary>"the uncompressed data in a chunk must be no longer than 65536 bytes" (framing_format.txt §4.2/4.3).</summary>
    public const int MaxUncompressedChunkLength = 65536;

    public const int ChunkHeaderLength = 4;
    public const int ChecksumLength = 4;

    /// <summary>ff 06 00 00 "sNaPpY" (framing_format.txt §4.1).</summary>
    public static ReadOnlySpan<byte> StreamIdentifier => [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59];

    /// <summary>Frames <paramref name="data"/>: stream identifier, then one chunk per 64 KiB (compressed unless that saves &lt; 1/8).</summary>
    public static void Encode(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        output.Write(StreamIdentifier);
        int maxCompressed = Snappier.Snappy.GetMaxCompressedLength(MaxUncompressedChunkLength);
        byte[] scratch = ArrayPool<byte>.Shared.Rent(maxCompressed);
        try
        {
            while (!data.IsEmpty)
            {
                var block = data[..Math.Min(data.Length, MaxUncompressedChunkLength)];
                data = data[block.Length..];
                uint crc = Crc32C.ComputeMasked(block);
                int compressed = Snappier.Snappy.Compress(block, scratch);
                bool useCompressed = compressed < block.Length - (block.Length / 8);
                var payload = useCompressed ? scratch.AsSpan(0, compressed) : block;
                var header = output.GetSpan(ChunkHeaderLength + ChecksumLength);
                int len = payload.Length + ChecksumLength;
                header[0] = useCompressed ? ChunkCompressed : ChunkUncompressed;
                header[1] = (byte)len;
                header[2] = (byte)(len >> 8);
                header[3] = (byte)(len >> 16);
                BinaryPrimitives.WriteUInt32LittleEndian(header[4..], crc);
                output.Advance(ChunkHeaderLength + ChecksumLength);
                output.Write(payload);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    public static byte[] Encode(ReadOnlySpan<byte> data)
    {
        var w = new ArrayBufferWriter<byte>(data.Length + 32);
        Encode(data, w);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Reads a chunk header: type and 24-bit LE body length.</summary>
    public static (byte Type, int Length) ReadChunkHeader(ReadOnlySpan<byte> header) =>
        (header[0], header[1] | (header[2] << 8) | (header[3] << 16));

    /// <summary>
    /// Decodes one chunk body into <paramref name="output"/> (the bytes still expected). The first chunk of a stream
    /// must be the stream identifier (<paramref name="isFirst"/>). Skippable chunks write nothing. A data chunk whose
    /// uncompressed size exceeds <paramref name="output"/> is rejected before decompressing it.
    /// </summary>
    public static bool TryDecodeChunk(byte type, ReadOnlySpan<byte> body, bool isFirst, Span<byte> output, out int written, out SnappyFrameError error)
    {
        written = 0;
        if (isFirst && type != ChunkStreamIdentifier) { error = SnappyFrameError.MissingStreamIdentifier; return false; }
        switch (type)
        {
            case ChunkStreamIdentifier:
                if (!body.SequenceEqual(StreamIdentifier[ChunkHeaderLength..])) { error = SnappyFrameError.BadStreamIdentifier; return false; }
                error = SnappyFrameError.None;
                return true;
            case ChunkCompressed:
            case ChunkUncompressed:
                if (body.Length < ChecksumLength) { error = SnappyFrameError.ChunkTooShort; return false; }
                uint expectedCrc = BinaryPrimitives.ReadUInt32LittleEndian(body);
                var payload = body[ChecksumLength..];
                int n;
                if (type == ChunkUncompressed)
                {
                    if (payload.Length > MaxUncompressedChunkLength) { error = SnappyFrameError.ChunkTooLarge; return false; }
                    if (payload.Length > output.Length) { error = SnappyFrameError.ExpandsPastDeclaredLength; return false; }
                    payload.CopyTo(output);
                    n = payload.Length;
                }
                else
                {
                    if (!TryReadBlockLength(payload, out ulong declared)) { error = SnappyFrameError.BadSnappyBlock; return false; }
                    if (declared > MaxUncompressedChunkLength) { error = SnappyFrameError.ChunkTooLarge; return false; }
                    if (declared > (ulong)output.Length) { error = SnappyFrameError.ExpandsPastDeclaredLength; return false; }
                    try
                    {
                        if (!Snappier.Snappy.TryDecompress(payload, output[..(int)declared], out n) || n != (int)declared)
                        {
                            error = SnappyFrameError.BadSnappyBlock;
                            return false;
                        }
                    }
                    catch (InvalidDataException)
                    {
                        error = SnappyFrameError.BadSnappyBlock;
                        return false;
                    }
                    catch (ArgumentException)
                    {
                        error = SnappyFrameError.BadSnappyBlock;
                        return false;
                    }
                }
                if (Crc32C.ComputeMasked(output[..n]) != expectedCrc) { error = SnappyFrameError.ChecksumMismatch; return false; }
                written = n;
                error = SnappyFrameError.None;
                return true;
            default:
                if (type is >= 0x02 and <= 0x7f) { error = SnappyFrameError.ReservedUnskippableChunk; return false; }
                error = SnappyFrameError.None; // 0x80..0xfe: skippable (padding and reserved)
                return true;
        }
    }

    /// <summary>
    /// Decodes a complete framed stream in memory until exactly <paramref name="output"/>.Length bytes are produced.
    /// <paramref name="consumed"/> is the number of input bytes used; the caller decides what trailing bytes mean.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> input, Span<byte> output, out int consumed, out SnappyFrameError error)
    {
        consumed = 0;
        int produced = 0;
        bool first = true;
        while (produced < output.Length || first)
        {
            if (input.Length - consumed < ChunkHeaderLength) { error = SnappyFrameError.NeedMoreData; return false; }
            var (type, len) = ReadChunkHeader(input[consumed..]);
            if (input.Length - consumed - ChunkHeaderLength < len) { error = SnappyFrameError.NeedMoreData; return false; }
            var body = input.Slice(consumed + ChunkHeaderLength, len);
            if (!TryDecodeChunk(type, body, first, output[produced..], out int w, out error)) return false;
            produced += w;
            consumed += ChunkHeaderLength + len;
            first = false;
        }
        error = SnappyFrameError.None;
        return true;
    }

    /// <summary>A block's length preamble holds at most 32 bits, so at most 5 bytes of 7 bits each (format_description.txt "Preamble").</summary>
    private const int MaxBlockLengthPrefix = 5;

    /// <summary>
    /// The uvarint that starts a raw snappy block: its uncompressed length (google/snappy format_description.txt
    /// "Preamble", a little-endian varint; the format does not ask for the shortest encoding).
    /// </summary>
    internal static bool TryReadBlockLength(ReadOnlySpan<byte> block, out ulong length) =>
        Varint.TryRead(block, MaxBlockLengthPrefix, out length, out _, allowNonMinimal: true) == VarintStatus.Ok && length <= uint.MaxValue;
}
