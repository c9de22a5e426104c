namespace ClP2p.Storage;

/// <summary>
/// One node seen in a crawl (one visit joined with its ENR, agent and geo rows), flat, for CSV/NDJSON/Parquet
/// exports. Hex values are lowercase without 0x; absent values are null. <see cref="ColumnNames"/> gives the
/// column names in order and <see cref="Values"/> the matching values, so writers need no per-column code.
/// </summary>
public sealed record ExportRow
{
    /// <summary>Column names, in export order (the names of issue 6 first, then extra columns).</summary>
    public static IReadOnlyList<string> ColumnNames { get; } =
    [
        "node_id", "peer_id", "enr", "seq", "ip", "udp", "tcp", "fork_digest", "fork_name", "next_fork_version",
        "next_fork_epoch", "attnets", "syncnets", "cgc", "agent_version", "client", "client_version", "os", "arch",
        "status_fork_digest", "head_slot", "head_root", "finalized_epoch", "finalized_root", "earliest_available_slot",
        "metadata_seq", "metadata_attnets", "metadata_syncnets", "custody_group_count", "dial_outcome", "dial_error",
        "goodbye_reason", "latency_ms", "country", "city", "asn", "as_org",
        "crawl_id", "visited_at", "network_name", "quic", "ip6", "nfd", "failed_step", "muxer", "status_version",
        "metadata_version", "discovery_answered",
        "vantage", "crawl_network", "crawl_started_at", "crawl_finished_at",
    ];

    /// <summary>CLR type of each column, matching <see cref="ColumnNames"/> (nullable where values may be absent).</summary>
    public static IReadOnlyList<Type> ColumnTypes { get; } =
    [
        typeof(string), typeof(string), typeof(string), typeof(ulong?), typeof(string), typeof(int?), typeof(int?), typeof(string), typeof(string), typeof(string),
        typeof(ulong?), typeof(string), typeof(string), typeof(ulong?), typeof(string), typeof(string), typeof(string), typeof(string), typeof(string),
        typeof(string), typeof(ulong?), typeof(string), typeof(ulong?), typeof(string), typeof(ulong?),
        typeof(ulong?), typeof(string), typeof(string), typeof(ulong?), typeof(string), typeof(string),
        typeof(ulong?), typeof(int?), typeof(string), typeof(string), typeof(long?), typeof(string),
        typeof(long), typeof(DateTimeOffset), typeof(string), typeof(int?), typeof(string), typeof(string), typeof(string), typeof(string), typeof(int?),
        typeof(int?), typeof(bool?),
        typeof(string), typeof(string), typeof(DateTimeOffset?), typeof(DateTimeOffset?),
    ];

    /// <summary>Node id, 64 hex digits.</summary>
    public required string NodeId { get; init; }
    /// <summary>libp2p peer id (from the visit, else the node).</summary>
    public string? PeerId { get; init; }
    /// <summary>ENR text "enr:..." of the seq current at the visit.</summary>
    public string? Enr { get; init; }
    /// <summary>ENR seq.</summary>
    public ulong? Seq { get; init; }
    /// <summary>IP of the visit (else the ENR's ip, else ip6).</summary>
    public string? Ip { get; init; }
    /// <summary>ENR udp.</summary>
    public int? Udp { get; init; }
    /// <summary>ENR tcp.</summary>
    public int? Tcp { get; init; }
    /// <summary>ENR eth2 fork digest.</summary>
    public string? ForkDigest { get; init; }
    /// <summary>Fork name of the digest.</summary>
    public string? ForkName { get; init; }
    /// <summary>ENR next fork version.</summary>
    public string? NextForkVersion { get; init; }
    /// <summary>ENR next fork epoch.</summary>
    public ulong? NextForkEpoch { get; init; }
    /// <summary>ENR attnets.</summary>
    public string? Attnets { get; init; }
    /// <summary>ENR syncnets.</summary>
    public string? Syncnets { get; init; }
    /// <summary>ENR cgc.</summary>
    public ulong? Cgc { get; init; }
    /// <summary>Raw agent string.</summary>
    public string? AgentVersion { get; init; }
    /// <summary>Client.</summary>
    public string? Client { get; init; }
    /// <summary>Client version.</summary>
    public string? ClientVersion { get; init; }
    /// <summary>OS.</summary>
    public string? Os { get; init; }
    /// <summary>Architecture.</summary>
    public string? Arch { get; init; }
    /// <summary>Status fork digest.</summary>
    public string? StatusForkDigest { get; init; }
    /// <summary>Status head slot.</summary>
    public ulong? HeadSlot { get; init; }
    /// <summary>Status head root.</summary>
    public string? HeadRoot { get; init; }
    /// <summary>Status finalized epoch.</summary>
    public ulong? FinalizedEpoch { get; init; }
    /// <summary>Status finalized root.</summary>
    public string? FinalizedRoot { get; init; }
    /// <summary>Status v2 earliest available slot.</summary>
    public ulong? EarliestAvailableSlot { get; init; }
    /// <summary>MetaData seq.</summary>
    public ulong? MetadataSeq { get; init; }
    /// <summary>MetaData attnets.</summary>
    public string? MetadataAttnets { get; init; }
    /// <summary>MetaData syncnets.</summary>
    public string? MetadataSyncnets { get; init; }
    /// <summary>MetaData custody group count.</summary>
    public ulong? CustodyGroupCount { get; init; }
    /// <summary>"ok", an error class or "not_dialled".</summary>
    public required string DialOutcome { get; init; }
    /// <summary>Raw dial error.</summary>
    public string? DialError { get; init; }
    /// <summary>Goodbye reason received.</summary>
    public ulong? GoodbyeReason { get; init; }
    /// <summary>Dial latency, ms.</summary>
    public int? LatencyMs { get; init; }
    /// <summary>Country code.</summary>
    public string? Country { get; init; }
    /// <summary>City.</summary>
    public string? City { get; init; }
    /// <summary>AS number.</summary>
    public long? Asn { get; init; }
    /// <summary>AS organisation.</summary>
    public string? AsOrg { get; init; }
    /// <summary>Crawl id.</summary>
    public required long CrawlId { get; init; }
    /// <summary>Visit time.</summary>
    public required DateTimeOffset VisitedAt { get; init; }
    /// <summary>Network name of the fork digest.</summary>
    public string? NetworkName { get; init; }
    /// <summary>ENR quic.</summary>
    public int? Quic { get; init; }
    /// <summary>ENR ip6.</summary>
    public string? Ip6 { get; init; }
    /// <summary>ENR nfd.</summary>
    public string? Nfd { get; init; }
    /// <summary>Failed dial step.</summary>
    public string? FailedStep { get; init; }
    /// <summary>Muxer.</summary>
    public string? Muxer { get; init; }
    /// <summary>Status version.</summary>
    public int? StatusVersion { get; init; }
    /// <summary>MetaData version.</summary>
    public int? MetadataVersion { get; init; }
    /// <summary>Answered FINDNODE.</summary>
    public bool? DiscoveryAnswered { get; init; }
    /// <summary>The crawl's vantage point (what <c>clp2p import</c> files the crawl under).</summary>
    public string Vantage { get; init; } = CrawlVantage.Default;
    /// <summary>The network the crawl crawled ("mainnet", "custom", ...).</summary>
    public string? CrawlNetwork { get; init; }
    /// <summary>The crawl's start.</summary>
    public DateTimeOffset? CrawlStartedAt { get; init; }
    /// <summary>The crawl's end; null while it runs.</summary>
    public DateTimeOffset? CrawlFinishedAt { get; init; }

    /// <summary>The values in <see cref="ColumnNames"/> order (null for absent values).</summary>
    public object?[] Values() =>
    [
        NodeId, PeerId, Enr, Seq, Ip, Udp, Tcp, ForkDigest, ForkName, NextForkVersion,
        NextForkEpoch, Attnets, Syncnets, Cgc, AgentVersion, Client, ClientVersion, Os, Arch,
        StatusForkDigest, HeadSlot, HeadRoot, FinalizedEpoch, FinalizedRoot, EarliestAvailableSlot,
        MetadataSeq, MetadataAttnets, MetadataSyncnets, CustodyGroupCount, DialOutcome, DialError,
        GoodbyeReason, LatencyMs, Country, City, Asn, AsOrg,
        CrawlId, VisitedAt, NetworkName, Quic, Ip6, Nfd, FailedStep, Muxer, StatusVersion,
        MetadataVersion, DiscoveryAnswered,
        Vantage, CrawlNetwork, CrawlStartedAt, CrawlFinishedAt,
    ];
}
