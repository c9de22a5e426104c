using System.Collections.Frozen;

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
        .. VisitColumns.Exported.Select(c => c.Select()),
    ];

    /// <summary>Column names, in export order.</summary>
    public static IReadOnlyList<string> ColumnNames { get; } = Columns.Select(c => c.Name).ToArray();

    /// <summary>CLR type of each column, matching <see cref="ColumnNames"/> (nullable where values may be absent).</summary>
    public static IReadOnlyList<Type> ColumnTypes { get; } = Columns.Select(c => c.ReadType).ToArray();

    private static readonly FrozenDictionary<string, int> Index = ColumnNames.Select((n, i) => (n, i)).ToFrozenDictionary(x => x.n, x => x.i, StringComparer.Ordinal);

    private readonly object?[] _values;

    internal ExportRow(object?[] values) => _values = values;

    /// <summary>The value of column <paramref name="name"/> (null when absent). Throws for an unknown column.</summary>
    public object? this[string name] => _values[Index[name]];

    /// <summary>Node id, 64 hex digits.</summary>
    public string NodeId => (string)this["node_id"]!;

    /// <summary>The values in <see cref="ColumnNames"/> order (null for absent values).</summary>
    public object?[] Values() => _values;
}
