namespace ClP2p.Storage.Model;

// Persistence entities. Other projects read results through CensusService and write through
// ResultWriter/CrawlStore; these classes are public only because EF Core maps them.
//
// uint64 values from the wire (ENR seq, slots, epochs, metadata seq) are stored in signed 64-bit
// columns by reinterpreting the bits (unchecked cast): FAR_FUTURE_EPOCH (2^64-1) is stored as -1.
// Readers in this assembly convert back; see UInt64Column.

/// <summary>One crawl of one network.</summary>
public sealed class CrawlEntity
{
    public long Id { get; set; }
    public string Network { get; set; } = "";
    public DateTime StartedAt { get; set; }
    public DateTime? FinishedAt { get; set; }
    public string State { get; set; } = CrawlStates.Running;
    public int NodesFound { get; set; }
    public int ClNodes { get; set; }
    public int Dialled { get; set; }
    public int DialOk { get; set; }
    public int Failures { get; set; }
    public string? ParametersJson { get; set; }
    public string? SummaryJson { get; set; }
    /// <summary>When the pre-aggregated census rows (crawl_census) were last built; null = none.</summary>
    public DateTime? CensusBuiltAt { get; set; }
    /// <summary>Lease of a running crawl: its process renews this while it runs; a running crawl whose heartbeat is
    /// older than the lease was left by a process that died (<see cref="CrawlStore.MarkInterruptedAsync"/>).</summary>
    public DateTime? HeartbeatAt { get; set; }
}

/// <summary>A node, keyed by its 32-byte node id (keccak256 of the public key).</summary>
public sealed class NodeEntity
{
    public byte[] NodeId { get; set; } = [];
    public byte[]? PublicKey { get; set; }
    public string? PeerId { get; set; }
    public DateTime FirstSeen { get; set; }
    public DateTime LastSeen { get; set; }
    public long LatestSeq { get; set; }
}

/// <summary>One ENR of a node per sequence number, raw and decoded.</summary>
public sealed class EnrEntity
{
    public byte[] NodeId { get; set; } = [];
    public long Seq { get; set; }
    public byte[] Raw { get; set; } = [];
    public DateTime SeenAt { get; set; }
    public string? Ip4 { get; set; }
    public string? Ip6 { get; set; }
    public int? Udp { get; set; }
    public int? Tcp { get; set; }
    public int? Quic { get; set; }
    public int? Udp6 { get; set; }
    public int? Tcp6 { get; set; }
    /// <summary>ENR eth2 fork digest, 8 lowercase hex digits.</summary>
    public string? ForkDigest { get; set; }
    public string? ForkName { get; set; }
    public string? NetworkName { get; set; }
    /// <summary>ENR eth2 next fork version, 8 lowercase hex digits.</summary>
    public string? NextForkVersion { get; set; }
    public long? NextForkEpoch { get; set; }
    /// <summary>Lowercase hex of the attnets bitvector (8 bytes).</summary>
    public string? Attnets { get; set; }
    /// <summary>Lowercase hex of the syncnets bitvector (1 byte).</summary>
    public string? Syncnets { get; set; }
    public long? Cgc { get; set; }
    /// <summary>Lowercase hex of the nfd (next fork digest) field.</summary>
    public string? Nfd { get; set; }
}

/// <summary>A distinct libp2p agent string and its parsed parts.</summary>
public sealed class AgentVersionEntity
{
    public long Id { get; set; }
    public string Raw { get; set; } = "";
    public string? Client { get; set; }
    public string? Version { get; set; }
    public string? Os { get; set; }
    public string? Arch { get; set; }
}

/// <summary>Geo and ASN data for one IP address.</summary>
public sealed class IpAddressEntity
{
    public string Address { get; set; } = "";
    public string? Country { get; set; }
    public string? City { get; set; }
    public long? Asn { get; set; }
    public string? AsOrg { get; set; }
    public DateTime LookedUpAt { get; set; }
}

/// <summary>One node in one crawl (kind crawl), or one re-dial between crawls (kind redial).</summary>
public sealed class VisitEntity
{
    public long Id { get; set; }
    public long? CrawlId { get; set; }
    public byte[] NodeId { get; set; } = [];
    public DateTime VisitedAt { get; set; }
    public string Kind { get; set; } = "crawl";
    public long? EnrSeq { get; set; }
    public string? Ip { get; set; }
    public bool? DiscoveryAnswered { get; set; }
    public int? Neighbours { get; set; }
    public string? DiscoveryError { get; set; }
    public string DialOutcome { get; set; } = "not_dialled";
    public string? DialError { get; set; }
    public string? FailedStep { get; set; }
    public int? LatencyMs { get; set; }
    public long? AgentVersionId { get; set; }
    public string? Muxer { get; set; }
    public string? StatusForkDigest { get; set; }
    public byte[]? FinalizedRoot { get; set; }
    public long? FinalizedEpoch { get; set; }
    public byte[]? HeadRoot { get; set; }
    public long? HeadSlot { get; set; }
    public long? EarliestAvailableSlot { get; set; }
    public int? StatusVersion { get; set; }
    public long? MetadataSeq { get; set; }
    public string? MetadataAttnets { get; set; }
    public string? MetadataSyncnets { get; set; }
    public long? CustodyGroupCount { get; set; }
    public int? MetadataVersion { get; set; }
    public long? GoodbyeReason { get; set; }
}

/// <summary>Pre-aggregated census row: count of a crawl's visits per (network, dimension, key).</summary>
public sealed class CrawlCensusEntity
{
    public long Id { get; set; }
    public long CrawlId { get; set; }
    /// <summary>ENR network name of the visited nodes; "" when unknown.</summary>
    public string Network { get; set; } = "";
    public string Dimension { get; set; } = "";
    public string? Key { get; set; }
    public string? Label { get; set; }
    public long Count { get; set; }
}
