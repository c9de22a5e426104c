using System.Text.Json;
using ClP2p.Eth2.Networks;

namespace ClP2p.Eth2.Tests;

public class ForkDigestTests
{
    [Fact]
    public void ForkDataRoot_matches_consensus_spec_tests_ssz_static_vector()
    {
        var root = ForkDigests.ComputeForkDataRoot(
            ForkVersion.Parse("17f4eeae"),
            Root.Parse("822cc81533016678413443b95e34517e67f12b4a3a92ff6b66f972ef58e809c7"));
        Assert.Equal("edb190b2807086619508b7082ad4b8537b6378a6f08cc31dc75d412c9c442acf", root.ToString());
        Assert.Equal("edb190b2", ForkDigests.Compute(ForkVersion.Parse("17f4eeae"),
            Root.Parse("822cc81533016678413443b95e34517e67f12b4a3a92ff6b66f972ef58e809c7")).ToString());
    }

    public static TheoryData<ulong, string, byte, string> FuluVectors => new()
    {
        { 9, "06000000", 0x00, "ab3ae6c8" }, { 10, "06000000", 0x00, "ab3ae6c8" }, { 11, "06000000", 0x00, "ab3ae6c8" },
        { 99, "06000000", 0x00, "ab3ae6c8" }, { 100, "06000000", 0x00, "df67557b" }, { 101, "06000000", 0x00, "df67557b" },
        { 150, "06000000", 0x00, "8ab38b59" }, { 199, "06000000", 0x00, "8ab38b59" }, { 200, "06000000", 0x00, "d9b81438" },
        { 201, "06000000", 0x00, "d9b81438" }, { 250, "06000000", 0x00, "4ef32a62" }, { 299, "06000000", 0x00, "4ef32a62" },
        { 300, "06000000", 0x00, "ca100d64" }, { 301, "06000000", 0x00, "ca100d64" }, { 9, "06000000", 0x01, "89671111" },
        { 9, "06000000", 0x02, "f49b0e24" }, { 9, "06000000", 0x03, "86544e4f" }, { 100, "06000000", 0x01, "fd3aa2a2" },
        { 100, "06000000", 0x02, "80c6bd97" }, { 100, "06000000", 0x03, "f209fdfc" }, { 9, "06000001", 0x00, "30f8c25b" },
        { 9, "07000000", 0x00, "0432f5a9" }, { 9, "07000001", 0x00, "6e69a671" }, { 100, "06000001", 0x00, "44a571e8" },
        { 100, "07000000", 0x00, "706f461a" }, { 100, "07000001", 0x00, "1a3415c2" },
    };

    [Theory]
    [MemberData(nameof(FuluVectors))]
    public void Fulu_compute_fork_digest_matches_the_26_consensus_specs_vectors(ulong epoch, string version, byte gvrByte, string expected)
    {
        BlobParameters[] schedule = [new(9, 9), new(100, 100), new(150, 175), new(200, 200), new(250, 275), new(300, 300)];
        var gvr = Root.Read(Enumerable.Repeat(gvrByte, 32).ToArray());
        var bp = ForkDigests.GetBlobParameters(schedule, epoch, electraForkEpoch: 0, maxBlobsPerBlockElectra: 9);
        Assert.Equal(expected, ForkDigests.Compute(ForkVersion.Parse(version), gvr, bp).ToString());
    }

    [Fact]
    public void Every_fork_digest_in_networks_json_is_reproduced_by_the_registry()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.SpecFile("networks.json")));
        int checkedCount = 0;
        foreach (var net in doc.RootElement.GetProperty("networks").EnumerateObject())
        {
            var network = NetworkRegistry.Builtin.Get(net.Name);
            Assert.Equal(net.Value.GetProperty("pre_genesis_fork_digest").GetString()![2..], network.PreGenesisDigest.ToString());
            foreach (var f in net.Value.GetProperty("forks").EnumerateArray())
            {
                if (!f.TryGetProperty("fork_digest", out var digest)) continue;
                var name = f.GetProperty("name").GetString();
                var fork = Assert.Single(network.Forks, x => x.Name == name);
                Assert.Equal(digest.GetString()![2..], fork.Digest?.ToString());
                Assert.Equal(f.GetProperty("epoch").GetUInt64(), fork.Epoch);
                checkedCount++;
            }
            // The ENR eth2 and nfd values for every period (fulu/p2p-interface.md "eth2 field", "nfd").
            foreach (var p in net.Value.GetProperty("periods").EnumerateArray())
            {
                ulong from = p.GetProperty("from_epoch").GetUInt64();
                Assert.Equal(p.GetProperty("fork_digest").GetString()![2..], network.ComputeForkDigest(from).ToString());
                var enr = p.GetProperty("enr_eth2");
                Assert.Equal(enr.GetProperty("ssz").GetString()![2..], Convert.ToHexStringLower(network.GetEnrForkId(from).ToArray()));
                var nfd = p.GetProperty("enr_nfd").GetString()!;
                if (nfd.StartsWith("0x", StringComparison.Ordinal)) Assert.Equal(nfd[2..], network.GetNextForkDigest(from).ToString());
            }
        }
        Assert.Equal(52, checkedCount); // 9 mainnet + 10 sepolia + 9 holesky + 10 hoodi + 7 gnosis + 7 chiado
    }

    [Theory]
    [InlineData("mainnet", "phase0", "b5303f2a")]
    [InlineData("mainnet", "deneb", "6a95a1a9")]
    [InlineData("mainnet", "electra", "ad532ceb")]
    [InlineData("mainnet", "fulu", "cc2c5cdb")]
    [InlineData("mainnet", "bpo1", "cb0d1acc")]
    [InlineData("mainnet", "bpo2", "8c9f62fe")]
    [InlineData("sepolia", "bpo2", "74d01459")]
    [InlineData("sepolia", "gloas", "669e6c11")]
    [InlineData("holesky", "bpo2", "32db3f09")]
    [InlineData("hoodi", "bpo2", "c6ecb76c")]
    [InlineData("hoodi", "phase0", "5df5c106")]
    [InlineData("gnosis", "electra", "7d5aab40")]
    [InlineData("gnosis", "fulu", "3237dab6")]
    [InlineData("chiado", "fulu", "25f9148e")]
    public void TryNameDigest_names_fork_digests_of_all_networks(string network, string fork, string digest)
    {
        Assert.True(NetworkRegistry.Builtin.TryNameDigest(ForkDigest.Parse(digest), out var name));
        Assert.Equal(network, name.Network);
        Assert.Equal(fork, name.Fork);
        Assert.True(name.IsLiveNetwork);
        Assert.True(NetworkRegistry.Builtin.TryNameDigest(ForkDigest.Parse(digest), out string n2, out string f2));
        Assert.Equal((network, fork), (n2, f2));
    }

    [Theory]
    [InlineData("f5a5fd42", "mainnet")]
    [InlineData("d3010778", "sepolia")]
    [InlineData("f925ddc5", "gnosis")]
    public void Pre_genesis_digests_are_named_stale_and_never_a_network(string digest, string network)
    {
        var d = ForkDigest.Parse(digest);
        Assert.True(NetworkRegistry.Builtin.TryNameDigest(d, out var name));
        Assert.Equal(DigestKind.PreGenesis, name.Kind);
        Assert.Equal(network, name.Network);
        Assert.Equal(DigestName.PreGenesisFork, name.Fork);
        Assert.False(name.IsLiveNetwork);
        Assert.False(NetworkRegistry.Builtin.TryGetNetworkByDigest(d, out _));
    }

    [Fact]
    public void Classify_says_current_past_future_pre_genesis_and_unknown()
    {
        var now = DateTimeOffset.Parse("2026-11-25T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var reg = NetworkRegistry.Builtin;
        Assert.Equal(DigestAge.Current, reg.Classify(ForkDigest.Parse("8c9f62fe"), now).Age);
        Assert.Equal(DigestAge.Past, reg.Classify(ForkDigest.Parse("b5303f2a"), now).Age);
        Assert.Equal(DigestAge.Past, reg.Classify(ForkDigest.Parse("cb0d1acc"), now).Age);
        Assert.Equal(DigestAge.PreGenesis, reg.Classify(ForkDigest.Parse("f5a5fd42"), now).Age);
        Assert.Equal(DigestAge.NeverActive, reg.Classify(ForkDigest.Parse("5df5c106"), now).Age); // hoodi phase0
        Assert.Equal(DigestAge.Unknown, reg.Classify(ForkDigest.Parse("deadbeef"), now).Age);
        var beforeBpo2 = reg.Get("mainnet").GenesisTimeUtc.AddSeconds(419071L * 32 * 12);
        Assert.Equal(DigestAge.Future, reg.Classify(ForkDigest.Parse("8c9f62fe"), beforeBpo2).Age);
        Assert.Equal(DigestAge.Current, reg.Classify(ForkDigest.Parse("cb0d1acc"), beforeBpo2).Age);
    }

    [Fact]
    public void Unknown_digest_stays_unnamed()
    {
        Assert.False(NetworkRegistry.Builtin.TryNameDigest(ForkDigest.Parse("0xdeadbeef"), out _));
        Assert.Equal("deadbeef", ForkDigest.Parse("0xDEADBEEF").ToString());
    }

    [Fact]
    public void Gnosis_stale_bare_fulu_root_digest_is_not_named()
    {
        // networks.json: gnosis dbt models list f9ab5f85 = fork_data_root[:4] without the BPO xor (stale, pre-EIP-7892).
        Assert.False(NetworkRegistry.Builtin.TryNameDigest(ForkDigest.Parse("f9ab5f85"), out _));
    }

    [Fact]
    public void Current_fork_digest_and_slot_follow_the_wall_clock()
    {
        var mainnet = NetworkRegistry.Builtin.Get("mainnet");
        Assert.Equal(12UL, mainnet.SecondsPerSlot);
        Assert.Equal(32UL, mainnet.SlotsPerEpoch);
        Assert.Equal("4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95", mainnet.GenesisValidatorsRoot.ToString());
        var t = DateTimeOffset.Parse("2026-11-25T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        ulong expectedSlot = (ulong)(t.ToUnixTimeSeconds() - 1606824023) / 12;
        Assert.Equal(expectedSlot, mainnet.GetSlot(t));
        Assert.Equal("bpo2", mainnet.GetCurrentFork(t).Name);
        Assert.Equal("8c9f62fe", mainnet.GetCurrentDigest(t).ToString());
        // One second before BPO2 (epoch 419072) the digest is BPO1's.
        var bpo2Start = mainnet.GenesisTimeUtc.AddSeconds(419072 * 32 * 12);
        Assert.Equal("cb0d1acc", mainnet.GetCurrentDigest(bpo2Start.AddSeconds(-1)).ToString());
        Assert.Equal("8c9f62fe", mainnet.GetCurrentDigest(bpo2Start).ToString());
        Assert.Equal(0UL, mainnet.GetSlot(mainnet.GenesisTimeUtc.AddDays(-1)));
        var gnosis = NetworkRegistry.Builtin.Get("gnosis");
        Assert.Equal((5UL, 16UL), (gnosis.SecondsPerSlot, gnosis.SlotsPerEpoch));
    }

    [Fact]
    public void Hoodi_genesis_forks_at_epoch_zero_resolve_to_deneb()
    {
        var hoodi = NetworkRegistry.Builtin.Get("hoodi");
        Assert.Equal("deneb", hoodi.GetForkAt(0).Name);
        Assert.Equal("d2f1997f", hoodi.ComputeForkDigest(0).ToString());
        Assert.True(hoodi.Forks.Single(f => f.Name == "phase0").NeverActive);
    }

    [Fact]
    public void Builtin_networks_carry_bootnodes_and_unscheduled_forks_have_the_digest_they_will_have()
    {
        foreach (var name in NetworkRegistry.BuiltinNames)
        {
            var n = NetworkRegistry.Builtin.Get(name);
            Assert.NotEmpty(n.Bootnodes);
            Assert.All(n.Bootnodes, b => Assert.StartsWith("enr:", b, StringComparison.Ordinal));
        }
        var gloas = NetworkRegistry.Builtin.Get("mainnet").Forks.Single(f => f.Name == "gloas");
        Assert.False(gloas.IsScheduled);
        // networks.json: "fork_digest_if_activated_after_last_bpo": "0xce2153ed".
        Assert.Equal("ce2153ed", gloas.Digest.ToString());
        Assert.True(NetworkRegistry.Builtin.Get("sepolia").Forks.Single(f => f.Name == "gloas").Unverified);
    }

    [Fact]
    public void Custom_network_from_sepolia_config_yaml_reproduces_the_builtin_digests()
    {
        var config = ConsensusConfig.Parse(File.ReadAllText(TestPaths.SpecFile("networks/sepolia/config.yaml")));
        var sepolia = NetworkRegistry.Builtin.Get("sepolia");
        var custom = config.ToNetwork(sepolia.GenesisValidatorsRoot, name: "my-sepolia");
        Assert.Equal("my-sepolia", custom.Name);
        Assert.Equal(sepolia.GenesisTime, custom.GenesisTime); // MIN_GENESIS_TIME + GENESIS_DELAY
        var expected = sepolia.Forks.Where(f => f.Digest is not null).Select(f => (f.Name, f.Digest)).ToArray();
        var actual = custom.Forks.Where(f => f.Digest is not null).Select(f => (f.Name, f.Digest)).ToArray();
        Assert.Equal(expected, actual);

        var registry = NetworkRegistry.Builtin.With(config.ToNetwork(Root.Parse("0x" + new string('1', 64)), name: "devnet"));
        Assert.Equal(7, registry.Networks.Count);
        var devnetDigest = registry.Get("devnet").ComputeForkDigest(0);
        Assert.True(registry.TryNameDigest(devnetDigest, out var dn));
        Assert.Equal(("devnet", "phase0"), (dn.Network, dn.Fork));
    }

    [Fact]
    public void Config_yaml_parser_handles_comments_quotes_and_flow_empty_lists()
    {
        const string yaml = """
            # comment
            PRESET_BASE: 'minimal'
            CONFIG_NAME: "kurtosis" # trailing comment
            GENESIS_FORK_VERSION: 0x10000038
            MIN_GENESIS_TIME: 1700000000
            GENESIS_DELAY: 60
            ALTAIR_FORK_VERSION: 0x20000038
            ALTAIR_FORK_EPOCH: 0
            FULU_FORK_VERSION: 0x70000038
            FULU_FORK_EPOCH: 10
            ELECTRA_FORK_VERSION: 0x60000038
            ELECTRA_FORK_EPOCH: 5
            SECONDS_PER_SLOT: 6
            BLOB_SCHEDULE: []
            """;
        var net = ConsensusConfig.Parse(yaml).ToNetwork(Root.Zero);
        Assert.Equal("kurtosis", net.Name);
        Assert.Equal((6UL, 8UL), (net.SecondsPerSlot, net.SlotsPerEpoch));
        Assert.Equal(1700000060UL, net.GenesisTime);
        Assert.Equal("altair", net.GetForkAt(0).Name);
        Assert.Equal("fulu", net.GetForkAt(10).Name);
        // Fulu digest with an empty schedule uses (ELECTRA_FORK_EPOCH, MAX_BLOBS_PER_BLOCK_ELECTRA default 9).
        Assert.Equal(ForkDigests.Compute(ForkVersion.Parse("70000038"), Root.Zero, new BlobParameters(5, 9)), net.ComputeForkDigest(10));
    }

    [Theory]
    [InlineData("GENESIS_FORK_VERSION 0x00")]
    [InlineData("  - EPOCH: 1")]
    public void Config_yaml_parser_rejects_malformed_lines(string yaml)
    {
        Assert.False(ConsensusConfig.TryParse(yaml, out _, out var error));
        Assert.NotEmpty(error);
    }
}
