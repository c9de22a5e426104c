namespace ClP2p.Discovery;

/// <summary>Why an ENR was rejected (EIP-778).</summary>
public enum EnrError
{
    None,
    /// <summary>EIP-778: "The maximum encoded size of a node record is 300 bytes."</summary>
    TooLarge,
    BadText,
    BadBase64,
    NonCanonicalRlp,
    TrailingBytes,
    NotAList,
    BadSignatureField,
    BadSeq,
    OddKeyValueCount,
    KeysNotSorted,
    DuplicateKey,
    MissingIdentityScheme,
    UnknownIdentityScheme,
    MissingPublicKey,
    BadPublicKey,
    BadSignature,
    /// <summary>A known key (ip, ip6, tcp, udp, tcp6, udp6, quic, quic6) has a malformed value.</summary>
    BadKnownValue,
    Empty,
}
