using System.Net;
using ClP2p.Discovery.Messages;
using static ClP2p.Discovery.Tests.Hex;

namespace ClP2p.Discovery.Tests;

/// <summary>discv5 message encodings (devp2p discv5-wire.md "Protocol Messages"), vectors computed from the spec's RLP layouts.</summary>
public class MessageTests
{
    private static readonly RequestId Rid = RequestId.From(B("00000001"));

    public static TheoryData<string, string> Vectors() => new()
    {
        { "ping", "01c6840000000102" },
        { "pong4", "02ce840000000101847f00000182765f" },
        { "pong6", "02da840000000101900000000000000000000000000000000182765f" },
        { "findnode", "03cd8400000001c782010081ff81fe" },
        { "findnode0", "03c78400000001c180" },
        { "nodes", "04f88e840000000101f886" + EnrTests.Eip778Rlp },
        { "nodesEmpty", "04c7840000000101c0" },
        { "talkreq", "05cd84000000018474657374820102" },
        { "talkresp", "06c6840000000180" },
    };

    private static Discv5Message Build(string name) => name switch
    {
        "ping" => new PingMessage(Rid, 2),
        "pong4" => new PongMessage(Rid, 1, IPAddress.Loopback, 30303),
        "pong6" => new PongMessage(Rid, 1, IPAddress.IPv6Loopback, 30303),
        "findnode" => new FindNodeMessage(Rid, [256, 255, 254]),
        "findnode0" => new FindNodeMessage(Rid, [0]),
        "nodes" => new NodesMessage(Rid, 1, [B(EnrTests.Eip778Rlp)]),
        "nodesEmpty" => new NodesMessage(Rid, 1, []),
        "talkreq" => new TalkReqMessage(Rid, "test"u8.ToArray(), B("0102")),
        "talkresp" => new TalkRespMessage(Rid, Array.Empty<byte>()),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Message_encodes_to_vector_and_decodes_back(string name, string hex)
    {
        var m = Build(name);
        Assert.Equal(hex, S(MessageCodec.Encode(m)));
        Assert.True(MessageCodec.TryDecode(B(hex), out var back, out var err), err.ToString());
        Assert.Equal(m.Type, back!.Type);
        Assert.Equal(hex, S(MessageCodec.Encode(back)));
    }

    [Theory]
    [InlineData("04f88e840000000101f886" + EnrTests.Eip778Rlp, null)]   // one record
    [InlineData("04c7840000000101c0", null)]                            // no record
    [InlineData("04c8840000000101c180", MessageError.BadRecord)]        // a record that is not a list
    [InlineData("04c784000000010180", MessageError.MissingField)]       // records as a string, not a list
    [InlineData("04cf840000000188ffffffffffffffffc0", MessageError.BadTotal)]
    [InlineData("04c58400000001", MessageError.BadTotal)]               // total missing
    public void Nodes_read_in_place_agree_with_the_full_decoder(string hex, MessageError? error)
    {
        var pt = B(hex);
        bool inPlace = MessageCodec.TryReadNodes(pt, out var id, out int total, out int at, out int length);
        bool decoded = MessageCodec.TryDecode(pt, out var m, out var err);
        Assert.Equal(decoded, inPlace);
        if (error is { } e)
        {
            Assert.Equal(e, err);
            return;
        }
        var nodes = Assert.IsType<NodesMessage>(m);
        Assert.Equal(nodes.RequestId.Value, id.Value);
        Assert.Equal(nodes.Total, total);
        var read = new List<string>();
        var list = new ClP2p.Discovery.Crypto.RlpReader(pt.AsSpan(at, length));
        while (!list.IsEnd && list.TryReadRaw(out var item, out _, out _)) read.Add(S(item));
        Assert.Equal(nodes.Records.Select(r => S(r.Span)), read);
    }

    [Fact]
    public void Decode_rejects_request_id_over_8_bytes()
    {
        Assert.False(MessageCodec.TryDecode(B("01cb89010203040506070809" + "02"), out _, out var err));
        Assert.Equal(MessageError.BadRequestId, err);
    }

    [Fact]
    public void Decode_rejects_trailing_bytes_after_message()
    {
        Assert.False(MessageCodec.TryDecode(B("01c684000000010200"), out _, out var err));
        Assert.Equal(MessageError.TrailingBytes, err);
    }

    [Fact]
    public void Decode_rejects_distance_over_256()
    {
        Assert.False(MessageCodec.TryDecode(B("03c98400000001c3820101"), out _, out var err));
        Assert.Equal(MessageError.BadDistance, err);
    }

    [Fact]
    public void Decode_rejects_unknown_type_and_bad_pong_ip()
    {
        Assert.False(MessageCodec.TryDecode(B("07c6840000000102"), out _, out var e1));
        Assert.Equal(MessageError.UnknownType, e1);
        Assert.False(MessageCodec.TryDecode(B("02cd840000000101837f000082765f"), out _, out var e2));
        Assert.Equal(MessageError.BadIp, e2);
    }

    [Fact]
    public void Random_messages_round_trip()
    {
        var rnd = new Random(9);
        for (int i = 0; i < 500; i++)
        {
            var rid = new RequestId((ulong)rnd.NextInt64() >> rnd.Next(64), 8);
            Discv5Message m = (i % 4) switch
            {
                0 => new PingMessage(rid, (ulong)rnd.NextInt64()),
                1 => new FindNodeMessage(rid, Enumerable.Range(0, rnd.Next(1, 5)).Select(_ => rnd.Next(0, 257)).ToArray()),
                2 => new PongMessage(rid, (ulong)rnd.Next(), new IPAddress(rnd.NextInt64() & 0xffffffff), rnd.Next(0, 65536)),
                _ => new TalkReqMessage(rid, RandomBytes(rnd, 10), RandomBytes(rnd, 100)),
            };
            var enc = MessageCodec.Encode(m);
            Assert.True(MessageCodec.TryDecode(enc, out var back, out _));
            Assert.Equal(S(enc), S(MessageCodec.Encode(back!)));
        }
    }

    private static byte[] RandomBytes(Random r, int max) { var b = new byte[r.Next(0, max)]; r.NextBytes(b); return b; }
}
