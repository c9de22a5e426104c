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

    // Typed views of the node, ENR, agent, geo and crawl columns `clp2p import` reads back; its visit columns go
    // through the visit-column map (ToVisit).
    public string? PeerId => (string?)this["peer_id"];
    public string? Enr => (string?)this["enr"];
    public ulong? Seq => (ulong?)this["seq"];
    public string? Ip => (string?)this["ip"];
    public string? ForkName => (string?)this["fork_name"];
    public string? NetworkName => (string?)this["network_name"];
    public string? AgentVersion => (string?)this["agent_version"];
    public string? Client => (string?)this["client"];
    public string? ClientVersion => (string?)this["client_version"];
    public string? Os => (string?)this["os"];
    public string? Arch => (string?)this["arch"];
    public string? Country => (string?)this["country"];
    public string? City => (string?)this["city"];
    public long? Asn => (long?)this["asn"];
    public string? AsOrg => (string?)this["as_org"];
    public string Vantage => (string)this["vantage"]!;
    public string? CrawlNetwork => (string?)this["crawl_network"];
    public DateTimeOffset? CrawlStartedAt => (DateTimeOffset?)this["crawl_started_at"];
    public DateTimeOffset? CrawlFinishedAt => (DateTimeOffset?)this["crawl_finished_at"];
    public long CrawlId => (long)this["crawl_id"]!;
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
