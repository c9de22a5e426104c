using System.Buffers;
using System.Diagnostics.Metrics;
using ClP2p.Eth2.Snappy;
using ClP2p.Libp2p.Codecs;

namespace ClP2p.Eth2.ReqResp;

public enum ReqRespError
{
    None,
    /// <summary>The stream ended before a complete chunk.</summary>
    UnexpectedEof,
    VarintTooLong,
    VarintNotMinimal,
    /// <summary>The length prefix is outside the type's SSZ bounds (or MAX_PAYLOAD_SIZE): rejected before allocating.</summary>
    LengthOutOfBounds,
    MissingStreamIdentifier,
    BadStreamIdentifier,
    ReservedChunkType,
    ChunkTooShort,
    ChunkTooLarge,
    /// <summary>More than max_compressed_len(n) bytes after the length prefix.</summary>
    CompressedLengthExceeded,
    BadSnappyBlock,
    /// <summary>Frames expand past the declared length (decompression bomb).</summary>
    DecompressionBomb,
    ChecksumMismatch,
    /// <summary>Bytes after the declared payload (or after the only response chunk).</summary>
    TrailingBytes,
    /// <summary>Unused since reserved result codes 4..127 are read as error responses (phase0/p2p-interface.md "Responding side").</summary>
    InvalidResultCode,
    InvalidSsz,
}

/// <summary>A decoded response chunk: result code and the SSZ payload (for codes != 0, the ErrorMessage bytes).</summary>
public readonly record struct ResponseChunk(byte Result, byte[] Payload)
{
    public const byte Success = 0;
    public const byte InvalidRequest = 1;
    public const byte ServerError = 2;
    public const byte ResourceUnavailable = 3;

    public bool IsSuccess => Result == Success;

    /// <summary>
    /// Every code but 0 is an error response with an ErrorMessage payload: 1-3 are the spec's, 4-127 are reserved and
    /// "should be treated as error if not recognized expressly", and clients use codes from 128 for their own errors
    /// (phase0/p2p-interface.md "Responding side").
    /// </summary>
    public bool IsError => Result != Success;
}

/// <summary>
/// ssz_snappy (phase0/p2p-interface.md "SSZ-snappy encoding strategy"): uvarint(len(ssz)) || snappy frames(ssz).
/// Pure encode/decode over spans; <see cref="ReqRespStreamReader"/> applies the same rules to a live stream.
/// </summary>
public static class SszSnappy
{
    /// <summary>"The length-prefix ... MUST not exceed 10 bytes in length" (phase0/p2p-interface.md, ssz_snappy encoding strategy).</summary>
    public const int MaxLengthPrefix = Varint.MaxUInt64Length;

    internal static readonly Meter Meter = new("ClP2p.Eth2");

    internal static readonly Counter<long> DecodeErrors =
        Meter.CreateCounter<long>("clp2p.eth2.reqresp.decode_errors", description: "ssz_snappy payloads rejected, by reason");

    internal static readonly Counter<long> GraceExpired =
        Meter.CreateCounter<long>("clp2p.eth2.reqresp.grace_expired", description: "Waits for a peer's end of stream cut short by the grace period or a reset, by what was awaited");

    /// <summary>Counts a tolerated end: the peer did not close its side within the grace period (or reset it) after the exchange was complete.</summary>
    internal static void CountGraceExpired(string awaited) =>
        GraceExpired.Add(1, new KeyValuePair<string, object?>("awaited", awaited));

    internal static void Count(ReqRespError error) =>
        DecodeErrors.Add(1, new KeyValuePair<string, object?>("reason", error.ToString()));

    /// <summary>uvarint(len) || frames: a request body, or a response chunk without its result byte.</summary>
    public static void EncodePayload(ReadOnlySpan<byte> ssz, IBufferWriter<byte> output)
    {
        output.Advance(Varint.Write(output.GetSpan(MaxLengthPrefix), (ulong)ssz.Length));
        SnappyFraming.Encode(ssz, output);
    }

    public static byte[] EncodePayload(ReadOnlySpan<byte> ssz)
    {
        var w = new ArrayBufferWriter<byte>(ssz.Length + 32);
        EncodePayload(ssz, w);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>result(1) || uvarint(len) || frames.</summary>
    public static byte[] EncodeResponseChunk(byte result, ReadOnlySpan<byte> ssz)
    {
        var w = new ArrayBufferWriter<byte>(ssz.Length + 33);
        w.Write([result]);
        EncodePayload(ssz, w);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Decodes one payload from <paramref name="input"/>. The length prefix is checked against
    /// [<paramref name="minLength"/>, min(<paramref name="maxLength"/>, MAX_PAYLOAD_SIZE)] before anything is
    /// allocated, and at most max_compressed_len(n) bytes are read after it. Trailing input is left to the caller
    /// through <paramref name="consumed"/>.
    /// </summary>
    public static bool TryDecodePayload(ReadOnlySpan<byte> input, int minLength, int maxLength, out byte[] ssz, out int consumed, out ReqRespError error)
    {
        ssz = [];
        consumed = 0;
        var varint = Varint.TryRead(input, MaxLengthPrefix, out ulong n, out int prefix);
        if (varint != VarintStatus.Ok)
        {
            error = FromVarint(varint);
            Count(error);
            return false;
        }
        if (n < (ulong)minLength || n > (ulong)Math.Min(maxLength, Eth2Protocols.MaxPayloadSize))
        {
            error = ReqRespError.LengthOutOfBounds;
            Count(error);
            return false;
        }
        if (n == 0)
        {
            // An empty payload has no data chunks; its framed stream may be empty or the bare stream identifier.
            consumed = prefix + (input[prefix..].StartsWith(SnappyFraming.StreamIdentifier) ? SnappyFraming.StreamIdentifier.Length : 0);
            ssz = [];
            error = ReqRespError.None;
            return true;
        }
        long budget = Eth2Protocols.MaxCompressedLength((long)n);
        var frames = input[prefix..];
        bool truncatedByBudget = frames.Length > budget;
        if (truncatedByBudget) frames = frames[..(int)budget];
        var output = new byte[(int)n];
        if (!SnappyFraming.TryDecode(frames, output, out int used, out var ferr))
        {
            error = ferr == SnappyFrameError.NeedMoreData
                ? (truncatedByBudget ? ReqRespError.CompressedLengthExceeded : ReqRespError.UnexpectedEof)
                : FromFrame(ferr);
            Count(error);
            return false;
        }
        consumed = prefix + used;
        ssz = output;
        error = ReqRespError.None;
        return true;
    }

    /// <summary>Decodes a payload that must fill <paramref name="input"/> exactly (no trailing bytes).</summary>
    public static bool TryDecodeExact(ReadOnlySpan<byte> input, int minLength, int maxLength, out byte[] ssz, out ReqRespError error)
    {
        if (!TryDecodePayload(input, minLength, maxLength, out ssz, out int consumed, out error)) return false;
        if (consumed != input.Length)
        {
            ssz = [];
            error = ReqRespError.TrailingBytes;
            Count(error);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Decodes a single response chunk that must fill <paramref name="input"/>: success payloads are bounded by
    /// [min, max]; error payloads are ErrorMessage (List[byte, 256]).
    /// </summary>
    public static bool TryDecodeResponse(ReadOnlySpan<byte> input, int minLength, int maxLength, out ResponseChunk chunk, out ReqRespError error)
    {
        chunk = default;
        if (input.IsEmpty) { error = ReqRespError.UnexpectedEof; Count(error); return false; }
        byte result = input[0];
        var (min, max) = result == 0 ? (minLength, maxLength) : (0, Ssz.ErrorMessage.MaxLength);
        if (!TryDecodeExact(input[1..], min, max, out var ssz, out error)) return false;
        chunk = new ResponseChunk(result, ssz);
        return true;
    }

    internal static ReqRespError FromVarint(VarintStatus e) => e switch
    {
        VarintStatus.NeedMore => ReqRespError.UnexpectedEof,
        VarintStatus.NotMinimal => ReqRespError.VarintNotMinimal,
        _ => ReqRespError.VarintTooLong,
    };

    internal static ReqRespError FromFrame(SnappyFrameError e) => e switch
    {
        SnappyFrameError.NeedMoreData => ReqRespError.UnexpectedEof,
        SnappyFrameError.MissingStreamIdentifier => ReqRespError.MissingStreamIdentifier,
        SnappyFrameError.BadStreamIdentifier => ReqRespError.BadStreamIdentifier,
        SnappyFrameError.ReservedUnskippableChunk => ReqRespError.ReservedChunkType,
        SnappyFrameError.ChunkTooShort => ReqRespError.ChunkTooShort,
        SnappyFrameError.ChunkTooLarge => ReqRespError.ChunkTooLarge,
        SnappyFrameError.BadSnappyBlock => ReqRespError.BadSnappyBlock,
        SnappyFrameError.ExpandsPastDeclaredLength => ReqRespError.DecompressionBomb,
        SnappyFrameError.ChecksumMismatch => ReqRespError.ChecksumMismatch,
        _ => ReqRespError.BadSnappyBlock,
    };
}
