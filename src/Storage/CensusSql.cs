namespace ClP2p.Storage;

/// <summary>
/// Portable SQL (PostgreSQL and SQLite) for the census groupings. Every visit of a crawl falls in exactly one group
/// of every dimension (a null key is the "unknown" group), so the counts of a dimension sum to the crawl's visits.
/// </summary>
internal static class CensusSql
{
    private const string EnrJoin = " LEFT JOIN enr_history e ON e.node_id = v.node_id AND e.seq = v.enr_seq"
        + " LEFT JOIN fork_digests ed ON ed.digest = e.fork_digest LEFT JOIN fork_digests sd ON sd.digest = v.status_fork_digest";

    /// <summary>Fork name of the ENR digest (e, ed joined): the registry's name, else the one stored at ingest.</summary>
    public const string EnrForkName = "COALESCE(ed.fork, e.fork_name)";

    /// <summary>Network name of the ENR digest (e, ed joined): the registry's name, else the one stored at ingest.</summary>
    public const string EnrNetworkName = "COALESCE(ed.network, e.network_name)";

    /// <summary>
    /// The network a visited node is counted on (v, e, ed, sd joined): the one its Status digest names when it answered
    /// Status with a known digest, else its ENR digest's.
    /// </summary>
    public const string NodeNetwork = "COALESCE(sd.network, ed.network, e.network_name)";

    /// <summary>
    /// ENR cgc above NUMBER_OF_CUSTODY_GROUPS (fulu/das-core.md "Configuration": 128), or beyond int64 (stored negative);
    /// null when the record has no cgc.
    /// </summary>
    public const string CgcOutOfRange = "CASE WHEN e.cgc IS NULL THEN NULL WHEN e.cgc > 128 OR e.cgc < 0 THEN 1 = 1 ELSE 1 = 0 END";
    /// <summary>The reachability class of a visit (see <see cref="CensusDimension.Reachability"/>).</summary>
    public const string Reachability = "CASE WHEN v.dial_outcome = 'ok' THEN 'dialable' WHEN v.discovery_answered THEN 'discovery_only'"
        + " WHEN v.seen_inbound THEN 'inbound_only' ELSE 'unreachable' END";

    /// <summary>
    /// How a visit's node answered discovery (see <see cref="CensusDimension.Discovery"/>): a node that answered and was
    /// left with a distance unanswered carries the reason in discovery_error (the crawl summary's discovery_incomplete
    /// counts the same nodes), one fully enumerated has none.
    /// </summary>
    public const string Discovery = "CASE WHEN v.discovery_answered IS NULL THEN NULL WHEN NOT v.discovery_answered THEN 'silent'"
        + " WHEN COALESCE(v.discovery_error, '') = '' THEN 'answered' ELSE 'incomplete' END";

    /// <summary>The address families a visit's node answered on (see <see cref="CensusDimension.IpFamily"/>).</summary>
    public const string IpFamily = "CASE WHEN v.ipv4_answered AND v.ipv6_answered THEN 'dual_stack' WHEN v.ipv4_answered THEN 'ipv4_only'"
        + " WHEN v.ipv6_answered THEN 'ipv6_only' END";

    private const string AgentJoin = " LEFT JOIN agent_versions a ON a.id = v.agent_version_id";
    private const string GeoJoin = " LEFT JOIN ip_addresses g ON g.address = v.ip";
    private const string NoLabel = "CAST(NULL AS TEXT)";

    // LabelIsGroup: the label is part of the group (a version is counted per client), not a name of the key.
    private readonly record struct Spec(string Key, string Label, bool Enr, bool Agent, bool Geo, bool LabelIsGroup = false);

    private static string Label(Spec s) => s.LabelIsGroup ? s.Label : $"MAX({s.Label})";

    private static string GroupBy(Spec s) => s.LabelIsGroup ? $"{s.Key}, {s.Label}" : s.Key;

    private static Spec For(CensusDimension d) => For(d, sqliteBits: false);

    /// <param name="d">The dimension.</param>
    /// <param name="sqliteBits">Count hex bits with <see cref="SqliteHexBits"/> (a SQLite connection that registered it,
    /// see <see cref="RegisterHexBits"/>) instead of the portable REPLACE chain.</param>
    private static Spec For(CensusDimension d, bool sqliteBits) => d switch
    {
        CensusDimension.Client => new("a.client", NoLabel, false, true, false),
        CensusDimension.ClientVersion => new("a.version", "a.client", false, true, false, LabelIsGroup: true),
        CensusDimension.ForkDigest => new("e.fork_digest", $"CASE WHEN {EnrNetworkName} IS NULL THEN {EnrForkName} ELSE {EnrNetworkName} || '/' || COALESCE({EnrForkName}, '') END", true, false, false),
        CensusDimension.ForkName => new(EnrForkName, NoLabel, true, false, false),
        CensusDimension.Network => new(NodeNetwork, NoLabel, true, false, false),
        CensusDimension.NextFork => new("CASE WHEN e.next_fork_version IS NULL THEN NULL ELSE e.next_fork_version || '@' || CASE WHEN e.next_fork_epoch < 0 THEN 'far_future' ELSE CAST(e.next_fork_epoch AS TEXT) END END", NoLabel, true, false, false),
        CensusDimension.Country => new("g.country", NoLabel, false, false, true),
        CensusDimension.Asn => new("CAST(g.asn AS TEXT)", "g.as_org", false, false, true),
        CensusDimension.Os => new("a.os", NoLabel, false, true, false),
        CensusDimension.Arch => new("a.arch", NoLabel, false, true, false),
        CensusDimension.IpVersion => new("CASE WHEN v.ip IS NULL THEN NULL WHEN v.ip LIKE '%:%' THEN 'ipv6' ELSE 'ipv4' END", NoLabel, false, false, false),
        CensusDimension.DialOutcome => new("v.dial_outcome", NoLabel, false, false, false),
        CensusDimension.DigestMismatch => new("CASE WHEN v.digest_mismatch IS NULL THEN NULL WHEN v.digest_mismatch THEN 'true' ELSE 'false' END", NoLabel, false, false, false),
        CensusDimension.Discovery => new(Discovery, NoLabel, false, false, false),
        CensusDimension.Cgc => new("CAST(COALESCE(v.custody_group_count, e.cgc) AS TEXT)", NoLabel, true, false, false),
        CensusDimension.Attnets => new(BitCount("COALESCE(v.metadata_attnets, e.attnets)", sqliteBits), NoLabel, true, false, false),
        CensusDimension.Syncnets => new(BitCount("COALESCE(v.metadata_syncnets, e.syncnets)", sqliteBits), NoLabel, true, false, false),
        CensusDimension.Reachability => new(Reachability, NoLabel, false, false, false),
        CensusDimension.SeenInbound => new("CASE WHEN v.seen_inbound IS NULL THEN NULL WHEN v.seen_inbound THEN 'true' ELSE 'false' END", NoLabel, false, false, false),
        CensusDimension.IpFamily => new(IpFamily, NoLabel, false, false, false),
        CensusDimension.IpFamilyByClient => new($"CASE WHEN {IpFamily} IS NULL THEN NULL ELSE COALESCE(a.client, 'unknown') || '/' || {IpFamily} END", "a.client", false, true, false),
        _ => throw new ArgumentOutOfRangeException(nameof(d), d, "unknown census dimension"),
    };

    /// <summary>
    /// Bits set in a lowercase hex bitfield, as text, in SQL both providers run: every hex digit becomes as many '1's
    /// as it has bits set (each replacement only emits '1', which maps to itself), and the length is the count.
    /// </summary>
    internal static string BitCount(string hex, bool sqliteBits = false)
    {
        if (sqliteBits) return $"{SqliteHexBits}({hex})";
        string s = $"REPLACE(LOWER({hex}), '0', '')";
        foreach ((char digit, int bits) in new[] { ('2', 1), ('3', 2), ('4', 1), ('5', 2), ('6', 2), ('7', 3), ('8', 1), ('9', 2), ('a', 2), ('b', 3), ('c', 2), ('d', 3), ('e', 3), ('f', 4) })
            s = $"REPLACE({s}, '{digit}', '{new string('1', bits)}')";
        return $"CAST(LENGTH({s}) AS TEXT)";
    }

    /// <summary>
    /// The name of the SQLite function that counts a hex bitfield's bits as <see cref="BitCount(string, bool)"/>'s REPLACE
    /// chain does, registered by <see cref="RegisterHexBits"/>. The chain is fifteen nested REPLACEs per value, the costliest
    /// keys of the census build at the end of a crawl (docs/performance.md, "Another machine; fewer objects per record; the
    /// census's bit counts").
    /// </summary>
    public const string SqliteHexBits = "clp2p_hex_bits";

    /// <summary>Registers <see cref="SqliteHexBits"/> on a SQLite connection (no-op for any other).</summary>
    public static void RegisterHexBits(System.Data.Common.DbConnection connection)
    {
        if (connection is Microsoft.Data.Sqlite.SqliteConnection sqlite)
            sqlite.CreateFunction<string?, string?>(SqliteHexBits, HexBits, isDeterministic: true);
    }

    /// <summary>
    /// What <see cref="BitCount(string, bool)"/>'s chain gives for <paramref name="hex"/>, computed directly: after SQLite's
    /// LOWER (ASCII letters only) every '0' is removed and every other hex digit becomes as many characters as it has bits
    /// set, any other character stays one, and the length in characters is the count; null stays null.
    /// </summary>
    internal static string? HexBits(string? hex)
    {
        if (hex is null) return null;
        int n = 0;
        foreach (System.Text.Rune r in hex.EnumerateRunes())
        {
            int c = r.Value is >= 'A' and <= 'Z' ? r.Value + 32 : r.Value;
            n += c switch
            {
                '0' => 0,
                >= '1' and <= '9' => System.Numerics.BitOperations.PopCount((uint)(c - '0')),
                >= 'a' and <= 'f' => System.Numerics.BitOperations.PopCount((uint)(c - 'a' + 10)),
                _ => 1,
            };
        }
        return n.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The stable name stored in crawl_census.dimension (snake_case of the enum name).</summary>
    public static string DimensionName(CensusDimension d) => Model.ClP2pDbContext.ToSnakeCase(d.ToString());

    private static string Joins(Spec s, bool needEnr) =>
        (s.Enr || needEnr ? EnrJoin : "") + (s.Agent ? AgentJoin : "") + (s.Geo ? GeoJoin : "");

    /// <summary>Each dimension's key and label as columns kI and lI (null when it has no label) of one row per visit.</summary>
    private static string KeyColumns(Spec[] specs) =>
        string.Join(", ", specs.Select((s, i) => $"{s.Key} AS k{i}, {(s.LabelIsGroup || s.Label != NoLabel ? s.Label : NoLabel)} AS l{i}"));

    /// <summary>
    /// INSERT of every dimension of <paramref name="dimensions"/> for crawl @crawl into crawl_census in one statement: the
    /// visits are read and joined once, then grouped per network and dimension (PostgreSQL: GROUPING SETS, one pass;
    /// SQLite: a materialized CTE read once per dimension): per network of the visits (<see cref="NodeNetwork"/>, '' for
    /// none) and dimension, its groups as <see cref="LiveCensus"/> counts them. One statement per dimension joined the
    /// crawl's visits to their records twenty times over: 2.4 s at the end of a 20,000-record crawl.
    /// </summary>
    /// <remarks>For SQLite the bit counts call <see cref="SqliteHexBits"/>: run it on a connection that registered it
    /// (<see cref="RegisterHexBits"/>).</remarks>
    public static string BuildAggregateInserts(IReadOnlyList<CensusDimension> dimensions, bool postgres = false)
    {
        ArgumentOutOfRangeException.ThrowIfZero(dimensions.Count);
        Spec[] specs = [.. dimensions.Select(d => For(d, sqliteBits: !postgres))];
        string columns = KeyColumns(specs);
        // the network column needs the ENR joins whatever the dimensions
        var joins = new Spec(NoLabel, NoLabel, true, specs.Any(s => s.Agent), specs.Any(s => s.Geo));
        string visits = $"""
              SELECT COALESCE({NodeNetwork}, '') AS net, {columns}
              FROM visits v{Joins(joins, true)}
              WHERE v.crawl_id = @crawl AND v.kind = 'crawl'
            """;
        return PerDimension(specs, i => $"'{DimensionName(dimensions[i])}'", visits, postgres,
            lead: "@crawl, net, ", by: "net, ", insert: "INSERT INTO crawl_census (crawl_id, network, dimension, key, label, count)");
    }

    /// <summary>Live census of one crawl from visits (parameters @crawl and, when filtered, @network): key, label, count.</summary>
    public static string LiveCensus(CensusDimension d, bool networkFilter)
    {
        Spec s = For(d);
        return $"""
            SELECT {s.Key}, {Label(s)}, COUNT(*)
            FROM visits v{Joins(s, networkFilter)}
            WHERE v.crawl_id = @crawl AND v.kind = 'crawl'{(networkFilter ? $" AND {NodeNetwork} = @network" : "")}
            GROUP BY {GroupBy(s)}
            """;
    }

    /// <summary>
    /// Live census of one crawl by several dimensions in one pass over its visits (parameters @crawl and, when
    /// filtered, @network): the visits are read and joined once, then grouped per dimension (PostgreSQL: GROUPING SETS,
    /// one pass; SQLite: a materialized CTE read once per dimension).
    /// Rows: dimension index (into <paramref name="dimensions"/>), key, label, count.
    /// </summary>
    public static string LiveCensuses(IReadOnlyList<CensusDimension> dimensions, bool networkFilter, bool postgres = false)
    {
        ArgumentOutOfRangeException.ThrowIfZero(dimensions.Count);
        Spec[] specs = [.. dimensions.Select(For)];
        string columns = KeyColumns(specs);
        var joins = new Spec(NoLabel, NoLabel, specs.Any(s => s.Enr) || networkFilter, specs.Any(s => s.Agent), specs.Any(s => s.Geo));
        string visits = $"""
              SELECT {columns}
              FROM visits v{Joins(joins, networkFilter)}
              WHERE v.crawl_id = @crawl AND v.kind = 'crawl'{(networkFilter ? $" AND {NodeNetwork} = @network" : "")}
            """;
        return PerDimension(specs, i => i.ToString(System.Globalization.CultureInfo.InvariantCulture), visits, postgres);
    }

    /// <summary>
    /// Groups the rows of <paramref name="visits"/> (columns kI, lI of <see cref="KeyColumns"/>) per dimension, each group
    /// also by the columns of <paramref name="by"/> (a prefix such as "net, ", or empty): rows <paramref name="lead"/>, the
    /// dimension's <paramref name="tag"/>, key, label, count; the whole statement after <paramref name="insert"/> when given.
    /// </summary>
    private static string PerDimension(Spec[] specs, Func<int, string> tag, string visits, bool postgres, string lead = "", string by = "", string insert = "")
    {
        if (postgres)
        {
            // One pass: PostgreSQL groups every visit into one hash table per grouping set as it reads it, instead of
            // writing the joined visits to a materialized CTE and reading it back once per dimension. GROUPING(kI) = 0
            // marks the rows of dimension I (each dimension groups by its own column, so exactly one is 0 per row; OFFSET 0
            // keeps the subquery's columns apart: pulled up, the client key and client_version's label would be one
            // expression, and GROUPING could no longer tell their grouping sets apart).
            string which(Func<int, string> then) =>
                "CASE " + string.Concat(specs.Select((s, i) => $"WHEN GROUPING(k{i}) = 0 THEN {then(i)} ")) + "END";
            string sets = string.Join(", ", specs.Select((s, i) => s.LabelIsGroup ? $"({by}k{i}, l{i})" : $"({by}k{i})"));
            return $"""
                {insert}
                SELECT {lead}{which(tag)}, {which(i => $"k{i}")}, {which(i => specs[i].LabelIsGroup ? $"l{i}" : $"MAX(l{i})")}, COUNT(*)
                FROM ({visits} OFFSET 0) x
                GROUP BY GROUPING SETS ({sets})
                """;
        }
        string groups = string.Join("\n            UNION ALL\n            ", specs.Select((s, i) => s.LabelIsGroup
            ? $"SELECT {lead}{tag(i)}, k{i}, l{i}, COUNT(*) FROM x GROUP BY {by}k{i}, l{i}"
            : $"SELECT {lead}{tag(i)}, k{i}, MAX(l{i}), COUNT(*) FROM x GROUP BY {by}k{i}"));
        return $"""
            WITH x AS MATERIALIZED ({visits})
            {insert}
            {groups}
            """;
    }

    /// <summary>The key of <paramref name="d"/>'s groups, its label and whether the label is part of the group (else each
    /// group is labelled by the greatest label of its visits, as MAX does).</summary>
    public static (string Key, string? Label, bool LabelIsGroup) Columns(CensusDimension d)
    {
        Spec s = For(d);
        return (s.Key, s.Label == NoLabel ? null : s.Label, s.LabelIsGroup);
    }

    /// <summary>
    /// One row per crawl visit of @crawl matching <paramref name="where"/> (appended to the crawl's own condition), with
    /// what each stored dimension groups it by: id, ip, node_id, the network it is counted on (<see cref="NodeNetwork"/>),
    /// its ENR's network name, visited_at, head_slot, finalized_epoch, then per dimension of <paramref name="dimensions"/>
    /// its key and, where it has one, its label (the same expressions as <see cref="LiveCensus"/>).
    /// </summary>
    public static string CrawlVisitKeys(IReadOnlyList<CensusDimension> dimensions, string where)
    {
        var columns = new List<string>();
        foreach (CensusDimension d in dimensions)
        {
            Spec s = For(d);
            columns.Add(s.Key);
            if (s.Label != NoLabel) columns.Add(s.Label);
        }
        var joins = new Spec(NoLabel, NoLabel, true, true, true);
        return $"""
            SELECT v.id, v.ip, v.node_id, {NodeNetwork}, e.network_name, v.visited_at, v.head_slot, v.finalized_epoch, {string.Join(", ", columns)}
            FROM visits v{Joins(joins, true)}
            WHERE v.crawl_id = @crawl AND v.kind = 'crawl'{where}
            """;
    }

    /// <summary>Census of one crawl from crawl_census (parameters @crawl, @dimension[, @network]): key, label, count.</summary>
    public static string StoredCensus(bool networkFilter) => $"""
        SELECT key, MAX(label), SUM(count)
        FROM crawl_census
        WHERE crawl_id = @crawl AND dimension = @dimension{(networkFilter ? " AND network = @network" : "")}
        GROUP BY key, CASE WHEN @dimension = 'client_version' THEN label END
        """;

    /// <summary>Stored census of the built crawls started in [@from, @to) (parameters @from, @to, @dimension[, @network]): crawl_id, key, label, count.</summary>
    public static string StoredSeries(bool networkFilter, bool networkOfCrawl) => $"""
        SELECT s.crawl_id, s.key, MAX(s.label), SUM(s.count)
        FROM crawl_census s JOIN crawls c ON c.id = s.crawl_id
        WHERE c.started_at >= @from AND c.started_at < @to AND c.census_built_at IS NOT NULL AND s.dimension = @dimension{(networkFilter ? " AND s.network = @network" : "")}{(networkOfCrawl ? " AND c.network = @crawlNetwork" : "")}
        GROUP BY s.crawl_id, s.key, CASE WHEN @dimension = 'client_version' THEN s.label END
        """;
}
