using System.Buffers.Binary;
using ClP2p.Eth2.ReqResp;
using ClP2p.Eth2.Snappy;
using static ClP2p.Eth2.Tests.SnappyTests;

namespace ClP2p.Eth2.Tests;

public class BadInputTests
{
    private static async Task<ReadResult> ReadFromStream(byte[] bytes, int min, int max, bool response = false)
    {
        var reader = new ReqRespStreamReader(new MemoryStream(bytes));
        return response
            ? await reader.ReadResponseChunkAsync(min, max, CancellationToken.None)
            : await reader.ReadPayloadAsync(min, max, CancellationToken.None);
    }

    /// <summary>Both the span decoder and the stream reader must reach the same verdict.</summary>
    private static async Task AssertRejected(byte[] input, int min, int max, ReqRespError expected)
    {
        Assert.False(SszSnappy.TryDecodeExact(input, min, max, out _, out var e1));
        Assert.Equal(expected, e1);
        var r = await ReadFromStream(input, min, max);
        if (expected == ReqRespError.TrailingBytes)
        {
            Assert.True(r.Ok);
            return;
        }
        Assert.False(r.Ok);
        Assert.Equal(expected, r.Error);
    }

    [Fact]
    public async Task Oversized_varint_is_rejected()
    {
        await AssertRejected(Hex("ffffffffffffffffffff01"), 0, 84, ReqRespError.VarintTooLong);
        await AssertRejected(Hex("d40000"), 84, 84, ReqRespError.VarintNotMinimal); // 84 with a redundant byte
    }

    [Fact]
    public async Task Length_over_the_type_maximum_is_rejected_before_allocating_it()
    {
        // Declares MAX_PAYLOAD_SIZE (10 MiB) for a Status (max 84): reject without a 10 MiB buffer.
        var input = Hex("80808005ff060000734e61507059");
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.False(SszSnappy.TryDecodeExact(input, 84, 84, out _, out var e));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(ReqRespError.LengthOutOfBounds, e);
        Assert.True(allocated < 64 * 1024, $"allocated {allocated} bytes");
        await AssertRejected(Hex("53ff060000734e61507059"), 84, 84, ReqRespError.LengthOutOfBounds); // 83 < min
    }

    [Fact]
    public async Task Length_over_max_payload_size_is_rejected_even_for_unbounded_types()
    {
        await AssertRejected(Hex("81808005"), 0, int.MaxValue, ReqRespError.LengthOutOfBounds); // 10 MiB + 1
    }

    [Fact]
    public async Task Decompression_bomb_chunk_that_expands_past_the_declared_length_is_rejected()
    {
        // Declares 8 bytes (Ping) but the compressed chunk says it expands to 65536 bytes of zeros.
        var zeros = new byte[65536];
        var block = Snappier.Snappy.CompressToArray(zeros);
        var crc = Crc32C.ComputeMasked(zeros);
        var chunk = new List<byte> { 0x00 };
        int len = block.Length + 4;
        chunk.AddRange([(byte)len, (byte)(len >> 8), (byte)(len >> 16)]);
        var crcBytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(crcBytes, crc);
        chunk.AddRange(crcBytes);
        chunk.AddRange(block);
        byte[] input = [0x08, .. SnappyFraming.StreamIdentifier, .. chunk];
        // The compressed chunk (~3 KiB) is also over max_compressed_len(8) = 41, so the stream reader refuses to even read it.
        Assert.False(SszSnappy.TryDecodeExact(input, 8, 8, out _, out var e));
        Assert.Equal(ReqRespError.CompressedLengthExceeded, e);
        var r = await ReadFromStream(input, 8, 8);
        Assert.Equal(ReqRespError.CompressedLengthExceeded, r.Error);
    }

    [Fact]
    public async Task Small_chunk_declaring_a_larger_uncompressed_size_than_remains_is_a_bomb()
    {
        // Declared 8, chunk block header says 100 uncompressed bytes (within the compressed budget).
        var hundred = new byte[100];
        var block = Snappier.Snappy.CompressToArray(hundred); // ~ 9 bytes
        var body = new byte[4 + block.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(body, Crc32C.ComputeMasked(hundred));
        block.CopyTo(body, 4);
        byte[] input = [0x08, .. SnappyFraming.StreamIdentifier, 0x00, (byte)body.Length, 0, 0, .. body];
        await AssertRejected(input, 8, 8, ReqRespError.DecompressionBomb);
        // Same with an uncompressed chunk carrying 9 bytes for a declared 8.
        byte[] nine = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var body2 = new byte[13];
        BinaryPrimitives.WriteUInt32LittleEndian(body2, Crc32C.ComputeMasked(nine));
        nine.CopyTo(body2, 4);
        await AssertRejected([0x08, .. SnappyFraming.StreamIdentifier, 0x01, 13, 0, 0, .. body2], 8, 8, ReqRespError.DecompressionBomb);
    }

    [Fact]
    public async Task Bad_crc_is_rejected()
    {
        var input = Hex(StatusV1A);
        input[15] ^= 0x01; // inside the masked crc
        await AssertRejected(input, 84, 84, ReqRespError.ChecksumMismatch);
        var compressed = Hex(StatusV1B);
        compressed[^1] ^= 0xff; // payload byte changes, crc no longer matches
        await AssertRejected(compressed, 84, 84, ReqRespError.ChecksumMismatch);
    }

    [Fact]
    public async Task Trailing_bytes_after_the_payload_are_rejected()
    {
        byte[] input = [.. Hex(StatusV1A), 0x00];
        await AssertRejected(input, 84, 84, ReqRespError.TrailingBytes);
        var reader = new ReqRespStreamReader(new MemoryStream([0x00, .. Hex(StatusV1A), 0x00]));
        Assert.True((await reader.ReadResponseChunkAsync(84, 84, default)).Ok);
        Assert.False(await reader.IsAtEndAsync(default));
        Assert.False(SszSnappy.TryDecodeResponse([0x00, .. Hex(StatusV1A), 0x42], 84, 84, out _, out var e));
        Assert.Equal(ReqRespError.TrailingBytes, e);
    }

    [Fact]
    public async Task Truncated_payload_is_an_unexpected_eof()
    {
        var input = Hex(StatusV1A);
        await AssertRejected(input[..^10], 84, 84, ReqRespError.UnexpectedEof);
        await AssertRejected(input[..1], 84, 84, ReqRespError.UnexpectedEof);
        await AssertRejected([], 84, 84, ReqRespError.UnexpectedEof);
    }

    [Fact]
    public async Task Missing_stream_identifier_and_reserved_chunks_are_rejected()
    {
        var a = Hex(StatusV1A);
        byte[] noId = [a[0], .. a[11..]];
        await AssertRejected(noId, 84, 84, ReqRespError.MissingStreamIdentifier);
        byte[] reserved = [0x08, .. SnappyFraming.StreamIdentifier, 0x02, 0x00, 0x00, 0x00];
        await AssertRejected(reserved, 8, 8, ReqRespError.ReservedChunkType);
        byte[] badId = [0x08, 0xff, 0x06, 0x00, 0x00, .. "sNaPpZ"u8];
        await AssertRejected(badId, 8, 8, ReqRespError.BadStreamIdentifier);
    }

    [Fact]
    public async Task Padding_flood_is_bounded_by_max_compressed_len()
    {
        // Lighthouse test_decode_malicious_v1_message: many padding chunks before the data.
        var a = Hex(StatusV1A);
        var list = new List<byte> { a[0] };
        list.AddRange(a.AsSpan(1, 10).ToArray());
        for (int i = 0; i < 40; i++) list.AddRange(new byte[] { 0xfe, 0, 0, 0 });
        list.AddRange(a.AsSpan(11).ToArray());
        await AssertRejected(list.ToArray(), 84, 84, ReqRespError.CompressedLengthExceeded);
        // A few padding and skippable chunks within the budget are fine.
        var ok = new List<byte> { a[0] };
        ok.AddRange(a.AsSpan(1, 10).ToArray());
        ok.AddRange(new byte[] { 0xfe, 1, 0, 0, 0, 0x80, 0, 0, 0 });
        ok.AddRange(a.AsSpan(11).ToArray());
        Assert.True(SszSnappy.TryDecodeExact(ok.ToArray(), 84, 84, out var ssz, out _));
        Assert.Equal(StatusV1Ssz, Convert.ToHexStringLower(ssz));
    }

    [Fact]
    public async Task Huge_chunk_header_is_rejected_before_reading_its_body()
    {
        // A chunk header declaring 16 MiB - 1 for an 84-byte Status: the stream reader must not allocate it.
        byte[] input = [0x54, .. SnappyFraming.StreamIdentifier, 0x00, 0xff, 0xff, 0xff];
        long before = GC.GetAllocatedBytesForCurrentThread();
        var r = await ReadFromStream(input, 84, 84);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(ReqRespError.CompressedLengthExceeded, r.Error);
        Assert.True(allocated < 256 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public async Task Reserved_result_codes_are_error_responses_and_client_codes_carry_error_messages()
    {
        // Code 5 (reserved, 4-127) is an error response with its ErrorMessage, not a malformed chunk.
        var r = await ReadFromStream(SszSnappy.EncodeResponseChunk(5, "reserved"u8), 84, 84, response: true);
        Assert.True(r.Ok);
        Assert.Equal(5, r.Chunk.Result);
        Assert.True(r.Chunk.IsError);
        Assert.Equal("reserved"u8.ToArray(), r.Chunk.Payload);
        Assert.True(SszSnappy.TryDecodeResponse(SszSnappy.EncodeResponseChunk(127, "x"u8), 84, 84, out var chunk, out _));
        Assert.Equal((127, true), (chunk.Result, chunk.IsError));
        // Lighthouse's 139 RateLimited: an error body of up to 256 bytes, not the success bounds.
        var body = SszSnappy.EncodeResponseChunk(139, "rate limited"u8);
        r = await ReadFromStream(body, 84, 84, response: true);
        Assert.True(r.Ok);
        Assert.Equal(139, r.Chunk.Result);
        Assert.Equal("rate limited"u8.ToArray(), r.Chunk.Payload);
        // An error message over 256 bytes is rejected.
        r = await ReadFromStream(SszSnappy.EncodeResponseChunk(2, new byte[257]), 84, 84, response: true);
        Assert.Equal(ReqRespError.LengthOutOfBounds, r.Error);
    }

    [Fact]
    public void Garbage_never_throws()
    {
        var rng = new Random(7);
        for (int i = 0; i < 5000; i++)
        {
            var buf = new byte[rng.Next(0, 200)];
            rng.NextBytes(buf);
            if (buf.Length > 0 && rng.Next(2) == 0) buf[0] = (byte)rng.Next(0, 100);
            if (buf.Length > 11 && rng.Next(2) == 0) SnappyFraming.StreamIdentifier.CopyTo(buf.AsSpan(1));
            SszSnappy.TryDecodeExact(buf, 0, 100, out _, out _);
            SszSnappy.TryDecodeResponse(buf, 0, 100, out _, out _);
        }
    }
}
