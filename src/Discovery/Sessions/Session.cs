using System.Buffers.Binary;
using System.Net;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Discovery.Sessions;

/// <summary>A node's address for session purposes: sessions are tied to (node id, ip:port).</summary>
public readonly record struct NodeAddress(NodeId Id, IPEndPoint EndPoint)
{
    // every packet looks its sender up by this key, often more than once: the node id alone spreads the keys (ids are
    // hashes), and hashing the endpoint's address bytes on each lookup cost more than the lookup (equality still
    // compares both)
    public override int GetHashCode() => Id.GetHashCode();

    // a sender's endpoint is one instance per address while the receive loop's cache holds it, and the keys it is
    // compared with were made from the same packets: the same instance answers without reading either address
    public bool Equals(NodeAddress other) =>
        Id == other.Id && (ReferenceEquals(EndPoint, other.EndPoint) || (EndPoint is not null && EndPoint.Equals(other.EndPoint)));
}

/// <summary>Established session keys with one remote (discv5-theory.md "Sessions").</summary>
public sealed class Session : IDisposable
{
    private uint _counter;

    public Session(ReadOnlySpan<byte> writeKey, ReadOnlySpan<byte> readKey, Enr? remote)
    {
        WriteKeyBytes = writeKey.ToArray();
        ReadKeyBytes = readKey.ToArray();
        WriteKey = new MessageCipher(WriteKeyBytes);
        ReadKey = new MessageCipher(ReadKeyBytes);
        Remote = remote;
    }

    public byte[] WriteKeyBytes { get; }
    public byte[] ReadKeyBytes { get; }
    public MessageCipher WriteKey { get; }
    public MessageCipher ReadKey { get; }
    /// <summary>The session this one replaced; its read key is tried when the new one fails (handshake races).</summary>
    public Session? Previous { get; set; }
    public Enr? Remote { get; set; }
    /// <summary>For a session we started: the challenge-data of the WHOAREYOU our handshake answered.</summary>
    public byte[]? Challenge { get; init; }
    public long LastUsedTicks { get; set; }
    /// <summary>Set by the node service once its node is recorded as having answered (see
    /// <see cref="Service.NodeService.Responded(NodeId, Session)"/>).</summary>
    internal object? RespondedToken { get; set; }
    /// <summary>When this session was last reported as an inbound contact (timestamp ticks; 0 = never).</summary>
    public long LastInboundReportTicks { get; set; }

    /// <summary>discv5-wire.md: nonces must be unique per key; a 32-bit counter plus 64 random bits.</summary>
    public void NextNonce(Span<byte> nonce12, IDiscoveryRandom random)
    {
        BinaryPrimitives.WriteUInt32BigEndian(nonce12, ++_counter);
        random.Fill(nonce12.Slice(4, 8));
    }

    public void Dispose()
    {
        WriteKey.Dispose();
        ReadKey.Dispose();
    }
}
