namespace ClP2p.Storage.Tests;

/// <summary>
/// A seeded data set of three crawls (two finished, the newest still running) with a mix of clients, forks, networks,
/// countries, ASNs, IP families and dial outcomes. Tests compute expected counts from <see cref="Visits"/>,
/// <see cref="Enrs"/> and <see cref="Geos"/> independently of the database.
/// </summary>
public sealed class CensusSeed
{
    public static readonly (string Digest, string? Network, string? Fork, string NextVersion, ulong NextEpoch)[] Forks =
    [
        ("6a95a1a9", "mainnet", "electra", "06000000", 411_392),
        ("6a95a1a9", "mainnet", "electra", "06000000", ulong.MaxValue),
        ("f5a5fd42", "mainnet", "phase0", "00000000", ulong.MaxValue),
        ("2c6b4c4a", "hoodi", "electra", "70000910", 50_688),
        ("deadbeef", null, null, "01020304", 7),
    ];

    public static readonly (string Client, string Version, string Os, string Arch)[] Agents =
    [
        ("lighthouse", "v7.1.0", "linux", "x86_64"),
        ("lighthouse", "v7.0.1", "linux", "aarch64"),
        ("teku", "v25.6.0", "linux", "x86_64"),
        ("prysm", "v6.0.4", "linux", "x86_64"),
        ("nimbus", "v25.7.0", "windows", "x86_64"),
        ("lodestar", "v1.33.0", "macos", "aarch64"),
    ];

    public static readonly string[] Outcomes = ["ok", "ok", "ok", "io_timeout", "connection_refused", "not_dialled"];
    public static readonly (string Country, long Asn, string Org)[] Places = [("DE", 24940, "Hetzner"), ("US", 16509, "Amazon"), ("FI", 24940, "Hetzner"), ("SG", 14061, "DigitalOcean")];

    public List<long> CrawlIds { get; } = [];
    public List<DateTimeOffset> CrawlStarts { get; } = [];
    public List<VisitObservation> Visits { get; } = [];
    public List<EnrObservation> Enrs { get; } = [];
    public List<IpGeo> Geos { get; } = [];

    public static int NodesIn(int crawl) => 300 + 40 * crawl;

    public static async Task<CensusSeed> WriteAsync(StorageOptions options)
    {
        var seed = new CensusSeed();
        var store = new CrawlStore(options);
        var rng = new Random(20261125);
        await using (var writer = new ResultWriter(options, Samples.FastWriter()))
        {
            for (int k = 0; k < 3; k++)
            {
                DateTimeOffset start = Samples.T0.AddHours(6 * k);
                long crawl = await store.StartCrawlAsync(k == 2 ? "mainnet" : (k == 0 ? "mainnet" : "hoodi"), start, null);
                seed.CrawlIds.Add(crawl);
                seed.CrawlStarts.Add(start);
                for (int i = 0; i < NodesIn(k); i++)
                {
                    ulong seq = (ulong)(1 + (i % 5 == 0 ? k : 0));
                    bool eth2 = i % 11 != 0;
                    var f = Forks[rng.Next(Forks.Length)];
                    bool v6 = i % 7 == 0;
                    string ip = v6 ? $"2001:db8::{i:x}" : $"198.51.{i / 256}.{i % 256}";
                    EnrObservation enr = Samples.Enr(i, seq, start.AddSeconds(i)) with
                    {
                        ForkDigest = eth2 ? Convert.FromHexString(f.Digest) : null,
                        NetworkName = eth2 ? f.Network : null,
                        ForkName = eth2 ? f.Fork : null,
                        NextForkVersion = eth2 ? Convert.FromHexString(f.NextVersion) : null,
                        NextForkEpoch = eth2 ? f.NextEpoch : null,
                        Ip4 = v6 ? null : ip,
                        Ip6 = v6 ? ip : null,
                    };
                    string outcome = eth2 ? Outcomes[rng.Next(Outcomes.Length)] : "not_dialled";
                    var a = Agents[rng.Next(Agents.Length)];
                    VisitObservation visit = Samples.Visit(crawl, i, seq, outcome, agent: $"{a.Client}/{a.Version}/{a.Arch}-{a.Os}",
                        client: a.Client, version: a.Version, os: a.Os, arch: a.Arch, at: start.AddSeconds(i + 1), ip: ip) with
                    {
                        // every combination of answered families and inbound contact, absent values included
                        Ipv4Answered = (i % 3) switch { 0 => true, 1 => false, _ => null },
                        Ipv6Answered = (i % 5) switch { 0 => true, 1 => null, _ => false },
                        SeenInbound = (i % 4) switch { 0 => true, 1 => false, 2 => true, _ => null },
                        DiscoveryAnswered = i % 6 == 0 ? null : i % 2 == 0,
                        // a node that answered and was left short of a distance, and a silent one, carry the reason
                        DiscoveryError = i % 6 == 0 ? null : i % 2 == 1 || i % 8 == 4 ? "Timeout" : null,
                    };
                    // A node's ENR is written once per seq; the same seq seen again in a later crawl is a duplicate.
                    seed.Enrs.Add(enr);
                    await writer.AddEnrAsync(enr);
                    seed.Visits.Add(visit);
                    await writer.AddVisitAsync(visit);
                    if (k == 0 && i % 4 != 3)
                    {
                        var p = Places[i % Places.Length];
                        var geo = new IpGeo { Ip = ip, Country = p.Country, City = "c" + p.Country, Asn = p.Asn, AsOrg = p.Org, LookedUpAt = start };
                        seed.Geos.Add(geo);
                        await writer.AddGeoAsync(geo);
                    }
                }
                await writer.FlushAsync();
                if (k < 2)
                    await store.FinishCrawlAsync(crawl, CrawlStates.Succeeded, new CrawlCounts(NodesIn(k), NodesIn(k), 0, 0, 0), null);
            }
        }
        return seed;
    }

    /// <summary>The ENR row a visit joins to (node id + seq); the first one written wins, as in the database.</summary>
    public EnrObservation? EnrOf(VisitObservation v) =>
        Enrs.FirstOrDefault(e => e.NodeId.AsSpan().SequenceEqual(v.NodeId) && e.Seq == v.EnrSeq);

    public IpGeo? GeoOf(VisitObservation v) => Geos.LastOrDefault(g => g.Ip == v.Ip);

    /// <summary>The expected key of a visit in a dimension, from the seed objects.</summary>
    public string? KeyOf(CensusDimension d, VisitObservation v)
    {
        EnrObservation? e = EnrOf(v);
        IpGeo? g = GeoOf(v);
        string? Hex(byte[]? b) => b is null ? null : Convert.ToHexStringLower(b);
        return d switch
        {
            CensusDimension.Client => v.AgentVersion is null ? null : v.Client,
            CensusDimension.ClientVersion => v.AgentVersion is null ? null : v.Client + "/" + (v.ClientVersion ?? "<null>"),
            CensusDimension.ForkDigest => Hex(e?.ForkDigest),
            CensusDimension.ForkName => e?.ForkName,
            CensusDimension.Network => e?.NetworkName,
            CensusDimension.NextFork => e?.NextForkVersion is null ? null
                : Hex(e.NextForkVersion) + "@" + (e.NextForkEpoch == ulong.MaxValue ? "far_future" : e.NextForkEpoch!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            CensusDimension.Country => g?.Country,
            CensusDimension.Asn => g?.Asn?.ToString(System.Globalization.CultureInfo.InvariantCulture),
            CensusDimension.Os => v.AgentVersion is null ? null : v.Os,
            CensusDimension.Arch => v.AgentVersion is null ? null : v.Arch,
            CensusDimension.IpVersion => v.Ip is null ? null : v.Ip.Contains(':', StringComparison.Ordinal) ? "ipv6" : "ipv4",
            CensusDimension.DialOutcome => v.DialOutcome,
            CensusDimension.DigestMismatch => v.DigestMismatch is { } m ? (m ? "true" : "false") : null,
            CensusDimension.Discovery => v.DiscoveryAnswered is { } a ? (!a ? "silent" : string.IsNullOrEmpty(v.DiscoveryError) ? "answered" : "incomplete") : null,
            CensusDimension.Cgc => (v.CustodyGroupCount ?? e?.Cgc)?.ToString(System.Globalization.CultureInfo.InvariantCulture),
            CensusDimension.Attnets => BitsSet(v.MetadataAttnets ?? e?.Attnets),
            CensusDimension.Syncnets => BitsSet(v.MetadataSyncnets ?? e?.Syncnets),
            // Computed from the network's genesis clock at query time; this census has no clocks, so no node is classed.
            CensusDimension.Reachability => v.DialOutcome == "ok" ? "dialable" : v.DiscoveryAnswered == true ? "discovery_only" : v.SeenInbound == true ? "inbound_only" : "unreachable",
            CensusDimension.SeenInbound => v.SeenInbound is { } s ? (s ? "true" : "false") : null,
            CensusDimension.IpFamily => Family(v),
            CensusDimension.IpFamilyByClient => Family(v) is { } fam ? (v.AgentVersion is null ? "unknown" : v.Client ?? "unknown") + "/" + fam : null,
            CensusDimension.SyncHealth or CensusDimension.FinalizedLag => null,
            _ => throw new ArgumentOutOfRangeException(nameof(d)),
        };
    }

    private static string? Family(VisitObservation v) =>
        v.Ipv4Answered == true && v.Ipv6Answered == true ? "dual_stack" : v.Ipv4Answered == true ? "ipv4_only" : v.Ipv6Answered == true ? "ipv6_only" : null;

    private static string? BitsSet(byte[]? bits) =>
        bits is null ? null : bits.Sum(b => System.Numerics.BitOperations.PopCount(b)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Expected (key → count) of a crawl's visits, optionally only those whose ENR network is <paramref name="network"/>.</summary>
    public Dictionary<string, long> Expected(CensusDimension d, long crawlId, string? network = null) =>
        Visits.Where(v => v.CrawlId == crawlId && (network is null || EnrOf(v)?.NetworkName == network))
            .GroupBy(v => KeyOf(d, v) ?? "<null>")
            .ToDictionary(g => g.Key, g => (long)g.Count());

    /// <summary>(key → count) of a census; client versions are keyed "client/version" (the version is counted per client).</summary>
    public static Dictionary<string, long> Actual(IEnumerable<CensusGroup> groups, CensusDimension d = CensusDimension.Client) =>
        groups.ToDictionary(g => d == CensusDimension.ClientVersion && g.Label is not null ? g.Label + "/" + (g.Key ?? "<null>") : g.Key ?? "<null>", g => g.Count);
}
