using System.Net;
using ClP2p.Eth2.Agents;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.Ssz;

namespace ClP2p.Eth2.Dialing;

/// <summary>How a dial ended. Stored as <see cref="DialOutcomeExtensions.ToStorageString"/> (stable snake_case).</summary>
public enum DialOutcome
{
    Ok,
    Refused,
    Timeout,
    Reset,
    Unreachable,
    NoiseFailure,
    SecurityNegotiation,
    MuxerNegotiation,
    ProtocolNotSupported,
    PeerIdMismatch,
    RemoteGoodbye,
    TooManyPeers,
    Malformed,
    Eof,
    Other,
}

/// <summary>The step at which a dial failed.</summary>
public enum BeaconDialStep
{
    Connect,
    SecurityNegotiation,
    NoiseHandshake,
    MuxerNegotiation,
    Identify,
    Status,
    MetaData,
    Ping,
    Goodbye,
}

public static class DialOutcomeExtensions
{
    private static readonly Dictionary<DialOutcome, string> Names = new()
    {
        [DialOutcome.Ok] = "ok",
        [DialOutcome.Refused] = "refused",
        [DialOutcome.Timeout] = "timeout",
        [DialOutcome.Reset] = "reset",
        [DialOutcome.Unreachable] = "unreachable",
        [DialOutcome.NoiseFailure] = "noise_failure",
        [DialOutcome.SecurityNegotiation] = "security_negotiation",
        [DialOutcome.MuxerNegotiation] = "muxer_negotiation",
        [DialOutcome.ProtocolNotSupported] = "protocol_not_supported",
        [DialOutcome.PeerIdMismatch] = "peer_id_mismatch",
        [DialOutcome.RemoteGoodbye] = "remote_goodbye",
        [DialOutcome.TooManyPeers] = "too_many_peers",
        [DialOutcome.Malformed] = "malformed",
        [DialOutcome.Eof] = "eof",
        [DialOutcome.Other] = "other",
    };

    private static readonly Dictionary<string, DialOutcome> ByName = Names.ToDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);

    /// <summary>Stable snake_case name for storage (never renamed; new outcomes get new names).</summary>
    public static string ToStorageString(this DialOutcome outcome) => Names[outcome];

    public static bool TryParseStorageString(string? text, out DialOutcome outcome) => ByName.TryGetValue(text ?? "", out outcome);

    public static string ToStorageString(this BeaconDialStep step) => step switch
    {
        BeaconDialStep.Connect => "connect",
        BeaconDialStep.SecurityNegotiation => "security_negotiation",
        BeaconDialStep.NoiseHandshake => "noise_handshake",
        BeaconDialStep.MuxerNegotiation => "muxer_negotiation",
        BeaconDialStep.Identify => "identify",
        BeaconDialStep.Status => "status",
        BeaconDialStep.MetaData => "metadata",
        BeaconDialStep.Ping => "ping",
        BeaconDialStep.Goodbye => "goodbye",
        _ => "other",
    };
}

/// <summary>One node to dial: its TCP endpoint, its ENR secp256k1 key (33 bytes, may be empty) and ENR fork digest.</summary>
public sealed record BeaconDialTarget(IPEndPoint Endpoint, ReadOnlyMemory<byte> Secp256k1PublicKey, ForkDigest? EnrForkDigest)
{
    /// <summary>The key is a verified record's (its signature was checked with it), so it is not parsed again to
    /// make the peer id the remote must prove (see <see cref="ClP2p.Libp2p.Crypto.PublicKey.FromVerifiedSecp256k1"/>).</summary>
    public bool KeyFromVerifiedRecord { get; init; }
}

/// <summary>Everything one dial learned. Fields are what the REMOTE said; null when the step did not get that far.</summary>
public sealed record BeaconDialResult
{
    public required DialOutcome Outcome { get; init; }

    /// <summary>Where it failed (null for <see cref="DialOutcome.Ok"/>).</summary>
    public BeaconDialStep? FailedStep { get; init; }

    /// <summary>The raw error text when the outcome is not Ok.</summary>
    public string? Error { get; init; }

    /// <summary>The remote's peer id (base58), from its Noise identity.</summary>
    public string? PeerId { get; init; }

    /// <summary>"/yamux/1.0.0" or "/mplex/6.7.0".</summary>
    public string? Muxer { get; init; }

    public string? AgentVersion { get; init; }

    public string? ProtocolVersion { get; init; }

    public IReadOnlyList<string> Protocols { get; init; } = [];

    public IReadOnlyList<string> ListenAddrs { get; init; } = [];

    public string? ObservedAddr { get; init; }

    /// <summary>Why identify failed, when it did (the dial may still be Ok).</summary>
    public string? IdentifyError { get; init; }

    /// <summary>The remote's Status (its response to ours).</summary>
    public StatusMessage? Status { get; init; }

    /// <summary>1 or 2: the negotiated status protocol version.</summary>
    public int? StatusVersion { get; init; }

    /// <summary>The Status the remote sent us as a request, if it asked (often before or instead of answering ours).</summary>
    public StatusMessage? RemoteStatusRequest { get; init; }

    public MetaDataMessage? MetaData { get; init; }

    /// <summary>2 or 3: the negotiated metadata protocol version.</summary>
    public int? MetaDataVersion { get; init; }

    /// <summary>Why GetMetaData failed, when it did (the dial may still be Ok).</summary>
    public string? MetaDataError { get; init; }

    /// <summary>The remote's metadata seq_number from Ping.</summary>
    public ulong? PingSeqNumber { get; init; }

    /// <summary>The reason of the Goodbye the REMOTE sent, if any.</summary>
    public ulong? GoodbyeReason { get; init; }

    /// <summary>The Status we sent (for diagnosis of Goodbye(2) answers).</summary>
    public StatusMessage? StatusSent { get; init; }

    /// <summary>True when this is the second dial, with the other Status digest, after a Goodbye(2) to the first.</summary>
    public bool StatusRetried { get; init; }

    /// <summary>TCP connect time.</summary>
    public TimeSpan? Latency { get; init; }

    /// <summary>Whole dial, connect to close.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>For a node with an address of each family: the dial of its other family's address (the fields above are
    /// those of the first dial); null when only one family was dialled.</summary>
    public BeaconDialResult? OtherFamily { get; init; }

    public AgentInfo Agent => AgentParser.Parse(AgentVersion);

    public bool Success => Outcome == DialOutcome.Ok;
}
