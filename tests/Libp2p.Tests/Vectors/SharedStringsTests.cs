using System.Text;
using ClP2p.Libp2p.Codecs;
using ClP2p.Libp2p.Protocols;

namespace ClP2p.Libp2p.Tests.Vectors;

/// <summary>
/// Strings peers repeat (identify's protocol ids, agent and protocol versions) decode to one shared instance, with the
/// same text <see cref="Encoding.UTF8"/> gives, invalid bytes included; long ones are decoded as they come.
/// </summary>
public sealed class SharedStringsTests
{
    [Fact]
    public void The_same_bytes_give_the_same_instance_and_the_text_utf8_decoding_gives()
    {
        var id = Encoding.UTF8.GetBytes("/eth2/beacon_chain/req/status/2/ssz_snappy");
        var a = SharedStrings.Get(id);
        var b = SharedStrings.Get(id.ToArray());
        Assert.Equal("/eth2/beacon_chain/req/status/2/ssz_snappy", a);
        Assert.Same(a, b);

        byte[] invalid = [0x2f, 0xff, 0xc3, 0x28, 0x61];
        Assert.Equal(Encoding.UTF8.GetString(invalid), SharedStrings.Get(invalid));
        Assert.Same(SharedStrings.Get(invalid), SharedStrings.Get(invalid));

        var longer = Encoding.UTF8.GetBytes(new string('x', SharedStrings.MaxBytes + 1) + "é");
        Assert.Equal(Encoding.UTF8.GetString(longer), SharedStrings.Get(longer));
        Assert.NotSame(SharedStrings.Get(longer), SharedStrings.Get(longer));
    }

    [Fact]
    public void Two_peers_identify_messages_share_their_protocol_and_agent_strings()
    {
        static byte[] Message(string agent, params string[] protocols)
        {
            var m = new List<byte>();
            void Field(int number, string text)
            {
                var b = Encoding.UTF8.GetBytes(text);
                m.Add((byte)(number << 3 | 2));
                m.Add((byte)b.Length);
                m.AddRange(b);
            }
            foreach (var p in protocols) Field(3, p);
            Field(6, agent);
            return [.. m];
        }
        Assert.True(IdentifyMessage.TryDecode(Message("Lighthouse/v8.0.0", "/ipfs/id/1.0.0", "/meshsub/1.1.0"), out var one, out _, out _));
        Assert.True(IdentifyMessage.TryDecode(Message("Lighthouse/v8.0.0", "/meshsub/1.1.0", "/ipfs/id/1.0.0"), out var two, out _, out _));
        Assert.Same(one!.AgentVersion, two!.AgentVersion);
        Assert.Same(one.Protocols[0], two.Protocols[1]);
        Assert.Same(one.Protocols[1], two.Protocols[0]);
    }
}
