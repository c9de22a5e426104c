using System.Collections.Frozen;
using System.Reflection;

namespace ClP2p.Storage;

/// <summary>
/// One node seen in a crawl (one visit joined with its ENR, agent and geo rows), flat, for CSV/NDJSON/Parquet
/// exports. Hex values are lowercase without 0x; absent values are null. <see cref="ColumnNames"/> gives the
/// column names in order, <see cref="ColumnTypes"/> their types and <see cref="Values"/> the matching values, so writers
/// need no per-column code. The node, ENR, agent and geo columns come first, then every exported column of the visits
/// table in the order of its column map (a new visit column appears here without further code).
/// </summary>
public sealed class ExportRow
{
    /// <summary>The columns, in export order.</summary>
    internal static IReadOnlyList<SelectColumn> Columns { get; } =
    [
        new("node_id", "v.node_id", ColumnKind.Bytea),
        new("peer_id", "n.peer_id", ColumnKind.Text),
        new("enr", "e.raw", ColumnKind.Bytea, (r, i) => CensusService.EnrText((byte[])r.GetValue(i))),
        new("seq", "v.enr_seq", ColumnKind.UInt64),
        new("ip", "COALESCE(v.ip, e.ip4, e.ip6)", ColumnKind.Text),
        new("udp", "e.udp", ColumnKind.Int32),
        new("tcp", "e.tcp", ColumnKind.Int32),
        new("quic", "e.quic", ColumnKind.Int32),
        new("ip6", "e.ip6", ColumnKind.Text),
        new("fork_digest", "e.fork_digest", ColumnKind.Text),
        new("fork_name", CensusSql.EnrForkName, ColumnKind.Text),
        new("network_name", CensusSql.EnrNetworkName, ColumnKind.Text),
        new("next_fork_version", "e.next_fork_version", ColumnKind.Text),
        new("next_fork_epoch", "e.next_fork_epoch", ColumnKind.UInt64),
        new("attnets", "e.attnets", ColumnKind.Text),
        new("syncnets", "e.syncnets", ColumnKind.Text),
        new("cgc", "e.cgc", ColumnKind.UInt64),
        new("cgc_out_of_range", CensusSql.CgcOutOfRange, ColumnKind.Bool),
        new("nfd", "e.nfd", ColumnKind.Text),
        new("nfd_name", "(SELECT n.network || '/' || n.fork FROM fork_digests n WHERE n.digest = e.nfd)", ColumnKind.Text),
        new("agent_version", "a.raw", ColumnKind.Text),
        new("client", "a.client", ColumnKind.Text),
        new("client_inferred", "a.client_inferred", ColumnKind.Bool),
        new("client_version", "a.version", ColumnKind.Text),
        new("os", "a.os", ColumnKind.Text),
        new("arch", "a.arch", ColumnKind.Text),
        new("country", "g.country", ColumnKind.Text),
        new("city", "g.city", ColumnKind.Text),
        new("asn", "g.asn", ColumnKind.Int64),
        new("as_org", "g.as_org", ColumnKind.Text),
        new("status_network", "sd.network", ColumnKind.Text),
        new("vantage", "c.vantage", ColumnKind.Text),
        new("crawl_network", "c.network", ColumnKind.Text),
        new("crawl_started_at", "c.started_at", ColumnKind.TimestampTz) { ReadType = typeof(DateTimeOffset?) },
        new("crawl_finished_at", "c.finished_at", ColumnKind.TimestampTz) { ReadType = typeof(DateTimeOffset?) },
        .. VisitColumns.Exported.Select(c => c.Select()),
    ];

    /// <summary>Column names, in export order.</summary>
    public static IReadOnlyList<string> ColumnNames { get; } = Columns.Select(c => c.Name).ToArray();

    /// <summary>CLR type of each column, matching <see cref="ColumnNames"/> (nullable where values may be absent).</summary>
    public static IReadOnlyList<Type> ColumnTypes { get; } = Columns.Select(c => c.ReadType).ToArray();

    private static readonly FrozenDictionary<string, int> Index = ColumnNames.Select((n, i) => (n, i)).ToFrozenDictionary(x => x.n, x => x.i, StringComparer.Ordinal);

    /// <summary>The exported visit columns an import puts back into a visit, each with the property it sets (same name in
    /// PascalCase); the map's crawl id is the exporter's, so an import files visits under its own.</summary>
    private static readonly (int Index, VisitColumn Column, PropertyInfo Property)[] VisitImports = VisitColumns.Exported
        .Where(c => c.Name != "crawl_id")
        .Select(c => (Index[c.Name], c, typeof(VisitObservation).GetProperty(c.Property)
            ?? throw new InvalidOperationException($"visit column {c.Name} has no property VisitObservation.{c.Property}")))
        .ToArray();

    private readonly object?[] _values;

    internal ExportRow(object?[] values) => _values = values;

    /// <summary>The value of column <paramref name="name"/> (null when absent). Throws for an unknown column.</summary>
    public object? this[string name] => _values[Index[name]];

    /// <summary>Node id, 64 hex digits.</summary>
    public string NodeId => (string)this["node_id"]!;


    // Typed views of the columns `clp2p import` reads back (ExportReader builds rows by column name).
    /// <summary>Column peer_id.</summary>
    public string? PeerId => (string?)this["peer_id"];
    /// <summary>Column enr.</summary>
    public string? Enr => (string?)this["enr"];
    /// <summary>Column seq.</summary>
    public ulong? Seq => (ulong?)this["seq"];
    /// <summary>Column ip.</summary>
    public string? Ip => (string?)this["ip"];
    /// <summary>Column fork_name.</summary>
    public string? ForkName => (string?)this["fork_name"];
    /// <summary>Column network_name.</summary>
    public string? NetworkName => (string?)this["network_name"];
    /// <summary>Column agent_version.</summary>
    public string? AgentVersion => (string?)this["agent_version"];
    /// <summary>Column client.</summary>
    public string? Client => (string?)this["client"];
    /// <summary>Column client_version.</summary>
    public string? ClientVersion => (string?)this["client_version"];
    /// <summary>Column os.</summary>
    public string? Os => (string?)this["os"];
    /// <summary>Column arch.</summary>
    public string? Arch => (string?)this["arch"];
    /// <summary>Column country.</summary>
    public string? Country => (string?)this["country"];
    /// <summary>Column city.</summary>
    public string? City => (string?)this["city"];
    /// <summary>Column asn.</summary>
    public long? Asn => (long?)this["asn"];
    /// <summary>Column as_org.</summary>
    public string? AsOrg => (string?)this["as_org"];
    /// <summary>Column vantage.</summary>
    public string Vantage => (string)this["vantage"]!;
    /// <summary>Column crawl_network.</summary>
    public string? CrawlNetwork => (string?)this["crawl_network"];
    /// <summary>Column crawl_started_at.</summary>
    public DateTimeOffset? CrawlStartedAt => (DateTimeOffset?)this["crawl_started_at"];
    /// <summary>Column crawl_finished_at.</summary>
    public DateTimeOffset? CrawlFinishedAt => (DateTimeOffset?)this["crawl_finished_at"];
    /// <summary>Column discovery_answered.</summary>
    public bool? DiscoveryAnswered => (bool?)this["discovery_answered"];
    /// <summary>Column dial_outcome.</summary>
    public string DialOutcome => (string)this["dial_outcome"]!;
    /// <summary>Column dial_error.</summary>
    public string? DialError => (string?)this["dial_error"];
    /// <summary>Column failed_step.</summary>
    public string? FailedStep => (string?)this["failed_step"];
    /// <summary>Column latency_ms.</summary>
    public int? LatencyMs => (int?)this["latency_ms"];
    /// <summary>Column muxer.</summary>
    public string? Muxer => (string?)this["muxer"];
    /// <summary>Column status_fork_digest.</summary>
    public string? StatusForkDigest => (string?)this["status_fork_digest"];
    /// <summary>Column finalized_root.</summary>
    public string? FinalizedRoot => (string?)this["finalized_root"];
    /// <summary>Column finalized_epoch.</summary>
    public ulong? FinalizedEpoch => (ulong?)this["finalized_epoch"];
    /// <summary>Column head_root.</summary>
    public string? HeadRoot => (string?)this["head_root"];
    /// <summary>Column head_slot.</summary>
    public ulong? HeadSlot => (ulong?)this["head_slot"];
    /// <summary>Column earliest_available_slot.</summary>
    public ulong? EarliestAvailableSlot => (ulong?)this["earliest_available_slot"];
    /// <summary>Column status_version.</summary>
    public int? StatusVersion => (int?)this["status_version"];
    /// <summary>Column metadata_seq.</summary>
    public ulong? MetadataSeq => (ulong?)this["metadata_seq"];
    /// <summary>Column metadata_attnets.</summary>
    public string? MetadataAttnets => (string?)this["metadata_attnets"];
    /// <summary>Column metadata_syncnets.</summary>
    public string? MetadataSyncnets => (string?)this["metadata_syncnets"];
    /// <summary>Column custody_group_count.</summary>
    public ulong? CustodyGroupCount => (ulong?)this["custody_group_count"];
    /// <summary>Column metadata_version.</summary>
    public int? MetadataVersion => (int?)this["metadata_version"];
    /// <summary>Column goodbye_reason.</summary>
    public ulong? GoodbyeReason => (ulong?)this["goodbye_reason"];
    /// <summary>Column crawl_id.</summary>
    public long CrawlId => (long)this["crawl_id"]!;
    /// <summary>Column visited_at.</summary>
    public DateTimeOffset VisitedAt => (DateTimeOffset)this["visited_at"]!;

    /// <summary>
    /// The visit this row was exported from, filed under crawl <paramref name="crawlId"/>: every exported visit column
    /// through the visit-column map (a new column comes back without a change here), the agent string with its parsed
    /// fields, and the peer id. Throws <see cref="FormatException"/> naming the column when hex does not decode.
    /// </summary>
    public VisitObservation ToVisit(long crawlId, byte[] nodeId, ulong enrSeq)
    {
        var visit = new VisitObservation
        {
            CrawlId = crawlId,
            NodeId = nodeId,
            VisitedAt = VisitedAt,
            Kind = VisitKinds.Crawl,
            EnrSeq = Seq ?? enrSeq,
            Ip = Ip,
            AgentVersion = AgentVersion,
            Client = Client,
            ClientInferred = (bool?)this["client_inferred"],
            ClientVersion = ClientVersion,
            Os = Os,
            Arch = Arch,
            PeerId = PeerId,
        };
        foreach (var (index, column, property) in VisitImports)
        {
            object? value = _values[index];
            if (value is null) continue;
            if (column.Kind is ColumnKind.HexText or ColumnKind.Bytea)
            {
                try
                {
                    value = Convert.FromHexString((string)value);
                }
                catch (FormatException)
                {
                    throw new FormatException($"column {column.Name}: '{value}' is not hex");
                }
            }
            property.SetValue(visit, value);
        }
        return visit;
    }

    /// <summary>A row from values in <see cref="ColumnNames"/> order (as <see cref="ColumnTypes"/> types them; null for absent).</summary>
    public static ExportRow FromValues(object?[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length != ColumnNames.Count) throw new ArgumentException($"an export row has {ColumnNames.Count} values", nameof(values));
        return new ExportRow(values);
    }

    /// <summary>The index of column <paramref name="name"/> in <see cref="ColumnNames"/>; false when there is none.</summary>
    public static bool TryIndexOf(string name, out int index) => Index.TryGetValue(name, out index);

    /// <summary>The values in <see cref="ColumnNames"/> order (null for absent values).</summary>
    public object?[] Values() => _values;
}
