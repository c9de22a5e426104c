namespace ClP2p.Storage;

// The records the crawler hands to ResultWriter. Plain types only (Storage depends on nothing of ours):
// ids and keys are byte arrays, small fixed-size values (fork digests, bitvectors) are byte arrays written as
// lowercase hex, uint64 spec values are ulong. Absent values are null. Times are UTC instants.

/// <summary>
/// One ENR as seen by discovery (decoded by the crawler). Stored once per (node id, seq): the same record seen again
/// only moves the node's <c>last_seen</c>; a higher seq adds a history row and raises the node's latest seq.
/// </summary>
public sealed record EnrObservation
{
    /// <summary>32-byte node id (keccak256 of the uncompressed public key). Required.</summary>
    public required byte[] NodeId { get; init; }
    /// <summary>ENR sequence number ("seq").</summary>
    public required ulong Seq { get; init; }
    /// <summary>The whole RLP-encoded record, as received (at most 300 bytes).</summary>
    public required byte[] Raw { get; init; }
    /// <summary>When discovery received it.</summary>
    public required DateTimeOffset SeenAt { get; init; }
    /// <summary>33-byte compressed secp256k1 public key ("secp256k1" key).</summary>
    public byte[]? PublicKey { get; init; }
    /// <summary>libp2p peer id (base58) derived from the public key, if the crawler computed it.</summary>
    public string? PeerId { get; init; }
    /// <summary>"ip" key as text (e.g. "203.0.113.7").</summary>
    public string? Ip4 { get; init; }
    /// <summary>"ip6" key as text (e.g. "2001:db8::1").</summary>
    public string? Ip6 { get; init; }
    /// <summary>"udp" port.</summary>
    public int? Udp { get; init; }
    /// <summary>"tcp" port.</summary>
    public int? Tcp { get; init; }
    /// <summary>"quic" port.</summary>
    public int? Quic { get; init; }
    /// <summary>"udp6" port.</summary>
    public int? Udp6 { get; init; }
    /// <summary>"tcp6" port.</summary>
    public int? Tcp6 { get; init; }
    /// <summary>"eth2" ENRForkID.fork_digest, 4 bytes. Null when the record has no eth2 field (not a CL node).</summary>
    public byte[]? ForkDigest { get; init; }
    /// <summary>Fork name for the digest as named by the crawler (e.g. "electra"); null when unknown.</summary>
    public string? ForkName { get; init; }
    /// <summary>Network name for the digest as named by the crawler (e.g. "mainnet"); null when unknown.</summary>
    public string? NetworkName { get; init; }
    /// <summary>"eth2" ENRForkID.next_fork_version, 4 bytes.</summary>
    public byte[]? NextForkVersion { get; init; }
    /// <summary>"eth2" ENRForkID.next_fork_epoch (FAR_FUTURE_EPOCH = 2^64-1 when none is scheduled).</summary>
    public ulong? NextForkEpoch { get; init; }
    /// <summary>"attnets" bitvector, 8 bytes.</summary>
    public byte[]? Attnets { get; init; }
    /// <summary>"syncnets" bitvector, 1 byte.</summary>
    public byte[]? Syncnets { get; init; }
    /// <summary>"cgc" custody group count.</summary>
    public ulong? Cgc { get; init; }
    /// <summary>"nfd" next fork digest, as raw bytes (usually 4).</summary>
    public byte[]? Nfd { get; init; }
}

/// <summary>Why a visit was made: in a crawl, or a liveness re-dial between crawls.</summary>
public static class VisitKinds
{
    /// <summary>A node met in a crawl: exactly one visit per node per crawl.</summary>
    public const string Crawl = "crawl";
    /// <summary>A liveness re-dial between crawls (CrawlId may be null).</summary>
    public const string Redial = "redial";
    /// <summary>A remote opened a discv5 session with us or sent us a request (node id, record, address).</summary>
    public const string InboundDiscv5 = "inbound_discv5";
    /// <summary>A remote opened a libp2p connection to us (peer id, identify, Status and MetaData on that connection).</summary>
    public const string InboundLibp2p = "inbound_libp2p";
}

/// <summary>Values of <see cref="VisitObservation.DialOutcome"/> other than error classes.</summary>
public static class DialOutcomes
{
    /// <summary>The dial and the eth2 requests succeeded.</summary>
    public const string Ok = "ok";
    /// <summary>The node was not dialled (no eth2 field, no address, filtered).</summary>
    public const string NotDialled = "not_dialled";
}

/// <summary>
/// One node in one crawl (or one re-dial): what discovery and the dialler found. "Nodes seen in a crawl" are exactly
/// the visits of that crawl, so the crawler writes one visit (kind <see cref="VisitKinds.Crawl"/>) per node it found,
/// dialled or not. A node it meets for the first time gets its row from it; otherwise it only fills in what the node row
/// lacks (peer id, a higher seq): last_seen belongs to discovery sightings (ENRs), and the visit keeps its own time.
/// </summary>
public sealed record VisitObservation
{
    /// <summary>The crawl (from CrawlStore.StartCrawlAsync); null only for re-dials outside a crawl.</summary>
    public long? CrawlId { get; init; }
    /// <summary>32-byte node id. Required.</summary>
    public required byte[] NodeId { get; init; }
    /// <summary>When the visit ended (or the node was met, for not-dialled nodes).</summary>
    public required DateTimeOffset VisitedAt { get; init; }
    /// <summary><see cref="VisitKinds.Crawl"/> or <see cref="VisitKinds.Redial"/>.</summary>
    public string Kind { get; init; } = VisitKinds.Crawl;
    /// <summary>Seq of the ENR the node had at this visit; joins the visit to its ENR history row (fork, ports).</summary>
    public ulong? EnrSeq { get; init; }
    /// <summary>The IP the node was met at / dialled (text); joined to ip_addresses for geo and ASN.</summary>
    public string? Ip { get; init; }
    /// <summary>Discovery: did the node answer our FINDNODE requests; null if not asked.</summary>
    public bool? DiscoveryAnswered { get; init; }
    /// <summary>Discovery: number of distinct ENRs it returned.</summary>
    public int? Neighbours { get; init; }
    /// <summary>Discovery: error text when it did not answer.</summary>
    public string? DiscoveryError { get; init; }
    /// <summary><c>"ok"</c>, an error class (io_timeout, connection_refused, ...), or <c>"not_dialled"</c>.</summary>
    public string DialOutcome { get; init; } = DialOutcomes.NotDialled;
    /// <summary>Raw error text of a failed dial (kept beside the class, always when the class is "unknown").</summary>
    public string? DialError { get; init; }
    /// <summary>Step that failed: tcp, multistream, noise, muxer, identify, status, metadata, ...</summary>
    public string? FailedStep { get; init; }
    /// <summary>Dial latency (TCP connect to Status answer) in milliseconds.</summary>
    public int? LatencyMs { get; init; }
    /// <summary>Identify agentVersion, raw; stored once in agent_versions.</summary>
    public string? AgentVersion { get; init; }
    /// <summary>Parsed client name (e.g. "lighthouse"); stored with the agent string the first time it is seen.</summary>
    public string? Client { get; init; }
    /// <summary>
    /// True when <see cref="Client"/> is a guess from the libp2p library the agent string names ("js-libp2p/2.8.2" →
    /// lodestar); stored with the agent string.
    /// </summary>
    public bool? ClientInferred { get; init; }
    /// <summary>Parsed client version (e.g. "v7.1.0"); null when the agent names none (or only its library's).</summary>
    public string? ClientVersion { get; init; }
    /// <summary>Parsed operating system (e.g. "linux").</summary>
    public string? Os { get; init; }
    /// <summary>Parsed architecture (e.g. "x86_64").</summary>
    public string? Arch { get; init; }
    /// <summary>libp2p peer id (base58) the remote proved in the Noise handshake; stored once, on the node row.</summary>
    public string? PeerId { get; init; }
    /// <summary>Negotiated stream muxer ("/yamux/1.0.0", "/mplex/6.7.0").</summary>
    public string? Muxer { get; init; }
    /// <summary>Status.fork_digest, 4 bytes.</summary>
    public byte[]? StatusForkDigest { get; init; }
    /// <summary>Status.finalized_root, 32 bytes.</summary>
    public byte[]? FinalizedRoot { get; init; }
    /// <summary>Status.finalized_epoch.</summary>
    public ulong? FinalizedEpoch { get; init; }
    /// <summary>Status.head_root, 32 bytes.</summary>
    public byte[]? HeadRoot { get; init; }
    /// <summary>Status.head_slot.</summary>
    public ulong? HeadSlot { get; init; }
    /// <summary>Status v2 earliest_available_slot (null for v1; 0 means unknown per prysm #15818).</summary>
    public ulong? EarliestAvailableSlot { get; init; }
    /// <summary>Status protocol version answered (1 or 2).</summary>
    public int? StatusVersion { get; init; }
    /// <summary>MetaData.seq_number.</summary>
    public ulong? MetadataSeq { get; init; }
    /// <summary>MetaData.attnets, 8 bytes.</summary>
    public byte[]? MetadataAttnets { get; init; }
    /// <summary>MetaData.syncnets (v2+), 1 byte.</summary>
    public byte[]? MetadataSyncnets { get; init; }
    /// <summary>MetaData.custody_group_count (v3).</summary>
    public ulong? CustodyGroupCount { get; init; }
    /// <summary>MetaData protocol version answered (1, 2 or 3).</summary>
    public int? MetadataVersion { get; init; }
    /// <summary>Goodbye reason the remote sent us, if any.</summary>
    public ulong? GoodbyeReason { get; init; }
    /// <summary>The fork digest our Status request carried (4 bytes); null when no Status was sent.</summary>
    public byte[]? StatusDigestSent { get; init; }
    /// <summary>
    /// True when the node's Status fork digest differs from its ENR's eth2 digest, false when equal; null when either
    /// is unknown.
    /// </summary>
    public bool? DigestMismatch { get; init; }
    /// <summary>The node answered over IPv4 (discovery or a dial that connected); null when its record has no IPv4 address.</summary>
    public bool? Ipv4Answered { get; init; }
    /// <summary>The node answered over IPv6; null when its record has no IPv6 address.</summary>
    public bool? Ipv6Answered { get; init; }
    /// <summary>The node contacted us (discv5 or libp2p) in the 24 hours before the crawl ended; null when nothing listened.</summary>
    public bool? SeenInbound { get; init; }
}

/// <summary>Geo and ASN data for one IP address (from the GeoIP enrichment); upserted by address.</summary>
public sealed record IpGeo
{
    /// <summary>The address as text, exactly as in <see cref="VisitObservation.Ip"/>.</summary>
    public required string Ip { get; init; }
    /// <summary>ISO 3166-1 alpha-2 country code ("DE").</summary>
    public string? Country { get; init; }
    /// <summary>City name (English).</summary>
    public string? City { get; init; }
    /// <summary>Autonomous system number.</summary>
    public long? Asn { get; init; }
    /// <summary>Autonomous system organisation.</summary>
    public string? AsOrg { get; init; }
    /// <summary>When the lookup was made.</summary>
    public required DateTimeOffset LookedUpAt { get; init; }
}
