using ClP2p.Eth2.Networks;
using ClP2p.Eth2.ReqResp;
using ClP2p.Eth2.Ssz;
using ClP2p.Libp2p;

namespace ClP2p.Eth2.Dialing;

public sealed class BeaconDialerOptions
{
    /// <summary>Our libp2p identity, agent string, muxers and the connect/handshake/stream timeouts.</summary>
    public required Libp2pOptions Libp2p { get; init; }

    /// <summary>Identify exchange (runs alongside Status, MetaData and Ping, and is awaited after them), never longer than
    /// the dial's deadline leaves (<see cref="TotalTimeout"/> less <see cref="GoodbyeTimeout"/> and a second). A peer
    /// whose replies take 2-3 s needs a round trip for the stream's negotiation and more when a segment is lost: at 5 s,
    /// then at 10 s, some of the simulator's slow nodes' dials ended ok without their agent string
    /// (docs/performance.md).</summary>
    public TimeSpan IdentifyTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Per-request deadline for Status, MetaData and Ping (TTFB_TIMEOUT/RESP_TIMEOUT are gone, consensus-specs #3767; clients allow ~10 s per stream, lighthouse #7925).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Deadline for our Goodbye.</summary>
    public TimeSpan GoodbyeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>After the single response chunk, how long to wait for the remote's EOF before accepting the response.</summary>
    public TimeSpan EndOfStreamGrace { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>After a failed request, how long to wait for a Goodbye the remote may be sending (to classify the failure).</summary>
    public TimeSpan GoodbyeWait { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Cap on the whole dial.</summary>
    public TimeSpan TotalTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public bool SendPing { get; init; } = true;

    public bool SendGoodbye { get; init; } = true;

    /// <summary>Networks used for a target without an ENR digest (<see cref="DefaultNetwork"/>) and for names.</summary>
    public NetworkRegistry Registry { get; init; } = NetworkRegistry.Builtin;

    /// <summary>Whose current digest we send when the target's ENR has none. Null: the zero digest.</summary>
    public string? DefaultNetwork { get; init; } = "mainnet";

    /// <summary>
    /// Optional source of a truthful Status for a digest (e.g. from a trusted beacon node). When it returns null, the
    /// dialer uses the newest Status it learned from another peer with the same digest, else a genesis-like Status.
    /// </summary>
    public Func<ForkDigest, StatusMessage?>? StatusProvider { get; init; }

    /// <summary>Remember each remote's Status per digest and offer it to the next peers of that digest.</summary>
    public bool LearnStatusFromPeers { get; init; } = true;

    /// <summary>What we answer to GetMetaData (no subnets, custody_group_count 4).</summary>
    public MetaDataMessage LocalMetaData { get; init; } = ReqRespServer.DefaultMetaData;
}
