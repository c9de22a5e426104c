namespace ClP2p.Storage;

// Read models returned by CensusService. Hex values are lowercase without 0x; absent values are null;
// uint64 spec values are ulong; times are UTC.

/// <summary>A crawl as listed by the API.</summary>
public sealed record CrawlInfo
{
    /// <summary>Crawl id.</summary>
    public required long Id { get; init; }
    /// <summary>Network crawled ("mainnet", "hoodi", "custom").</summary>
    public required string Network { get; init; }
    /// <summary>running, succeeded, failed or aborted.</summary>
    public required string State { get; init; }
    /// <summary>Start instant.</summary>
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>End instant; null while running.</summary>
    public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>Counts reported by the crawler when it finished (zero while running).</summary>
    public required CrawlCounts Counts { get; init; }
    /// <summary>Visits (nodes seen) stored for this crawl.</summary>
    public required long Visits { get; init; }
    /// <summary>The crawl's parameters, JSON.</summary>
    public string? ParametersJson { get; init; }
    /// <summary>The crawl's summary, JSON.</summary>
    public string? SummaryJson { get; init; }
    /// <summary>The vantage point that crawled ("default" when none was named).</summary>
    public string Vantage { get; init; } = CrawlVantage.Default;
    /// <summary>For an imported crawl, its id in the database it was exported from; else null.</summary>
    public long? SourceCrawlId { get; init; }
}

/// <summary>One group of a census: a key, how many nodes, and their share of the total.</summary>
/// <param name="Key">The group's value (client name, fork digest, country code, ...); null = unknown/absent.</param>
/// <param name="Label">A human name for the key where one exists (AS organisation; "network/fork" for a digest).</param>
/// <param name="Count">Nodes (visits) in the group.</param>
/// <param name="Share">Count / total, in [0, 1].</param>
public sealed record CensusGroup(string? Key, string? Label, long Count, double Share);

/// <summary>A census of one crawl by one dimension. Groups are ordered by count, descending, then key.</summary>
public sealed record CensusResult
{
    /// <summary>The crawl counted.</summary>
    public required CrawlInfo Crawl { get; init; }
    /// <summary>The grouping.</summary>
    public required CensusDimension Dimension { get; init; }
    /// <summary>ENR network filter applied (e.g. "mainnet"), or null for all nodes.</summary>
    public string? Network { get; init; }
    /// <summary>Nodes counted (sum of the groups' counts).</summary>
    public required long Total { get; init; }
    /// <summary>The groups.</summary>
    public required IReadOnlyList<CensusGroup> Groups { get; init; }
}

/// <summary>The census of one crawl within a time series.</summary>
public sealed record CensusSeriesPoint
{
    /// <summary>The crawl.</summary>
    public required long CrawlId { get; init; }
    /// <summary>Network crawled.</summary>
    public required string CrawlNetwork { get; init; }
    /// <summary>When the crawl started (the point's time).</summary>
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>Nodes counted in this crawl.</summary>
    public required long Total { get; init; }
    /// <summary>Groups, by count descending.</summary>
    public required IReadOnlyList<CensusGroup> Groups { get; init; }
}

/// <summary>A census dimension over the crawls started in a time range, oldest first.</summary>
public sealed record CensusSeries
{
    /// <summary>The grouping.</summary>
    public required CensusDimension Dimension { get; init; }
    /// <summary>ENR network filter applied, or null.</summary>
    public string? Network { get; init; }
    /// <summary>Range start (inclusive).</summary>
    public required DateTimeOffset From { get; init; }
    /// <summary>Range end (exclusive).</summary>
    public required DateTimeOffset To { get; init; }
    /// <summary>One point per crawl.</summary>
    public required IReadOnlyList<CensusSeriesPoint> Points { get; init; }
}

/// <summary>A page of items and the total number of matches.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, int Offset, int Limit, long Total);

/// <summary>Filters of <see cref="CensusService.ListNodesAsync"/>; null fields do not filter. Values match exactly.</summary>
public sealed record NodeFilter
{
    /// <summary>Crawl whose nodes are listed; null = the latest crawl (see <see cref="CensusService.GetLatestCrawlAsync"/>).</summary>
    public long? CrawlId { get; init; }
    /// <summary>ENR network name ("mainnet").</summary>
    public string? Network { get; init; }
    /// <summary>Parsed client name ("lighthouse").</summary>
    public string? Client { get; init; }
    /// <summary>Agent client version ("v8.0.0"), or null for all.</summary>
    public string? ClientVersion { get; init; }
    /// <summary>Fork digest (8 lowercase hex digits) or fork name ("electra").</summary>
    public string? Fork { get; init; }
    /// <summary>Country code ("DE").</summary>
    public string? Country { get; init; }
    /// <summary>Dial outcome ("ok", an error class, "not_dialled").</summary>
    public string? DialOutcome { get; init; }
    /// <summary>Search: a node id (64 hex digits), an IP address or peer id (exact), or text inside the agent string.</summary>
    public string? Search { get; init; }
}

/// <summary>A node as seen in one crawl (one visit), for node lists.</summary>
public sealed record NodeSummary
{
    /// <summary>Node id, 64 hex digits.</summary>
    public required string NodeId { get; init; }
    /// <summary>libp2p peer id.</summary>
    public string? PeerId { get; init; }
    /// <summary>The visit's IP.</summary>
    public string? Ip { get; init; }
    /// <summary>ENR seq at the visit.</summary>
    public ulong? Seq { get; init; }
    /// <summary>ENR fork digest.</summary>
    public string? ForkDigest { get; init; }
    /// <summary>Fork name of the digest.</summary>
    public string? ForkName { get; init; }
    /// <summary>Network name of the digest.</summary>
    public string? NetworkName { get; init; }
    /// <summary>Client.</summary>
    public string? Client { get; init; }
    /// <summary>Client version.</summary>
    public string? ClientVersion { get; init; }
    /// <summary>"ok", an error class or "not_dialled".</summary>
    public required string DialOutcome { get; init; }
    /// <summary>Country code.</summary>
    public string? Country { get; init; }
    /// <summary>AS number.</summary>
    public long? Asn { get; init; }
    /// <summary>AS organisation.</summary>
    public string? AsOrg { get; init; }
    /// <summary>When the node was visited in this crawl.</summary>
    public required DateTimeOffset VisitedAt { get; init; }
}

/// <summary>A node's identity and lifetime.</summary>
public sealed record NodeInfo
{
    /// <summary>Node id, 64 hex digits.</summary>
    public required string NodeId { get; init; }
    /// <summary>Compressed public key, 66 hex digits.</summary>
    public string? PublicKey { get; init; }
    /// <summary>libp2p peer id.</summary>
    public string? PeerId { get; init; }
    /// <summary>First time seen (ENR or visit).</summary>
    public required DateTimeOffset FirstSeen { get; init; }
    /// <summary>Last time seen: the later of its last discovery sighting (ENR) and its latest visit.</summary>
    public required DateTimeOffset LastSeen { get; init; }
    /// <summary>Highest ENR seq seen.</summary>
    public required ulong LatestSeq { get; init; }
}

/// <summary>One ENR of a node (one history row), decoded.</summary>
public sealed record EnrRecord
{
    /// <summary>seq.</summary>
    public required ulong Seq { get; init; }
    /// <summary>Text form "enr:..." (URL-safe base64 of the RLP, unpadded).</summary>
    public required string Enr { get; init; }
    /// <summary>When this seq was first stored.</summary>
    public required DateTimeOffset SeenAt { get; init; }
    /// <summary>ip.</summary>
    public string? Ip4 { get; init; }
    /// <summary>ip6.</summary>
    public string? Ip6 { get; init; }
    /// <summary>udp.</summary>
    public int? Udp { get; init; }
    /// <summary>tcp.</summary>
    public int? Tcp { get; init; }
    /// <summary>quic.</summary>
    public int? Quic { get; init; }
    /// <summary>eth2 fork digest.</summary>
    public string? ForkDigest { get; init; }
    /// <summary>Fork name.</summary>
    public string? ForkName { get; init; }
    /// <summary>Network name.</summary>
    public string? NetworkName { get; init; }
    /// <summary>eth2 next fork version.</summary>
    public string? NextForkVersion { get; init; }
    /// <summary>eth2 next fork epoch.</summary>
    public ulong? NextForkEpoch { get; init; }
    /// <summary>attnets.</summary>
    public string? Attnets { get; init; }
    /// <summary>syncnets.</summary>
    public string? Syncnets { get; init; }
    /// <summary>cgc.</summary>
    public ulong? Cgc { get; init; }
    /// <summary>nfd.</summary>
    public string? Nfd { get; init; }
}

/// <summary>One visit of a node: discovery, dial, identify, Status and MetaData results.</summary>
public sealed record VisitRecord
{
    /// <summary>Crawl id (null for re-dials outside a crawl).</summary>
    public long? CrawlId { get; init; }
    /// <summary>crawl or redial.</summary>
    public required string Kind { get; init; }
    /// <summary>When.</summary>
    public required DateTimeOffset VisitedAt { get; init; }
    /// <summary>ENR seq at the visit.</summary>
    public ulong? EnrSeq { get; init; }
    /// <summary>IP.</summary>
    public string? Ip { get; init; }
    /// <summary>Answered FINDNODE.</summary>
    public bool? DiscoveryAnswered { get; init; }
    /// <summary>"ok", an error class or "not_dialled".</summary>
    public required string DialOutcome { get; init; }
    /// <summary>Raw dial error.</summary>
    public string? DialError { get; init; }
    /// <summary>Failed step.</summary>
    public string? FailedStep { get; init; }
    /// <summary>Latency, ms.</summary>
    public int? LatencyMs { get; init; }
    /// <summary>Raw agent string.</summary>
    public string? AgentVersion { get; init; }
    /// <summary>Client.</summary>
    public string? Client { get; init; }
    /// <summary>Client version.</summary>
    public string? ClientVersion { get; init; }
    /// <summary>Muxer.</summary>
    public string? Muxer { get; init; }
    /// <summary>Status fork digest.</summary>
    public string? StatusForkDigest { get; init; }
    /// <summary>Status finalized root.</summary>
    public string? FinalizedRoot { get; init; }
    /// <summary>Status finalized epoch.</summary>
    public ulong? FinalizedEpoch { get; init; }
    /// <summary>Status head root.</summary>
    public string? HeadRoot { get; init; }
    /// <summary>Status head slot.</summary>
    public ulong? HeadSlot { get; init; }
    /// <summary>Status v2 earliest available slot.</summary>
    public ulong? EarliestAvailableSlot { get; init; }
    /// <summary>Status version.</summary>
    public int? StatusVersion { get; init; }
    /// <summary>MetaData seq.</summary>
    public ulong? MetadataSeq { get; init; }
    /// <summary>MetaData attnets.</summary>
    public string? MetadataAttnets { get; init; }
    /// <summary>MetaData syncnets.</summary>
    public string? MetadataSyncnets { get; init; }
    /// <summary>MetaData custody group count.</summary>
    public ulong? CustodyGroupCount { get; init; }
    /// <summary>MetaData version.</summary>
    public int? MetadataVersion { get; init; }
    /// <summary>Goodbye reason received.</summary>
    public ulong? GoodbyeReason { get; init; }
}

/// <summary>An agent string a node used, with the span of visits it was seen in.</summary>
public sealed record AgentRecord(string AgentVersion, string? Client, string? ClientVersion, string? Os, string? Arch, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, int Visits);

/// <summary>A node's history: its ENR seqs, its visits (newest first) and the agent strings it used.</summary>
public sealed record NodeHistory(NodeInfo Node, IReadOnlyList<EnrRecord> Enrs, IReadOnlyList<VisitRecord> Visits, IReadOnlyList<AgentRecord> Agents);
