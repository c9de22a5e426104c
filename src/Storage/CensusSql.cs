namespace ClP2p.Storage;

/// <summary>
/// Portable SQL (PostgreSQL and SQLite) for the census groupings. Every visit of a crawl falls in exactly one group
/// of every dimension (a null key is the "unknown" group), so the counts of a dimension sum to the crawl's visits.
/// </summary>
internal static class CensusSql
{
    private const string EnrJoin = " LEFT JOIN enr_history e ON e.node_id = v.node_id AND e.seq = v.enr_seq";
    private const string AgentJoin = " LEFT JOIN agent_versions a ON a.id = v.agent_version_id";
    private const string GeoJoin = " LEFT JOIN ip_addresses g ON g.address = v.ip";
    private const string NoLabel = "CAST(NULL AS TEXT)";

    private readonly record struct Spec(string Key, string Label, bool Enr, bool Agent, bool Geo);

    private static Spec For(CensusDimension d) => d switch
    {
        CensusDimension.Client => new("a.client", NoLabel, false, true, false),
        CensusDimension.ClientVersion => new("CASE WHEN a.client IS NULL THEN NULL ELSE a.client || '/' || COALESCE(a.version, '') END", "a.client", false, true, false),
        CensusDimension.ForkDigest => new("e.fork_digest", "CASE WHEN e.network_name IS NULL THEN e.fork_name ELSE e.network_name || '/' || COALESCE(e.fork_name, '') END", true, false, false),
        CensusDimension.ForkName => new("e.fork_name", NoLabel, true, false, false),
        CensusDimension.Network => new("e.network_name", NoLabel, true, false, false),
        CensusDimension.NextFork => new("CASE WHEN e.next_fork_version IS NULL THEN NULL ELSE e.next_fork_version || '@' || CASE WHEN e.next_fork_epoch < 0 THEN 'far_future' ELSE CAST(e.next_fork_epoch AS TEXT) END END", NoLabel, true, false, false),
        CensusDimension.Country => new("g.country", NoLabel, false, false, true),
        CensusDimension.Asn => new("CAST(g.asn AS TEXT)", "g.as_org", false, false, true),
        CensusDimension.Os => new("a.os", NoLabel, false, true, false),
        CensusDimension.Arch => new("a.arch", NoLabel, false, true, false),
        CensusDimension.IpVersion => new("CASE WHEN v.ip IS NULL THEN NULL WHEN v.ip LIKE '%:%' THEN 'ipv6' ELSE 'ipv4' END", NoLabel, false, false, false),
        CensusDimension.DialOutcome => new("v.dial_outcome", NoLabel, false, false, false),
        CensusDimension.Discovery => new("CASE WHEN v.discovery_answered IS NULL THEN NULL WHEN v.discovery_answered THEN 'answered' ELSE 'silent' END", NoLabel, false, false, false),
        CensusDimension.Cgc => new("CAST(COALESCE(v.custody_group_count, e.cgc) AS TEXT)", NoLabel, true, false, false),
        CensusDimension.Attnets => new(BitCount("COALESCE(v.metadata_attnets, e.attnets)"), NoLabel, true, false, false),
        CensusDimension.Syncnets => new(BitCount("COALESCE(v.metadata_syncnets, e.syncnets)"), NoLabel, true, false, false),
        _ => throw new ArgumentOutOfRangeException(nameof(d), d, "unknown census dimension"),
    };

    /// <summary>
    /// Bits set in a lowercase hex bitfield, as text, in SQL both providers run: every hex digit becomes as many '1's
    /// as it has bits set (each replacement only emits '1', which maps to itself), and the length is the count.
    /// </summary>
    private static string BitCount(string hex)
    {
        string s = $"REPLACE(LOWER({hex}), '0', '')";
        foreach ((char digit, int bits) in new[] { ('2', 1), ('3', 2), ('4', 1), ('5', 2), ('6', 2), ('7', 3), ('8', 1), ('9', 2), ('a', 2), ('b', 3), ('c', 2), ('d', 3), ('e', 3), ('f', 4) })
            s = $"REPLACE({s}, '{digit}', '{new string('1', bits)}')";
        return $"CAST(LENGTH({s}) AS TEXT)";
    }

    /// <summary>The stable name stored in crawl_census.dimension (snake_case of the enum name).</summary>
    public static string DimensionName(CensusDimension d) => Model.ClP2pDbContext.ToSnakeCase(d.ToString());

    private static string Joins(Spec s, bool needEnr) =>
        (s.Enr || needEnr ? EnrJoin : "") + (s.Agent ? AgentJoin : "") + (s.Geo ? GeoJoin : "");

    /// <summary>INSERT of one dimension's rows for crawl @crawl into crawl_census (parameters @crawl, @dimension).</summary>
    public static string BuildAggregateInsert(CensusDimension d)
    {
        Spec s = For(d);
        return $"""
            INSERT INTO crawl_census (crawl_id, network, dimension, key, label, count)
            SELECT @crawl, COALESCE(e.network_name, ''), @dimension, {s.Key}, MAX({s.Label}), COUNT(*)
            FROM visits v{Joins(s, true)}
            WHERE v.crawl_id = @crawl AND v.kind = 'crawl'
            GROUP BY COALESCE(e.network_name, ''), {s.Key}
            """;
    }

    /// <summary>Live census of one crawl from visits (parameters @crawl and, when filtered, @network): key, label, count.</summary>
    public static string LiveCensus(CensusDimension d, bool networkFilter)
    {
        Spec s = For(d);
        return $"""
            SELECT {s.Key}, MAX({s.Label}), COUNT(*)
            FROM visits v{Joins(s, networkFilter)}
            WHERE v.crawl_id = @crawl AND v.kind = 'crawl'{(networkFilter ? " AND e.network_name = @network" : "")}
            GROUP BY {s.Key}
            """;
    }

    /// <summary>Census of one crawl from crawl_census (parameters @crawl, @dimension[, @network]): key, label, count.</summary>
    public static string StoredCensus(bool networkFilter) => $"""
        SELECT key, MAX(label), SUM(count)
        FROM crawl_census
        WHERE crawl_id = @crawl AND dimension = @dimension{(networkFilter ? " AND network = @network" : "")}
        GROUP BY key
        """;

    /// <summary>Stored census of the built crawls started in [@from, @to) (parameters @from, @to, @dimension[, @network]): crawl_id, key, label, count.</summary>
    public static string StoredSeries(bool networkFilter, bool networkOfCrawl) => $"""
        SELECT s.crawl_id, s.key, MAX(s.label), SUM(s.count)
        FROM crawl_census s JOIN crawls c ON c.id = s.crawl_id
        WHERE c.started_at >= @from AND c.started_at < @to AND c.census_built_at IS NOT NULL AND s.dimension = @dimension{(networkFilter ? " AND s.network = @network" : "")}{(networkOfCrawl ? " AND c.network = @crawlNetwork" : "")}
        GROUP BY s.crawl_id, s.key
        """;
}
