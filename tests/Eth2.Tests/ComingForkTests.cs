using System.Text.Json;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.Ssz;

namespace ClP2p.Eth2.Tests;

/// <summary>Digests of coming forks, network data provenance, and the ENR and Goodbye edge cases real clients produce.</summary>
public class ComingForkTests
{
    private static JsonElement Networks()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.SpecFile("networks.json")));
        return doc.RootElement.GetProperty("networks").Clone();
    }

    [Fact]
    public void Every_digest_in_networks_json_is_named_including_unscheduled_forks()
    {
        // Every fork_digest of every fork period, every "if activated" digest of an unscheduled fork and every
        // pre-genesis digest of networks.json names its network; the unscheduled ones as such.
        int unscheduled = 0;
        foreach (var net in Networks().EnumerateObject())
        {
            foreach (var f in net.Value.GetProperty("forks").EnumerateArray())
            {
                string fork = f.GetProperty("name").GetString()!;
                bool coming = f.TryGetProperty("fork_digest_if_activated_after_last_bpo", out var ifActivated);
                string hex = (coming ? ifActivated : f.GetProperty("fork_digest")).GetString()!;
                Assert.True(NetworkRegistry.Builtin.TryNameDigest(ForkDigest.Parse(hex), out DigestName name), $"{net.Name}/{fork} {hex}");
                Assert.Equal(net.Name, name.Network);
                if (f.GetProperty("status").GetString()!.StartsWith("never active", StringComparison.Ordinal)) continue;
                Assert.Equal(fork, name.Fork);
                Assert.Equal(coming ? DigestKind.Unscheduled : DigestKind.Fork, name.Kind);
                if (coming) unscheduled++;
            }
            var pre = ForkDigest.Parse(net.Value.GetProperty("pre_genesis_fork_digest").GetString()!);
            Assert.True(NetworkRegistry.Builtin.TryNameDigest(pre, out DigestName p));
            Assert.Equal((net.Name, DigestKind.PreGenesis), (p.Network, p.Kind));
        }
        Assert.True(unscheduled >= 1, "mainnet's gloas is unscheduled in networks.json");
    }

    [Fact]
    public void On_the_day_mainnet_forks_to_gloas_its_digest_names_mainnet()
    {
        // The day Gloas activates after BPO2, nodes carry ce2153ed: a live mainnet digest, classified as coming.
        var digest = ForkDigest.Parse("ce2153ed");
        Assert.True(NetworkRegistry.Builtin.TryGetNetworkByDigest(digest, out var network));
        Assert.Equal("mainnet", network.Name);
        Assert.Equal((DigestAge.Future, "gloas"), (NetworkRegistry.Builtin.Classify(digest, DateTimeOffset.Parse("2026-12-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture)).Age,
            NetworkRegistry.Builtin.Classify(digest, DateTimeOffset.UnixEpoch).Name!.Value.Fork));
        Assert.Contains(NetworkRegistry.Builtin.DigestNames, d => d.Digest == digest && d.Name.KindName == "unscheduled");
    }

    [Fact]
    public void Nfd_values_nodes_advertise_are_named()
    {
        // Before BPO2, Fulu-ready mainnet nodes advertised nfd = bpo2's digest; Sepolia nodes before Gloas its digest.
        var mainnet = NetworkRegistry.Builtin.Get("mainnet");
        var bpo1 = mainnet.Forks.Single(f => f.Name == "bpo1");
        ForkDigest nfd = mainnet.GetNextForkDigest(bpo1.Epoch);
        Assert.Equal("8c9f62fe", nfd.ToString());
        Assert.True(NetworkRegistry.Builtin.TryNameDigest(nfd, out DigestName n));
        Assert.Equal("mainnet/bpo2", n.ToString());
        var sepolia = NetworkRegistry.Builtin.Get("sepolia");
        ForkDigest sepoliaNfd = sepolia.GetNextForkDigest(sepolia.Forks.Single(f => f.Name == "bpo2").Epoch);
        Assert.True(NetworkRegistry.Builtin.TryNameDigest(sepoliaNfd, out DigestName g));
        Assert.Equal("sepolia/gloas", g.ToString());
    }

    [Fact]
    public void Fork_schedules_carry_their_sources_and_whether_they_are_verified()
    {
        var json = Networks();
        foreach (var name in NetworkRegistry.BuiltinNames)
        {
            var n = NetworkRegistry.Builtin.Get(name);
            foreach (var p in json.GetProperty(name).GetProperty("sources").EnumerateObject())
                Assert.Equal(p.Value.GetString(), n.Sources[p.Name]);
        }
        // Hoodi's Gloas epoch comes from one client config only (networks.json sources.gloas): not verified.
        var hoodi = NetworkRegistry.Builtin.Get("hoodi");
        Assert.False(hoodi.Forks.Single(f => f.Name == "gloas").Verified);
        Assert.False(hoodi.Verified);
        Assert.True(hoodi.Forks.Single(f => f.Name == "fulu").Verified);
        Assert.True(NetworkRegistry.Builtin.Get("mainnet").Verified);
    }

    [Fact]
    public void Holesky_is_retired_but_still_names_old_data()
    {
        var holesky = NetworkRegistry.Builtin.Get("holesky");
        Assert.NotNull(holesky.Retired);
        Assert.All(NetworkRegistry.BuiltinNames.Where(n => n != "holesky"), n => Assert.Null(NetworkRegistry.Builtin.Get(n).Retired));
        Assert.True(NetworkRegistry.Builtin.TryNameDigest(ForkDigest.Parse("32db3f09"), out DigestName bpo2));
        Assert.Equal("holesky/bpo2", bpo2.ToString());
    }

    [Theory]
    [InlineData("00", 0UL)] // Nimbus writes cgc 0 as one zero byte
    [InlineData("", 0UL)]
    [InlineData("80", 128UL)]
    [InlineData("0100", 256UL)] // decodes, but is out of range
    public void Cgc_decodes_nimbus_zero_and_out_of_range_counts(string hex, ulong expected)
    {
        Assert.True(Eth2EnrFields.TryParseCustodyGroupCount(Convert.FromHexString(hex), out var cgc, out var e));
        Assert.Equal((expected, EnrFieldError.None), (cgc, e));
        Assert.Equal(expected <= 128, Eth2EnrFields.IsCustodyGroupCountInRange(cgc));
    }

    [Fact]
    public void Absent_cgc_and_nfd_are_null_and_not_malformed()
    {
        var info = Eth2EnrInfo.From(Lookup(Eth2EnrFields.Eth2Key, Convert.FromHexString("8c9f62fe06000000ffffffffffffffff")));
        Assert.Null(info.CustodyGroupCount);
        Assert.Null(info.NextForkDigest);
        Assert.Empty(info.Errors);
        // A single zero byte (Nimbus) is 0 and not an error; a zero-padded count is.
        var nimbus = Eth2EnrInfo.From(Lookup(Eth2EnrFields.CustodyGroupCountKey, [0]));
        Assert.Equal((0UL, 0), (nimbus.CustodyGroupCount!.Value, nimbus.Errors.Count));
        var padded = Eth2EnrInfo.From(Lookup(Eth2EnrFields.CustodyGroupCountKey, [0, 4]));
        Assert.Equal(EnrFieldError.NotMinimal, padded.Errors[Eth2EnrFields.CustodyGroupCountKey]);
    }

    private static EnrValueLookup Lookup(string only, byte[] value) => (string key, out ReadOnlyMemory<byte> v) =>
    {
        v = key == only ? value : default;
        return key == only;
    };

    [Theory]
    [InlineData(2UL, "irrelevant_network")]
    [InlineData(128UL, "unable_to_verify_network")]
    [InlineData(129UL, "too_many_peers")]
    [InlineData(130UL, "rate_limiting")]
    [InlineData(237UL, "peer_score_low")]
    [InlineData(250UL, "bad_score")]
    [InlineData(251UL, "banned")]
    [InlineData(252UL, "banned_ip")]
    [InlineData(77UL, "unknown")]
    public void Goodbye_codes_clients_send_have_names(ulong code, string name) => Assert.Equal(name, GoodbyeReasons.Describe(code));
}
