using System.Net;
using System.Text.Json;
using ClP2p.Api.Readiness;
using ClP2p.Eth2.Networks;
using ClP2p.Storage;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace ClP2p.Api.Tests;

/// <summary>
/// Readiness of a custom network (crawled with --config-yaml): its fork schedule comes from the config the crawl stored
/// in its parameters, over SQLite.
/// </summary>
public sealed class CustomNetworkReadinessTests : IAsyncLifetime
{
    private const string Name = "uiperf-devnet";
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private const string ConfigYaml = """
        # a devnet: everything up to electra at genesis, fulu scheduled
        CONFIG_NAME: 'uiperf-devnet'
        PRESET_BASE: 'mainnet'
        GENESIS_FORK_VERSION: 0x10000038
        ALTAIR_FORK_VERSION: 0x20000038
        ALTAIR_FORK_EPOCH: 0
        BELLATRIX_FORK_VERSION: 0x30000038
        BELLATRIX_FORK_EPOCH: 0
        CAPELLA_FORK_VERSION: 0x40000038
        CAPELLA_FORK_EPOCH: 0
        DENEB_FORK_VERSION: 0x50000038
        DENEB_FORK_EPOCH: 0
        ELECTRA_FORK_VERSION: 0x60000038
        ELECTRA_FORK_EPOCH: 0
        FULU_FORK_VERSION: 0x70000038
        FULU_FORK_EPOCH: 5000
        SECONDS_PER_SLOT: 12
        """;

    private static readonly Root Gvr = Root.Parse("0x" + new string('7', 64));
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "clp2p-custom-readiness-" + Guid.NewGuid().ToString("N")[..8]);
    private WebApplicationFactory<Program> _factory = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        string db = "sqlite:" + Path.Combine(_dir, "clp2p.db");
        Assert.True(StorageOptions.TryParse(db, _dir, out var storage, out string? error), error);
        await StorageMigrator.MigrateAsync(storage!);
        Eth2Network net = ConsensusConfig.Parse(ConfigYaml).ToNetwork(Gvr, (ulong)T0.AddDays(-1).ToUnixTimeSeconds(), name: Name);
        byte[] Digest(string fork) => Convert.FromHexString(net.Forks.Single(f => f.Name == fork).Digest!.Value.ToString());
        string parameters = JsonSerializer.Serialize(new
        {
            network = "custom", network_name = Name, genesis_time = net.GenesisTime, seconds_per_slot = net.SecondsPerSlot, slots_per_epoch = net.SlotsPerEpoch,
            genesis_validators_root = Gvr.ToString(), config_yaml = ConfigYaml,
        });
        var crawls = new CrawlStore(storage!);
        long crawl = await crawls.StartCrawlAsync("custom", T0, parameters);
        // node 1: already on fulu's digest; 2 and 3: electra announcing fulu as next fork; 4: electra, nothing announced
        (int Node, string Fork, bool Next)[] nodes = [(1, "fulu", false), (2, "electra", true), (3, "electra", true), (4, "electra", false)];
        await using (var writer = new ResultWriter(storage!))
        {
            foreach ((int n, string fork, bool next) in nodes)
            {
                byte[] id = ApiFixture.NodeId(n);
                await writer.AddEnrAsync(new EnrObservation
                {
                    NodeId = id, Seq = 1, Raw = [0xf8, (byte)n, .. id], SeenAt = T0, Ip4 = "1.2.3." + n, Udp = 9000, Tcp = 9000,
                    ForkDigest = Digest(fork), ForkName = fork, NetworkName = Name,
                    NextForkVersion = next ? [0x70, 0, 0, 0x38] : [0x60, 0, 0, 0x38], NextForkEpoch = next ? 5000UL : ulong.MaxValue,
                });
                await writer.AddVisitAsync(new VisitObservation
                {
                    CrawlId = crawl, NodeId = id, VisitedAt = T0.AddSeconds(n), EnrSeq = 1, Ip = "1.2.3." + n, DiscoveryAnswered = true, DialOutcome = "ok",
                    AgentVersion = "lighthouse/v8.0.0/x86_64-linux", Client = "lighthouse", ClientVersion = "v8.0.0", Os = "linux", Arch = "x86_64",
                });
            }
        }
        await crawls.FinishCrawlAsync(crawl, CrawlStates.Succeeded, new CrawlCounts(4, 4, 4, 4, 0), "{}");
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseSetting("db", db));
    }

    [Fact]
    public async Task Readiness_of_a_custom_network_uses_the_schedule_its_crawl_stored()
    {
        using var client = _factory.CreateClient();
        var resp = await client.GetAsync($"/api/v1/networks/{Name}/readiness?fork=fulu");
        string body = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.StatusCode == HttpStatusCode.OK, body);
        var r = JsonDocument.Parse(body).RootElement;
        Assert.Equal(Name, r.GetProperty("network").GetString());
        Assert.Equal("fulu", r.GetProperty("fork").GetProperty("name").GetString());
        Assert.Equal(5000UL, r.GetProperty("fork").GetProperty("epoch").GetUInt64());
        Assert.Equal(4, r.GetProperty("nodes").GetInt64());
        Assert.Equal(3, r.GetProperty("announcing").GetInt64());   // nodes 1 (digest), 2 and 3 (next fork)

        var unknown = await client.GetAsync("/api/v1/networks/atlantis/readiness");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("--config-yaml", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_crawl_without_a_config_names_no_network()
    {
        Assert.Null(CrawledNetworks.FromCrawlParameters("""{"network":"mainnet","network_name":"mainnet","genesis_time":1606824023}"""));
        Assert.Null(CrawledNetworks.FromCrawlParameters("""{"network_name":"x","config_yaml":"GENESIS_FORK_VERSION: nope","genesis_validators_root":"0x00"}"""));
        Assert.Null(CrawledNetworks.FromCrawlParameters("not json"));
    }

    public async Task DisposeAsync()
    {
        await _factory.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { /* a file still open: left in the temp directory */ }
    }
}
