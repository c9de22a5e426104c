using System.Diagnostics.Metrics;
using System.Net;

namespace ClP2p.Discovery;

/// <summary>A PONG: the remote's record sequence number and the address it saw us at.</summary>
public sealed record PongInfo(ulong EnrSeq, IPEndPoint ObservedEndPoint, TimeSpan RoundTrip);

/// <summary>Why a request failed.</summary>
public enum RequestFailure
{
    Timeout,
    NoEndpoint,
    TooManyPending,
    /// <summary>The remote answered our handshake with another WHOAREYOU (it rejected it).</summary>
    HandshakeRejected,
    Disposed,
    SendFailed,
}

/// <summary>A discv5 request did not get an answer.</summary>
public sealed class Discv5RequestException : Exception
{
    public Discv5RequestException(RequestFailure reason, string message) : base(message) => Reason = reason;
    public Discv5RequestException() : this(RequestFailure.Timeout, "request failed") { }
    public Discv5RequestException(string message) : this(RequestFailure.Timeout, message) { }
    public Discv5RequestException(string message, Exception inner) : base(message, inner) { }
    public RequestFailure Reason { get; }
}

/// <summary>Why a received packet was dropped. Every received packet is either processed or counted under one of these.</summary>
public enum DropReason
{
    None = 0,
    TooSmall,
    TooLarge,
    BadHeader,
    MessageInvalid,
    WhoAreYouRateLimited,
    ChallengesFull,
    WhoAreYouUnsolicited,
    WhoAreYouWrongSender,
    WhoAreYouAfterHandshake,
    WhoAreYouBadKey,
    WhoAreYouDuplicate,
    HandshakeNoChallenge,
    HandshakeBadRecord,
    HandshakeRecordWrongId,
    HandshakeUnknownNode,
    HandshakeBadSignature,
    HandshakeBadEphemeralKey,
    HandshakeDecryptFailed,
    ResponseUnknownRequest,
    ResponseWrongSender,
    ResponseTypeMismatch,
    NodesBadTotal,
    UnexpectedMessage,
    InternalError,
}

/// <summary>Why one record inside a NODES response was dropped (the packet itself counts as processed).</summary>
public enum RecordDropReason
{
    Invalid,
    WrongDistance,
    Duplicate,
    BucketOverflow,
    TooMany,
}

/// <summary>System.Diagnostics.Metrics instruments, meter "ClP2p.Discovery", names clp2p.discv5.*.</summary>
internal static class Discv5Metrics
{
    public const string MeterName = "ClP2p.Discovery";
    public static readonly Meter Meter = new(MeterName);
    public static readonly Counter<long> PacketsReceived = Meter.CreateCounter<long>("clp2p.discv5.packets_received");
    public static readonly Counter<long> PacketsSent = Meter.CreateCounter<long>("clp2p.discv5.packets_sent");
    public static readonly Counter<long> PacketsDropped = Meter.CreateCounter<long>("clp2p.discv5.packets_dropped", description: "received packets dropped, by reason");
    public static readonly Counter<long> RecordsDropped = Meter.CreateCounter<long>("clp2p.discv5.records_dropped", description: "ENRs in NODES responses dropped, by reason");
    public static readonly Counter<long> RecordsUntrusted = Meter.CreateCounter<long>("clp2p.discv5.records_relay_untrusted", description: "ENRs kept but never contacted: a LAN or loopback address returned by a public node (PITFALLS 7)");
    public static readonly Counter<long> Handshakes = Meter.CreateCounter<long>("clp2p.discv5.handshakes", description: "completed handshakes, by direction");
    public static readonly Counter<long> Requests = Meter.CreateCounter<long>("clp2p.discv5.requests", description: "requests we sent, by type and outcome");
    public static readonly Counter<long> RequestsServed = Meter.CreateCounter<long>("clp2p.discv5.requests_served", description: "requests answered, by type");
}
