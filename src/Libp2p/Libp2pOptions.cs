using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Mplex;
using ClP2p.Libp2p.Yamux;

namespace ClP2p.Libp2p;

/// <summary>Settings shared by <see cref="Libp2pDialer"/> and <see cref="Libp2pListener"/>.</summary>
public sealed class Libp2pOptions
{
    /// <summary>Our identity (key, peer id). Required.</summary>
    public required Identity Identity { get; init; }

    /// <summary>Sent in identify; real clients look at it.</summary>
    public string AgentVersion { get; init; } = "clp2p/0.1";

    public string ProtocolVersion { get; init; } = "ipfs/0.1.0";

    /// <summary>TCP connect timeout.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a failed TCP connect (timed out, refused, unreachable) answers for its endpoint: another dial of the
    /// same IP and port within this time ends with the same failure without a connect of its own, and a dial that starts
    /// while a connect to its endpoint is under way waits for that one's outcome. Records of nodes that are gone often
    /// share an endpoint (the stale records of one host, one per key it had); one listener answers for an IP and port,
    /// so a host that left one record's SYN unanswered leaves the next one's too, and each such connect holds a socket
    /// for the whole <see cref="ConnectTimeout"/>. A connect that succeeded is not remembered: each dial of a live
    /// endpoint connects for itself (the node behind it may not be the record's), and neither is a failure of this
    /// machine's own (no local port left, its network down). Zero: every dial connects.
    /// </summary>
    public TimeSpan ConnectFailureMemory { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Timeout of EACH upgrade step: security negotiation, Noise handshake, muxer negotiation.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Timeout of protocol negotiation on a new stream, and of a whole identify exchange.</summary>
    public TimeSpan StreamTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Inbound streams a remote may have open at once on one connection; more are reset at once (a listener
    /// open to anyone must bound what one peer holds; real clients use a handful per connection).</summary>
    public int MaxInboundStreamsPerConnection { get; init; } = 512;

    /// <summary>Muxers we propose (dialer, in order) or accept (listener).</summary>
    public IReadOnlyList<string> Muxers { get; init; } = [YamuxSession.ProtocolId, MplexSession.ProtocolId];
}

/// <summary>Handles an inbound stream whose protocol was negotiated; the stream is disposed when the task ends.</summary>
public delegate Task StreamHandler(Libp2pStream stream, Libp2pConnection connection, CancellationToken ct);
