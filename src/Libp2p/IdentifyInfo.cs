using ClP2p.Libp2p.Crypto;

namespace ClP2p.Libp2p;

/// <summary>What the remote told us in identify (/ipfs/id/1.0.0); addresses are decoded to text multiaddrs.</summary>
public sealed record IdentifyInfo(
    string? AgentVersion,
    string? ProtocolVersion,
    IReadOnlyList<string> Protocols,
    IReadOnlyList<string> ListenAddrs,
    string? ObservedAddr,
    PublicKey? PublicKey);
