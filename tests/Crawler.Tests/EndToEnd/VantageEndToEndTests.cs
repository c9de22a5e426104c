using System.Text.Json;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>
/// Two vantage points over one partitioned JavaScript testnet (testnet.mjs --partition): vantage "a" crawls into
/// PostgreSQL, vantage "b" into its own SQLite file, exports it as Parquet, and `clp2p import` brings it into the
/// PostgreSQL database; `clp2p census --merged` then counts each node once, with coverage and overlap exactly as the
/// testnet built them, and an estimate whose interval holds the true size (hidden nodes included).
/// </summary>
public sealed class VantageEndToEndTests : IDisposable
{
    // 8 nodes only "a" reaches, 8 only "b", 8 both reach, 8 nobody knows: n1 = n2 = 16, m = 8, true size 32.
    private const int OnlyA = 8, OnlyB = 8, Both = 8, Hidden = 8;
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-vantage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<string> RunAsync(params string[] args)
    {
        using var p = Clp2pProcess.Start(_dir, args);
        int code = await p.WaitAsync(HangGuard);
        Assert.True(code == 0, $"clp2p {string.Join(' ', args.Take(1))} exited {code}:\n{p.Output}");
        return p.Output;
    }

    [Fact]
    public async Task Two_vantages_merged_count_each_node_once_with_exact_coverage_and_an_interval_holding_the_true_size()
    {
        await using var net = await Testnet.StartPartitionedAsync(OnlyA, OnlyB, Both, Hidden);
        await using var pg = await PgDatabase.CreateAsync();
        // Both vantages crawl under one node key: the JS nodes remember every crawler node that contacted them, and under
        // another key vantage b would find vantage a's (dead) crawler node in the shared nodes' tables.
        string key = Convert.ToHexStringLower(ClP2p.Crawler.Config.NodeKeyStore.Generate());
        string[] Crawl(string vantage, string db)
        {
            string data = Path.Combine(_dir, "data-" + vantage);
            Directory.CreateDirectory(data);
            File.WriteAllText(Path.Combine(data, ClP2p.Crawler.Config.NodeKeyStore.FileName), key);
            return ["crawl", "--network", "custom", "--bootnode", net.Bootnodes[vantage], "--allow-loopback", "--listen-address", "127.0.0.1",
                "--data-dir", data, "--db", db, "--vantage", vantage, "--max-duration", "150s"];
        }

        await RunAsync(Crawl("a", pg.ConnectionString));
        string sqliteB = Path.Combine(_dir, "b.db");
        await RunAsync(Crawl("b", "sqlite:" + sqliteB));
        string parquet = Path.Combine(_dir, "b.parquet");
        await RunAsync("export", "--db", "sqlite:" + sqliteB, "--crawl", "latest", "--format", "parquet", "--out", parquet);
        string imported = await RunAsync("import", parquet, "--db", pg.ConnectionString);
        Assert.Contains($"imported crawl 1 of vantage b as crawl 2: {OnlyB + Both} nodes", imported, StringComparison.Ordinal);
        string again = await RunAsync("import", parquet, "--db", pg.ConnectionString);
        Assert.Contains("was imported before, as crawl 2: skipped", again, StringComparison.Ordinal);

        // what each vantage saw, node by node, against the testnet's own truth
        var truth = net.Nodes.ToDictionary(n => n.NodeId, n => n.Group!, StringComparer.Ordinal);
        await using (var db = pg.Open())
        {
            Assert.Equal(2, await Sql.ScalarAsync(db, "SELECT count(*) FROM crawls"));
            var seen = await Sql.RowsAsync(db, "SELECT c.vantage, v.node_id FROM visits v JOIN crawls c ON c.id = v.crawl_id");
            var byVantage = seen.GroupBy(r => (string)r["vantage"]!)
                .ToDictionary(g => g.Key, g => g.Select(r => Convert.ToHexStringLower((byte[])r["node_id"]!)).ToHashSet(StringComparer.Ordinal));
            Assert.Equal(truth.Where(t => t.Value is "a" or "ab").Select(t => t.Key).Order(), byVantage["a"].Order());
            Assert.Equal(truth.Where(t => t.Value is "b" or "ab").Select(t => t.Key).Order(), byVantage["b"].Order());
        }

        string json = await RunAsync("census", "--merged", "--db", pg.ConnectionString, "--from", "1h", "--json");
        using var doc = JsonDocument.Parse(json[json.IndexOf('{', StringComparison.Ordinal)..]);
        var m = doc.RootElement;
        Assert.Equal(OnlyA + OnlyB + Both, m.GetProperty("observed").GetInt64());
        var vantages = m.GetProperty("vantages").EnumerateArray().ToDictionary(v => v.GetProperty("vantage").GetString()!);
        Assert.Equal((OnlyA + Both, OnlyA), (vantages["a"].GetProperty("seen").GetInt64(), vantages["a"].GetProperty("only").GetInt64()));
        Assert.Equal((OnlyB + Both, OnlyB), (vantages["b"].GetProperty("seen").GetInt64(), vantages["b"].GetProperty("only").GetInt64()));
        Assert.Equal((double)(OnlyA + Both) / (OnlyA + OnlyB + Both), vantages["a"].GetProperty("share_of_observed").GetDouble(), 9);
        Assert.Equal(Both, m.GetProperty("overlaps")[0].GetProperty("both").GetInt64());
        var estimate = m.GetProperty("estimate");
        Assert.Equal("chapman", estimate.GetProperty("method").GetString());
        Assert.True(estimate.GetProperty("valid").GetBoolean());
        int trueSize = OnlyA + OnlyB + Both + Hidden;
        Assert.Equal(net.Nodes.Count, trueSize);
        Assert.InRange(trueSize, estimate.GetProperty("low").GetDouble(), estimate.GetProperty("high").GetDouble());

        string table = await RunAsync("census", "--merged", "--db", pg.ConnectionString, "--from", "1h");
        Assert.Contains($"Nodes seen by at least one vantage (each counted once): {OnlyA + OnlyB + Both}", table, StringComparison.Ordinal);
        Assert.Contains("Population estimate (chapman)", table, StringComparison.Ordinal);
    }
}
