namespace ClP2p.Storage.Tests;

/// <summary>
/// Digest names are derived at query time from table fork_digests (kept from the network registry), so rows stored
/// before a digest was known are counted on their network once it is; a node is counted on the network its Status names.
/// </summary>
public class DigestNameTests
{
    // Values of networks.json: mainnet bpo2 8c9f62fe, mainnet gloas if activated after bpo2 ce2153ed.
    private static readonly DigestNameRow[] Registry =
    [
        new("8c9f62fe", "mainnet", "bpo2", "fork"),
        new("ce2153ed", "mainnet", "gloas", "unscheduled"),
    ];

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Rows_stored_before_a_digest_was_known_are_named_and_counted_once_the_registry_names_it(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        var store = new CrawlStore(db.Options);
        long crawl = await store.StartCrawlAsync("mainnet", Samples.T0, null);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            // Node 1: fork day, its record on gloas, stored when no name was known (the old ingest left it null).
            await writer.AddEnrAsync(Samples.Enr(1, 1, forkDigest: "ce2153ed", network: null, fork: null));
            await writer.AddVisitAsync(Samples.Visit(crawl, 1) with { StatusForkDigest = Convert.FromHexString("ce2153ed"), StatusDigestSent = Convert.FromHexString("ce2153ed") });
            // Node 2: an unknown record digest, but its Status names mainnet bpo2: counted on mainnet, a digest mismatch.
            await writer.AddEnrAsync(Samples.Enr(2, 1, forkDigest: "deadbeef", network: null, fork: null));
            await writer.AddVisitAsync(Samples.Visit(crawl, 2) with { StatusForkDigest = Convert.FromHexString("8c9f62fe"), DigestMismatch = true });
            // Node 3: not dialled, record on bpo2 named at ingest.
            await writer.AddEnrAsync(Samples.Enr(3, 1, forkDigest: "8c9f62fe", network: "mainnet", fork: "bpo2"));
            await writer.AddVisitAsync(Samples.Visit(crawl, 3, outcome: "not_dialled"));
        }
        await store.FinishCrawlAsync(crawl, CrawlStates.Succeeded, new CrawlCounts(3, 3, 2, 2, 0), null);
        var census = new CensusService(db.Options);

        // Before the registry is synced, only node 3 is on mainnet (the built census of the finished crawl).
        Assert.Equal(1, (await census.GetCensusAsync(CensusDimension.Network, crawl, "mainnet"))!.Total);

        Assert.Equal(2, await StoredDataRepair.SyncDigestNamesAsync(db.Options, Registry));
        Assert.Equal(0, await StoredDataRepair.SyncDigestNamesAsync(db.Options, Registry)); // unchanged: nothing to do

        // All three are mainnet now, in the rebuilt census of the finished crawl and in node lists and exports.
        CensusResult net = (await census.GetCensusAsync(CensusDimension.Network, crawl, "mainnet"))!;
        Assert.Equal(3, net.Total);
        CensusResult forks = (await census.GetCensusAsync(CensusDimension.ForkName, crawl))!;
        Assert.Equal(1, forks.Groups.Single(g => g.Key == "gloas").Count);
        Assert.Equal("mainnet/gloas", (await census.GetCensusAsync(CensusDimension.ForkDigest, crawl))!.Groups.Single(g => g.Key == "ce2153ed").Label);
        Assert.Equal(3, (await census.ListNodesAsync(new NodeFilter { CrawlId = crawl, Network = "mainnet" }))!.Total);
        Assert.Equal(1, (await census.ListNodesAsync(new NodeFilter { CrawlId = crawl, DigestMismatch = true }))!.Total);
        var rows = await census.ExportAsync(crawl).ToListAsync();
        ExportRow gloas = rows.Single(r => r.NodeId == Convert.ToHexStringLower(Samples.NodeId(1)));
        Assert.Equal(("gloas", "mainnet", "mainnet", "ce2153ed"), ((string?)gloas["fork_name"], (string?)gloas["network_name"], (string?)gloas["status_network"], (string?)gloas["status_digest_sent"]));
        ExportRow stranger = rows.Single(r => r.NodeId == Convert.ToHexStringLower(Samples.NodeId(2)));
        Assert.Equal((null, "mainnet", true), ((string?)stranger["network_name"], (string?)stranger["status_network"], (bool?)stranger["digest_mismatch"]));

        // The digest_mismatch dimension: one true, one false (node 1's Samples default), one unknown (not dialled).
        CensusResult mismatch = (await census.GetCensusAsync(CensusDimension.DigestMismatch, crawl))!;
        Assert.Equal([("false", 1L), ("true", 1L), ((string?)null, 1L)], mismatch.Groups.Select(g => (g.Key, g.Count)).OrderBy(g => g.Key ?? "~"));
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task Stored_agents_are_parsed_again_and_client_versions_are_counted_per_client_without_the_client_name(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        var store = new CrawlStore(db.Options);
        long crawl = await store.StartCrawlAsync("mainnet", Samples.T0, null);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter()))
        {
            // As an older parser stored them: the library's version as lodestar's, and a bare nimbus.
            await writer.AddVisitAsync(Samples.Visit(crawl, 1, agent: "js-libp2p/2.8.2 UserAgent=v22.12.0", client: "lodestar", version: "v2.8.2", os: null, arch: null));
            await writer.AddVisitAsync(Samples.Visit(crawl, 2, agent: "nimbus", client: "nimbus", version: null, os: null, arch: null));
            await writer.AddVisitAsync(Samples.Visit(crawl, 3, agent: "Lighthouse/v7.1.0-abc/x86_64-linux"));
        }
        // What the crawler's parser says now (AgentParser): a library agent gives an inferred client and no version.
        AgentParts Parse(string raw) => raw switch
        {
            "js-libp2p/2.8.2 UserAgent=v22.12.0" => new AgentParts("lodestar", null, null, null, true),
            "nimbus" => new AgentParts("nimbus", null, null, null, false),
            _ => new AgentParts("lighthouse", "v7.1.0", "linux", "x86_64", false),
        };
        Assert.Equal(3, await StoredDataRepair.ReparseAgentsAsync(db.Options, Parse)); // client_inferred was null everywhere
        Assert.Equal(0, await StoredDataRepair.ReparseAgentsAsync(db.Options, Parse));
        var census = new CensusService(db.Options);
        CensusResult versions = (await census.GetCensusAsync(CensusDimension.ClientVersion, crawl))!;
        Assert.Equal([("lighthouse", "v7.1.0"), ("lodestar", null), ("nimbus", null)], versions.Groups.Select(g => (g.Label, g.Key)).OrderBy(g => g.Label));
        Assert.All(versions.Groups, g => Assert.True(g.Key is null || !g.Key.Contains('/', StringComparison.Ordinal), g.Key));
        ExportRow js = (await census.ExportAsync(crawl).ToListAsync()).Single(r => r.NodeId == Convert.ToHexStringLower(Samples.NodeId(1)));
        Assert.Equal(("lodestar", true, null), ((string?)js["client"], (bool?)js["client_inferred"], (string?)js["client_version"]));
    }
}
