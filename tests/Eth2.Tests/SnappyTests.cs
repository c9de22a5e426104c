using ClP2p.Libp2p.Codecs;
using ClP2p.Eth2.ReqResp;
using ClP2p.Eth2.Snappy;

namespace ClP2p.Eth2.Tests;

public class SnappyTests
{
    internal static byte[] Hex(string h) => Convert.FromHexString(h.Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));

    internal const string StatusV1Ssz = "8c9f62fed62a74ae0f933224133c5e6e1827baf6d7b0c2bfcb8b0d80f6ec8bb9dbaa2f7b80ab0600000000004f0e5b8f3f6d4a1c2b3a49587766554433221100ffeeddccbbaa9988776655440471d50000000000";
    internal const string StatusV1A = "54ff060000734e61507059015800006d7878ef8c9f62fed62a74ae0f933224133c5e6e1827baf6d7b0c2bfcb8b0d80f6ec8bb9dbaa2f7b80ab0600000000004f0e5b8f3f6d4a1c2b3a49587766554433221100ffeeddccbbaa9988776655440471d50000000000";
    internal const string StatusV1B = "54ff060000734e61507059005b00006d7878ef54f0538c9f62fed62a74ae0f933224133c5e6e1827baf6d7b0c2bfcb8b0d80f6ec8bb9dbaa2f7b80ab0600000000004f0e5b8f3f6d4a1c2b3a49587766554433221100ffeeddccbbaa9988776655440471d50000000000";
    internal const string StatusV2Ssz = StatusV1Ssz + "60fecd0000000000";
    internal const string StatusV2A = "5cff060000734e6150705901600000da68a7718c9f62fed62a74ae0f933224133c5e6e1827baf6d7b0c2bfcb8b0d80f6ec8bb9dbaa2f7b80ab0600000000004f0e5b8f3f6d4a1c2b3a49587766554433221100ffeeddccbbaa9988776655440471d5000000000060fecd0000000000";
    internal const string StatusV2B = "5cff060000734e6150705900630000da68a7715cf05b8c9f62fed62a74ae0f933224133c5e6e1827baf6d7b0c2bfcb8b0d80f6ec8bb9dbaa2f7b80ab0600000000004f0e5b8f3f6d4a1c2b3a49587766554433221100ffeeddccbbaa9988776655440471d5000000000060fecd0000000000";
    internal const string LighthouseStatusChunk = "0054ff060000734e615070590032000006e71e7b54989925efd6c9cbcb8ceb9b5f71216f5137282bf6a1e3b50f64e42d6c7fb347abe07eb0db8200000005029e2800";

    [Fact]
    public void Crc32c_standard_check_values()
    {
        Assert.Equal(0xe3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
        Assert.Equal(0x8a9136aau, Crc32C.Compute(new byte[32]));
        Span<byte> le = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(le, Crc32C.ComputeMasked(Hex(StatusV1Ssz)));
        Assert.Equal("6d7878ef", Convert.ToHexStringLower(le));
    }

    [Theory]
    [InlineData(0UL, "00")]
    [InlineData(1UL, "01")]
    [InlineData(84UL, "54")]
    [InlineData(92UL, "5c")]
    [InlineData(127UL, "7f")]
    [InlineData(128UL, "8001")]
    [InlineData(300UL, "ac02")]
    [InlineData(16384UL, "808001")]
    [InlineData(10485760UL, "80808005")]
    [InlineData(9223372036854775808UL, "80808080808080808001")]
    public void Uvarint_vectors_round_trip(ulong value, string hex)
    {
        Assert.Equal(hex, Convert.ToHexStringLower(Varint.Encode(value)));
        Assert.Equal(VarintStatus.Ok, Varint.TryRead(Hex(hex), SszSnappy.MaxLengthPrefix, out var v, out var n));
        Assert.Equal((value, hex.Length / 2), (v, n));
    }

    [Theory]
    [InlineData("8000", VarintStatus.NotMinimal)]
    [InlineData("ff8080808080808080ff01", VarintStatus.TooLong)]
    [InlineData("ffffffffffffffffff7f", VarintStatus.Overflow)]
    [InlineData("ffffffffffffffffff02", VarintStatus.Overflow)]
    [InlineData("80", VarintStatus.NeedMore)]
    public void Uvarint_rejects_non_minimal_overlong_and_truncated(string hex, VarintStatus expected)
    {
        Assert.Equal(expected, Varint.TryRead(Hex(hex), SszSnappy.MaxLengthPrefix, out _, out _));
    }

    [Fact]
    public void Encoder_emits_the_uncompressed_framing_a_byte_for_byte_for_status_v1()
    {
        Assert.Equal(StatusV1A, Convert.ToHexStringLower(SszSnappy.EncodePayload(Hex(StatusV1Ssz))));
        Assert.Equal(StatusV2A, Convert.ToHexStringLower(SszSnappy.EncodePayload(Hex(StatusV2Ssz))));
    }

    [Theory]
    [InlineData(StatusV1A, StatusV1Ssz)]
    [InlineData(StatusV1B, StatusV1Ssz)]
    [InlineData(StatusV2A, StatusV2Ssz)]
    [InlineData(StatusV2B, StatusV2Ssz)]
    [InlineData("10ff060000734e61507059011400003c66c49d05000000000000000100000000000080", "05000000000000000100000000000080")]
    [InlineData("10ff060000734e61507059001600003c66c49d103c05000000000000000100000000000080", "05000000000000000100000000000080")]
    [InlineData("11ff060000734e6150705901150000380e7deb0500000000000000010000000000008002", "0500000000000000010000000000008002")]
    [InlineData("11ff060000734e6150705900170000380e7deb114005000000000000000100000000000080 02", "0500000000000000010000000000008002")]
    [InlineData("19ff060000734e61507059011d00001bafbf0c05000000000000000100000000000080020400000000000000", "05000000000000000100000000000080020400000000000000")]
    [InlineData("19ff060000734e61507059001f00001bafbf0c196005000000000000000100000000000080020400000000000000", "05000000000000000100000000000080020400000000000000")]
    [InlineData("08ff060000734e61507059010c0000eab2043e0500000000000000", "0500000000000000")]
    [InlineData("08ff060000734e61507059000e0000eab2043e081c0500000000000000", "0500000000000000")]
    [InlineData("08ff060000734e61507059010c00000175de410100000000000000", "0100000000000000")]
    [InlineData("08ff060000734e61507059000e00000175de41081c0100000000000000", "0100000000000000")]
    [InlineData("0bff060000734e61507059010f00008a23d9c16261642072657175657374", "6261642072657175657374")]
    [InlineData("0bff060000734e61507059001100008a23d9c10b286261642072657175657374", "6261642072657175657374")]
    public void Section9_payloads_decode_in_both_framings(string payload, string ssz)
    {
        var input = Hex(payload);
        Assert.True(SszSnappy.TryDecodeExact(input, 0, 256, out var decoded, out var error), error.ToString());
        Assert.Equal(ssz, Convert.ToHexStringLower(decoded));
    }

    [Fact]
    public void Real_lighthouse_status_chunk_with_copy_elements_decodes()
    {
        Assert.True(SszSnappy.TryDecodeResponse(Hex(LighthouseStatusChunk), 84, 84, out var chunk, out var error), error.ToString());
        Assert.True(chunk.IsSuccess);
        Assert.True(Ssz.StatusMessage.TryDecode(chunk.Payload, 1, out var status, out _));
        Assert.Equal("9925efd6", status.ForkDigest.ToString());
        Assert.Equal("c9cbcb8ceb9b5f71216f5137282bf6a1e3b50f64e42d6c7fb347abe07eb0db82", status.FinalizedRoot.ToString());
        Assert.Equal(status.FinalizedRoot, status.HeadRoot);
        Assert.Equal((0UL, 0UL), (status.FinalizedEpoch, status.HeadSlot));
    }

    [Fact]
    public void Error_response_chunk_carries_the_error_message()
    {
        var input = Hex("010bff060000734e61507059010f00008a23d9c16261642072657175657374");
        Assert.True(SszSnappy.TryDecodeResponse(input, 84, 84, out var chunk, out _));
        Assert.Equal(ResponseChunk.InvalidRequest, chunk.Result);
        Assert.True(Ssz.ErrorMessage.TryDecode(chunk.Payload, out var text, out _));
        Assert.Equal("bad request", text);
        Assert.Equal("0008ff060000734e61507059010c0000eab2043e0500000000000000",
            Convert.ToHexStringLower(SszSnappy.EncodeResponseChunk(0, Hex("0500000000000000"))));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(65536)]
    [InlineData(65537)]
    [InlineData(300_000)]
    public void Large_payloads_round_trip_across_chunks(int size)
    {
        var rng = new Random(size);
        var data = new byte[size];
        for (int i = 0; i < size; i++) data[i] = (byte)(rng.Next(4) == 0 ? rng.Next(256) : i % 7); // compressible
        var encoded = SszSnappy.EncodePayload(data);
        Assert.True(SszSnappy.TryDecodeExact(encoded, 0, size, out var decoded, out var error), error.ToString());
        Assert.Equal(data, decoded);
        var random = new byte[size];
        rng.NextBytes(random); // incompressible → uncompressed chunks
        Assert.True(SszSnappy.TryDecodeExact(SszSnappy.EncodePayload(random), 0, size, out decoded, out _));
        Assert.Equal(random, decoded);
    }

    [Fact]
    public void Empty_payload_round_trips()
    {
        var encoded = SszSnappy.EncodePayload([]);
        Assert.True(SszSnappy.TryDecodeExact(encoded, 0, 256, out var decoded, out var error), error.ToString());
        Assert.Empty(decoded);
        Assert.True(SszSnappy.TryDecodeExact([0x00], 0, 256, out _, out _));
    }

    [Fact]
    public async Task Empty_error_message_then_eof_is_accepted_by_the_stream_reader()
    {
        var reader = new ReqRespStreamReader(new MemoryStream(SszSnappy.EncodeResponseChunk(2, [])));
        var r = await reader.ReadResponseChunkAsync(84, 84, default);
        Assert.True(r.Ok);
        Assert.Equal(2, r.Chunk.Result);
        Assert.Empty(r.Chunk.Payload);
        Assert.True(await reader.IsAtEndAsync(default));
    }
}
