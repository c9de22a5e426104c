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
    /// <summary>One per value of the dimension, by count descending, then key.</summary>
    public required IReadOnlyList<CensusGroup> Groups { get; init; }
}

/// <summary>Several censuses of one crawl (GET /api/v1/census/set): each as <see cref="CensusResult"/> answers it.</summary>
public sealed record CensusSet
{
    /// <summary>The crawl counted.</summary>
    public required CrawlInfo Crawl { get; init; }
    /// <summary>Network filter applied, or null for all nodes.</summary>
    public string? Network { get; init; }
    /// <summary>One census per dimension asked for, in the order asked.</summary>
    public required IReadOnlyList<DimensionCensus> Censuses { get; init; }
}

/// <summary>One dimension's census within a <see cref="CensusSet"/>.</summary>
/// <param name="Dimension">The grouping.</param>
/// <param name="Total">Nodes counted.</param>
/// <param name="Groups">The groups, by count descending, then key.</param>
public sealed record DimensionCensus(CensusDimension Dimension, long Total, IReadOnlyList<CensusGroup> Groups);

/// <summary>The census of one crawl within a time series.</summary>
public sealed record CensusSeriesPoint
{
    /// <summary>Id of the crawl this point is the census of.</summary>
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
    /// <summary>Network of the node ("mainnet"): the one its Status digest names, else its ENR digest's.</summary>
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
    /// <summary>Only nodes whose Status fork digest differed (true) or matched (false) their ENR's.</summary>
    public bool? DigestMismatch { get; init; }
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
    /// <summary>Network of the node: the one its Status digest names, else its ENR digest's.</summary>
    public string? NetworkName { get; init; }
    /// <summary>Client parsed from the libp2p agent (lighthouse, prysm, teku, nimbus, lodestar, grandine, erigon, …, other).</summary>
    public string? Client { get; init; }
    /// <summary>Client version parsed from the agent (v7.1.0, without the client's name); null when the agent names none.</summary>
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
    /// <summary>ENR sequence number.</summary>
    public required ulong Seq { get; init; }
    /// <summary>Text form "enr:..." (URL-safe base64 of the RLP, unpadded).</summary>
    public required string Enr { get; init; }
    /// <summary>When this seq was first stored.</summary>
    public required DateTimeOffset SeenAt { get; init; }
    /// <summary>ENR `ip` (IPv4).</summary>
    public string? Ip4 { get; init; }
    /// <summary>ENR `ip6`.</summary>
    public string? Ip6 { get; init; }
    /// <summary>ENR `udp` port.</summary>
    public int? Udp { get; init; }
    /// <summary>ENR `tcp` port (the dial target).</summary>
    public int? Tcp { get; init; }
    /// <summary>ENR `quic` port.</summary>
    public int? Quic { get; init; }
    /// <summary>eth2 fork digest.</summary>
    public string? ForkDigest { get; init; }
    /// <summary>Fork the eth2 digest names, named at query time; null when unknown.</summary>
    public string? ForkName { get; init; }
    /// <summary>Network the eth2 digest names, named at query time; null when unknown.</summary>
    public string? NetworkName { get; init; }
    /// <summary>eth2 next fork version.</summary>
    public string? NextForkVersion { get; init; }
    /// <summary>eth2 next fork epoch.</summary>
    public ulong? NextForkEpoch { get; init; }
    /// <summary>ENR `attnets` Bitvector[64] as hex SSZ bytes (subnet i = bit i%8 of byte i/8).</summary>
    public string? Attnets { get; init; }
    /// <summary>ENR `syncnets` Bitvector[4] as hex.</summary>
    public string? Syncnets { get; init; }
    /// <summary>ENR `cgc` PeerDAS custody group count; null when the record has none.</summary>
    public ulong? Cgc { get; init; }
    /// <summary>ENR `nfd` next fork digest; null when absent.</summary>
    public string? Nfd { get; init; }
    /// <summary>cgc above NUMBER_OF_CUSTODY_GROUPS (128); null when the record has no cgc.</summary>
    public bool? CgcOutOfRange { get; init; }
}

/// <summary>
/// One visit of a node: discovery, dial, identify, Status and MetaData results. Its fields are the columns of the visits
/// table (see docs/data-dictionary.md) plus the agent string's parts (agent_version, client, client_inferred,
/// client_version), keyed by column name; in JSON they are the object's properties.
/// </summary>
public sealed record VisitRecord
{
    internal VisitRecord(Dictionary<string, object?> fields) => Fields = fields;

    /// <summary>Every field by column name (null when absent).</summary>
    [System.Text.Json.Serialization.JsonExtensionData]
    public Dictionary<string, object?> Fields { get; }

    /// <summary>The field called <paramref name="name"/>; null when absent.</summary>
    public object? this[string name] => Fields.GetValueOrDefault(name);

    /// <summary>Crawl id (null for re-dials outside a crawl).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public long? CrawlId => (long?)this["crawl_id"];

    /// <summary>"ok", an error class or "not_dialled".</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string DialOutcome => (string)this["dial_outcome"]!;

    /// <summary>When the visit ended (docs/data-dictionary.md, visited_at).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public DateTimeOffset VisitedAt => (DateTimeOffset)this["visited_at"]!;
}

/// <summary>An agent string a node used, with the span of visits it was seen in.</summary>
public sealed record AgentRecord(string AgentVersion, string? Client, string? ClientVersion, string? Os, string? Arch, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, int Visits);

/// <summary>A node's history: its ENR seqs, its visits (newest first) and the agent strings it used.</summary>
public sealed record NodeHistory(NodeInfo Node, IReadOnlyList<EnrRecord> Enrs, IReadOnlyList<VisitRecord> Visits, IReadOnlyList<AgentRecord> Agents);
