namespace ClP2p.Discovery;

/// <summary>Why a received packet was dropped. Every received packet is either processed or counted under one of these.</summary>
public enum DropReason
{
    None = 0,
    TooSmall,
    TooLarge,
    BadHeader,
    MessageInvalid,
    WhoAreYouRateLimited,
    /// <summary>A handshake or request from a source IP over <see cref="Discv5Options.MaxUnsolicitedPerIpPerSecond"/>.</summary>
    UnsolicitedRateLimited,
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
    /// <summary>The handler shard's queue was full (the node receives faster than it can decrypt).</summary>
    HandlerOverloaded,
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
