using System.Runtime.CompilerServices;
using ClP2p.Eth2.Snappy;
using ClP2p.Libp2p.Codecs;

namespace ClP2p.Eth2.ReqResp;

/// <summary>The result of reading one payload or chunk from a stream.</summary>
public readonly record struct ReadResult(bool Ok, ResponseChunk Chunk, ReqRespError Error)
{
    public static ReadResult Fail(ReqRespError e)
    {
        SszSnappy.Count(e);
        return new ReadResult(false, default, e);
    }
}

/// <summary>
/// Reads ssz_snappy payloads from a live stream with the same rules as <see cref="SszSnappy"/>: the length prefix
/// is bounded before anything is allocated, each chunk header is checked against the remaining
/// max_compressed_len budget before its body is read, and a chunk may not expand past the declared length.
/// Buffers at most one chunk (≤ budget bytes) at a time.
/// </summary>
public sealed class ReqRespStreamReader
{
    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[512];
    private int _start;
    private int _end;
    private bool _afterEmptyPayload;

    public ReqRespStreamReader(Stream stream) => _stream = stream;

    /// <summary>Reads result(1) || payload; error codes carry an ErrorMessage (≤ 256 bytes).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ReadResult> ReadResponseChunkAsync(int minLength, int maxLength, CancellationToken ct)
    {
        int result = await ReadByteAsync(ct).ConfigureAwait(false);
        if (result < 0) return ReadResult.Fail(ReqRespError.UnexpectedEof);
        // Codes 4-127 are reserved and read as error responses, like the spec's 1-3 and clients' 128+ (ResponseChunk.IsError).
        var (min, max) = result == 0 ? (minLength, maxLength) : (0, Ssz.ErrorMessage.MaxLength);
        var payload = await ReadPayloadAsync(min, max, ct).ConfigureAwait(false);
        return payload.Ok ? payload with { Chunk = new ResponseChunk((byte)result, payload.Chunk.Payload) } : payload;
    }

    /// <summary>Reads uvarint(n) || frames producing exactly n bytes.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ReadResult> ReadPayloadAsync(int minLength, int maxLength, CancellationToken ct)
    {
        ulong n;
        var prefix = new byte[SszSnappy.MaxLengthPrefix];
        for (int i = 0; ; i++)
        {
            int b = await ReadByteAsync(ct).ConfigureAwait(false);
            if (b < 0) return ReadResult.Fail(ReqRespError.UnexpectedEof);
            prefix[i] = (byte)b;
            var status = Varint.TryRead(prefix.AsSpan(0, i + 1), SszSnappy.MaxLengthPrefix, out n, out _);
            if (status == VarintStatus.Ok) break;
            if (status != VarintStatus.NeedMore || i + 1 == prefix.Length) return ReadResult.Fail(SszSnappy.FromVarint(status));
        }
        if (n < (ulong)minLength || n > (ulong)Math.Min(maxLength, Eth2Protocols.MaxPayloadSize))
            return ReadResult.Fail(ReqRespError.LengthOutOfBounds);

        _afterEmptyPayload = n == 0;
        if (n == 0) return new ReadResult(true, new ResponseChunk(0, []), ReqRespError.None);
        long budget = Eth2Protocols.MaxCompressedLength((long)n);
        var output = new byte[(int)n];
        int produced = 0;
        bool first = true;
        byte[] header = new byte[SnappyFraming.ChunkHeaderLength];
        while (produced < output.Length || first)
        {
            if (budget < SnappyFraming.ChunkHeaderLength) return ReadResult.Fail(ReqRespError.CompressedLengthExceeded);
            if (!await ReadExactAsync(header, ct).ConfigureAwait(false)) return ReadResult.Fail(ReqRespError.UnexpectedEof);
            budget -= SnappyFraming.ChunkHeaderLength;
            var (type, len) = SnappyFraming.ReadChunkHeader(header);
            if (len > budget) return ReadResult.Fail(ReqRespError.CompressedLengthExceeded);
            budget -= len;
            var body = new byte[len]; // ≤ max_compressed_len(n) - consumed, so bounded by the type's maximum
            if (!await ReadExactAsync(body, ct).ConfigureAwait(false)) return ReadResult.Fail(ReqRespError.UnexpectedEof);
            if (!SnappyFraming.TryDecodeChunk(type, body, first, output.AsSpan(produced), out int w, out var ferr))
                return ReadResult.Fail(SszSnappy.FromFrame(ferr));
            produced += w;
            first = false;
        }
        return new ReadResult(true, new ResponseChunk(0, output), ReqRespError.None);
    }

    /// <summary>
    /// True when the stream ends here. An empty framed stream (the bare stream identifier) is tolerated after a
    /// zero-length payload. Bytes beyond that mean the peer sent more than the single expected chunk.
    /// </summary>
    public async ValueTask<bool> IsAtEndAsync(CancellationToken ct)
    {
        if (_afterEmptyPayload)
        {
            _afterEmptyPayload = false;
            var id = SnappyFraming.StreamIdentifier.ToArray();
            var got = new byte[id.Length];
            int first = await ReadByteAsync(ct).ConfigureAwait(false);
            if (first < 0) return true;
            got[0] = (byte)first;
            if (!await ReadExactAsync(got.AsMemory(1), ct).ConfigureAwait(false) || !got.AsSpan().SequenceEqual(id)) return false;
        }
        int b = await ReadByteAsync(ct).ConfigureAwait(false);
        return b < 0;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadByteAsync(CancellationToken ct)
    {
        if (_start == _end && !await FillAsync(ct).ConfigureAwait(false)) return -1;
        return _buffer[_start++];
    }

    private async ValueTask<bool> ReadExactAsync(Memory<byte> destination, CancellationToken ct)
    {
        int copied = 0;
        while (copied < destination.Length)
        {
            if (_start == _end)
            {
                // Large reads go straight to the destination; small ones through the buffer.
                if (destination.Length - copied >= _buffer.Length)
                {
                    int r = await _stream.ReadAsync(destination[copied..], ct).ConfigureAwait(false);
                    if (r == 0) return false;
                    copied += r;
                    continue;
                }
                if (!await FillAsync(ct).ConfigureAwait(false)) return false;
            }
            int n = Math.Min(_end - _start, destination.Length - copied);
            _buffer.AsMemory(_start, n).CopyTo(destination[copied..]);
            _start += n;
            copied += n;
        }
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> FillAsync(CancellationToken ct)
    {
        _start = 0;
        _end = await _stream.ReadAsync(_buffer, ct).ConfigureAwait(false);
        return _end > 0;
    }
}
