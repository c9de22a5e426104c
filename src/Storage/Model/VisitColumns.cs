using System.Data.Common;

namespace ClP2p.Storage;

/// <summary>How a visit column is stored, and so how it is written, bound and read back.</summary>
internal enum ColumnKind
{
    /// <summary><c>bigint</c>, read as <c>long?</c>.</summary>
    Int64,
    /// <summary>A uint64 spec value in a <c>bigint</c> (bits reinterpreted: 2^64−1 is −1), read as <c>ulong?</c>.</summary>
    UInt64,
    /// <summary><c>integer</c>, read as <c>int?</c>.</summary>
    Int32,
    /// <summary><c>boolean</c>, read as <c>bool?</c>.</summary>
    Bool,
    /// <summary><c>text</c>, read as <c>string</c>.</summary>
    Text,
    /// <summary>Bytes stored as lowercase hex <c>text</c> (digests, bitvectors), read as that text.</summary>
    HexText,
    /// <summary>Bytes stored as <c>bytea</c>/blob (roots, ids), read as lowercase hex text.</summary>
    Bytea,
    /// <summary><c>timestamptz</c> (UTC), read as <c>DateTimeOffset</c>.</summary>
    TimestampTz,
}

/// <summary>A column of a read query: the name it is shown under, its SQL expression, and how its value is read.</summary>
/// <param name="Name">Key in exports and API objects.</param>
/// <param name="Expression">SQL expression (portable between PostgreSQL and SQLite).</param>
/// <param name="Kind">How the value is stored, and so read.</param>
/// <param name="Reader">A reader replacing the kind's, for values shown in another form than stored.</param>
internal sealed record SelectColumn(string Name, string Expression, ColumnKind Kind, Func<DbDataReader, int, object?>? Reader = null)
{
    /// <summary>The CLR type of the value read.</summary>
    public Type ReadType { get; init; } = ColumnReading.ReadType(Kind);

    /// <summary>Reads field <paramref name="i"/>.</summary>
    public object? Read(DbDataReader r, int i) => r.IsDBNull(i) ? null : Reader is { } f ? f(r, i) : ColumnReading.Read(Kind, r, i);

    /// <summary>The expressions of <paramref name="columns"/>, comma-separated.</summary>
    public static string List(IEnumerable<SelectColumn> columns) => string.Join(", ", columns.Select(c => c.Expression));
}

/// <summary>Reading stored values into their shown form: uint64 bits back to ulong, bytes to lowercase hex, times to UTC.</summary>
internal static class ColumnReading
{
    public static Type ReadType(ColumnKind kind) => kind switch
    {
        ColumnKind.Int64 => typeof(long?),
        ColumnKind.UInt64 => typeof(ulong?),
        ColumnKind.Int32 => typeof(int?),
        ColumnKind.Bool => typeof(bool?),
        ColumnKind.Text or ColumnKind.HexText or ColumnKind.Bytea => typeof(string),
        ColumnKind.TimestampTz => typeof(DateTimeOffset),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static object? Read(ColumnKind kind, DbDataReader r, int i)
    {
        if (r.IsDBNull(i)) return null;
        return kind switch
        {
            ColumnKind.Int64 => Convert.ToInt64(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture),
            ColumnKind.UInt64 => unchecked((ulong)r.GetInt64(i)),
            ColumnKind.Int32 => r.GetInt32(i),
            ColumnKind.Bool => r.GetBoolean(i),
            ColumnKind.Text or ColumnKind.HexText => r.GetString(i),
            ColumnKind.Bytea => Convert.ToHexStringLower((byte[])r.GetValue(i)),
            ColumnKind.TimestampTz => (DateTimeOffset)r.GetUtc(i),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
    }
}

/// <summary>A visit as it is written: the observation and the id of its agent string (resolved by the writer).</summary>
internal readonly record struct VisitRow(VisitObservation Visit, long? AgentVersionId);

/// <summary>
/// One column of the visits table: its name, how it is stored, and how its value is taken from a
/// <see cref="VisitObservation"/>. See <see cref="VisitColumns"/>.
/// </summary>
internal abstract class VisitColumn(string name, ColumnKind kind, bool required, bool exported)
{
    /// <summary>Column name (snake_case); also the key in exports and API visit objects.</summary>
    public string Name { get; } = name;

    /// <summary>The EF property name (PascalCase of <see cref="Name"/>).</summary>
    public string Property { get; } = string.Concat(name.Split('_').Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    /// <summary>How the value is stored.</summary>
    public ColumnKind Kind { get; } = kind;

    /// <summary>NOT NULL in the database.</summary>
    public bool Required { get; } = required;

    /// <summary>Part of the per-node export (<see cref="ExportRow"/>) and of the visits in a node's history.</summary>
    public bool Exported { get; } = exported;

    /// <summary>The CLR type EF maps the column to.</summary>
    public Type StoreType => Kind switch
    {
        ColumnKind.Int64 or ColumnKind.UInt64 => typeof(long?),
        ColumnKind.Int32 => typeof(int?),
        ColumnKind.Bool => typeof(bool?),
        ColumnKind.Text or ColumnKind.HexText => typeof(string),
        ColumnKind.Bytea => typeof(byte[]),
        ColumnKind.TimestampTz => typeof(DateTime),
        _ => throw new InvalidOperationException(Kind.ToString()),
    };

    /// <summary>The CLR type of the value <see cref="Read"/> returns (what exports and the API show).</summary>
    public Type ReadType => ColumnReading.ReadType(Kind);

    /// <summary>Encodes the value as one field of a binary COPY row.</summary>
    public abstract void Copy(PgBinaryCopyWriter writer, in VisitRow row);

    /// <summary>
    /// The value as an ADO.NET parameter (stored representation; null for NULL): what <see cref="Bind"/> stores, as
    /// Microsoft.Data.Sqlite would bind it.
    /// </summary>
    public abstract object? Parameter(in VisitRow row);

    /// <summary>Binds the value to parameter <paramref name="index"/> of a SQLite insert (the SQLite writer's path).</summary>
    public abstract void Bind(SqliteRawStatement statement, int index, in VisitRow row);

    /// <summary>Reads field <paramref name="i"/> of a row of the visits table into its shown form (see <see cref="ReadType"/>).</summary>
    public object? Read(DbDataReader r, int i) => ColumnReading.Read(Kind, r, i);

    /// <summary>This column of the visits table aliased <c>v</c>, as a column of a query.</summary>
    public SelectColumn Select() => new(Name, "v." + Name, Kind);
}

/// <summary>
/// The one map of the visits table. Each entry names a column, says how it is stored and where its value comes from;
/// the EF model (shadow properties of <see cref="Model.VisitEntity"/>), the PostgreSQL binary COPY, the SQLite insert,
/// the node-history reader and the export all take their column lists from here, in this order. Adding a visit column is
/// a property on <see cref="VisitObservation"/>, one line here and a migration (<c>scripts/add-migration</c>).
/// </summary>
internal static class VisitColumns
{
    /// <summary>Every column except the generated id, in COPY order.</summary>
    public static IReadOnlyList<VisitColumn> All { get; } =
    [
        Int64("crawl_id", r => r.Visit.CrawlId, exported: true),
        Bytea("node_id", r => r.Visit.NodeId, required: true),
        Time("visited_at", r => r.Visit.VisitedAt),
        Text("kind", r => r.Visit.Kind, required: true),
        UInt64("enr_seq", r => r.Visit.EnrSeq),
        Text("ip", r => r.Visit.Ip),
        Bool("discovery_answered", r => r.Visit.DiscoveryAnswered, exported: true),
        Int32("neighbours", r => r.Visit.Neighbours, exported: true),
        Text("discovery_error", r => r.Visit.DiscoveryError, exported: true),
        Text("dial_outcome", r => r.Visit.DialOutcome, required: true, exported: true),
        Text("dial_error", r => r.Visit.DialError, exported: true),
        Text("failed_step", r => r.Visit.FailedStep, exported: true),
        Int32("latency_ms", r => r.Visit.LatencyMs, exported: true),
        Int64("agent_version_id", r => r.AgentVersionId),
        Text("muxer", r => r.Visit.Muxer, exported: true),
        Hex("status_fork_digest", r => r.Visit.StatusForkDigest, exported: true),
        Bytea("finalized_root", r => r.Visit.FinalizedRoot, exported: true),
        UInt64("finalized_epoch", r => r.Visit.FinalizedEpoch, exported: true),
        Bytea("head_root", r => r.Visit.HeadRoot, exported: true),
        UInt64("head_slot", r => r.Visit.HeadSlot, exported: true),
        UInt64("earliest_available_slot", r => r.Visit.EarliestAvailableSlot, exported: true),
        Int32("status_version", r => r.Visit.StatusVersion, exported: true),
        UInt64("metadata_seq", r => r.Visit.MetadataSeq, exported: true),
        Hex("metadata_attnets", r => r.Visit.MetadataAttnets, exported: true),
        Hex("metadata_syncnets", r => r.Visit.MetadataSyncnets, exported: true),
        UInt64("custody_group_count", r => r.Visit.CustodyGroupCount, exported: true),
        Int32("metadata_version", r => r.Visit.MetadataVersion, exported: true),
        UInt64("goodbye_reason", r => r.Visit.GoodbyeReason, exported: true),
        Hex("status_digest_sent", r => r.Visit.StatusDigestSent, exported: true),
        Bool("digest_mismatch", r => r.Visit.DigestMismatch, exported: true),
        Bool("ipv4_answered", r => r.Visit.Ipv4Answered, exported: true),
        Bool("ipv6_answered", r => r.Visit.Ipv6Answered, exported: true),
        Bool("seen_inbound", r => r.Visit.SeenInbound, exported: true),
    ];

    /// <summary>The column names, comma-separated, in <see cref="All"/> order.</summary>
    public static string NameList { get; } = string.Join(", ", All.Select(c => c.Name));

    /// <summary>The exported columns.</summary>
    public static IReadOnlyList<VisitColumn> Exported { get; } = All.Where(c => c.Exported).ToArray();

    /// <summary>The column called <paramref name="name"/>.</summary>
    public static VisitColumn Get(string name) => All.First(c => c.Name == name);

    private static VisitColumn Int64(string name, Func<VisitRow, long?> get, bool exported = false) => new Int64Column(name, get, exported);
    private static VisitColumn UInt64(string name, Func<VisitRow, ulong?> get, bool exported = false) => new UInt64Column(name, get, exported);
    private static VisitColumn Int32(string name, Func<VisitRow, int?> get, bool exported = false) => new Int32Column(name, get, exported);
    private static VisitColumn Bool(string name, Func<VisitRow, bool?> get, bool exported = false) => new BoolColumn(name, get, exported);
    private static VisitColumn Text(string name, Func<VisitRow, string?> get, bool required = false, bool exported = false) => new TextColumn(name, get, required, exported);
    private static VisitColumn Hex(string name, Func<VisitRow, byte[]?> get, bool exported = false) => new BytesColumn(name, ColumnKind.HexText, get, false, exported);
    private static VisitColumn Bytea(string name, Func<VisitRow, byte[]?> get, bool required = false, bool exported = false) => new BytesColumn(name, ColumnKind.Bytea, get, required, exported);
    private static VisitColumn Time(string name, Func<VisitRow, DateTimeOffset> get) => new TimeColumn(name, get);

    private sealed class Int64Column(string name, Func<VisitRow, long?> get, bool exported) : VisitColumn(name, ColumnKind.Int64, false, exported)
    {
        public override void Copy(PgBinaryCopyWriter writer, in VisitRow row) => writer.Int64(get(row));
        public override object? Parameter(in VisitRow row) => get(row);
        public override void Bind(SqliteRawStatement statement, int index, in VisitRow row) => statement.Bind(index, get(row));
    }

    private sealed class UInt64Column(string name, Func<VisitRow, ulong?> get, bool exported) : VisitColumn(name, ColumnKind.UInt64, false, exported)
    {
        public override void Copy(PgBinaryCopyWriter writer, in VisitRow row) => writer.UInt64AsInt64(get(row));
        public override object? Parameter(in VisitRow row) => Sql.Signed(get(row));
        public override void Bind(SqliteRawStatement statement, int index, in VisitRow row) => statement.Bind(index, Sql.Signed(get(row)));
    }

    private sealed class Int32Column(string name, Func<VisitRow, int?> get, bool exported) : VisitColumn(name, ColumnKind.Int32, false, exported)
    {
        public override void Copy(PgBinaryCopyWriter writer, in VisitRow row) => writer.Int32(get(row));
        public override object? Parameter(in VisitRow row) => get(row);
        public override void Bind(SqliteRawStatement statement, int index, in VisitRow row) => statement.Bind(index, get(row));
    }

    private sealed class BoolColumn(string name, Func<VisitRow, bool?> get, bool exported) : VisitColumn(name, ColumnKind.Bool, false, exported)
    {
        public override void Copy(PgBinaryCopyWriter writer, in VisitRow row) => writer.Bool(get(row));
        public override object? Parameter(in VisitRow row) => get(row);
        public override void Bind(SqliteRawStatement statement, int index, in VisitRow row) => statement.Bind(index, get(row));
    }

    private sealed class TextColumn(string name, Func<VisitRow, string?> get, bool required, bool exported) : VisitColumn(name, ColumnKind.Text, required, exported)
    {
        public override void Copy(PgBinaryCopyWriter writer, in VisitRow row) => writer.Text(get(row));
        public override object? Parameter(in VisitRow row) => get(row);
        public override void Bind(SqliteRawStatement statement, int index, in VisitRow row) => statement.Bind(index, get(row));
    }

    private sealed class BytesColumn(string name, ColumnKind kind, Func<VisitRow, byte[]?> get, bool required, bool exported) : VisitColumn(name, kind, required, exported)
    {
        public override void Copy(PgBinaryCopyWriter writer, in VisitRow row)
        {
            if (Kind == ColumnKind.HexText) writer.HexText(get(row));
            else writer.Bytea(get(row));
        }

        public override object? Parameter(in VisitRow row) => Kind == ColumnKind.HexText ? Sql.Hex(get(row)) : get(row);

        public override void Bind(SqliteRawStatement statement, int index, in VisitRow row)
        {
            if (Kind == ColumnKind.HexText) statement.BindHex(index, get(row));
            else statement.Bind(index, get(row));
        }
    }

    private sealed class TimeColumn(string name, Func<VisitRow, DateTimeOffset> get) : VisitColumn(name, ColumnKind.TimestampTz, true, true)
    {
        public override void Copy(PgBinaryCopyWriter writer, in VisitRow row) => writer.TimestampTz(get(row));
        public override object? Parameter(in VisitRow row) => get(row).UtcDateTime;
        public override void Bind(SqliteRawStatement statement, int index, in VisitRow row) => statement.Bind(index, get(row).UtcDateTime);
    }
}
