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
    /// <summary>The vantage point that crawled (<c>--vantage NAME</c>); "default" when none was named.</summary>
    public string Vantage { get; set; } = CrawlVantage.Default;
    /// <summary>For a crawl brought in by <c>clp2p import</c>: its id in the database it was exported from; null otherwise.</summary>
    public long? SourceCrawlId { get; set; }
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
    /// <summary>True when the client is a guess from the libp2p library the agent string names (js-libp2p → lodestar).</summary>
    public bool? ClientInferred { get; set; }
}

/// <summary>
/// The name of a fork digest, from the crawler's network registry (rewritten from it on every start), so that stored
/// digests are named at query time with what the registry knows now.
/// </summary>
public sealed class ForkDigestEntity
{
    /// <summary>8 lowercase hex digits.</summary>
    public string Digest { get; set; } = "";
    public string Network { get; set; } = "";
    /// <summary>phase0 … gloas, bpoN, or pre-genesis.</summary>
    public string Fork { get; set; } = "";
    /// <summary>fork (a scheduled fork period), unscheduled (a known fork without an epoch yet) or pre_genesis.</summary>
    public string Kind { get; set; } = "";
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

/// <summary>
/// One node in one crawl (kind crawl), or one re-dial between crawls (kind redial). Only the key and the indexed columns
/// are CLR properties; every other column is a shadow property configured from <see cref="VisitColumns"/> (read them in
/// LINQ with <c>EF.Property&lt;T&gt;(v, "DialOutcome")</c>).
/// </summary>
public sealed class VisitEntity
{
    public long Id { get; set; }
    public long? CrawlId { get; set; }
    public byte[] NodeId { get; set; } = [];
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

/// <summary>
/// One committed write that changes what a running crawl's census counts (<see cref="CensusChangeKinds"/>), appended in
/// the same transaction as the write, so that a reader holding a running crawl's census can bring it up to date from what
/// changed instead of counting every visit again (RunningCensus).
/// </summary>
public sealed class CensusChangeEntity
{
    public long Id { get; set; }
    /// <summary>PostgreSQL: the writing transaction's id (<c>pg_current_xact_id()</c>), which says whether a snapshot saw the
    /// write (<c>pg_visible_in_snapshot</c>); SQLite: null (one writer at a time, so <see cref="Id"/> orders commits).</summary>
    public long? Txid { get; set; }
    /// <summary>When the write was made (old rows are pruned).</summary>
    public DateTime At { get; set; }
    public string Kind { get; set; } = "";
    /// <summary>The crawl whose visits were written or changed; null for writes not tied to one crawl.</summary>
    public long? CrawlId { get; set; }
    /// <summary>visits: how many crawl visits were appended.</summary>
    public long Rows { get; set; }
    /// <summary>geo: the IP addresses written; enr: the node ids (hex) whose ENRs were written; one a line.</summary>
    public string? Keys { get; set; }
}
