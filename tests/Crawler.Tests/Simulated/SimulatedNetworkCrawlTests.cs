using System.Text.Json;
using ClP2p.Crawler.Tests.EndToEnd;
using ClP2p.Sim;

namespace ClP2p.Crawler.Tests.Simulated;

/// <summary>
/// The real `clp2p crawl` against bench/Sim's simulated wide-area network (started in this process): 500 records, half
/// of them records of nodes that are gone (UDP and TCP silent), round trips of 20–60 ms with ±10 % jitter and 1 % of
/// what the nodes send lost, live nodes of every kind (dialable, closed TCP port, silent TCP port, no eth2 protocols,
/// no eth2 field). RTT is kept at 20–60 ms (mainnet: 50–300) so the crawl stays short in CI; the comparison is the
/// bench's own compare step against the simulator's ground truth.
/// </summary>
public sealed class SimulatedNetworkCrawlTests : IDisposable
{
    /// <summary>Bounds a hang only: the crawl itself stops when discovery runs dry and every dial ended.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(15);
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-sim-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Crawl_of_a_lossy_wide_area_network_finds_and_enumerates_every_live_node_and_dials_every_dialable_one_ok()
    {
        var options = new SimOptions { Records = 500, RttMinMs = 20, RttMaxMs = 60, Loss = 0.01, DeadFraction = 0.5, SlowFraction = 0, Seed = 11 };
        await using var net = await SimNetwork.StartAsync(options);
        string truth = Path.Combine(_dir, "truth.json");
        net.WriteTruth(truth);
        string data = Path.Combine(_dir, "data");
        string summaryPath = Path.Combine(_dir, "summary.json");
        using var crawl = Clp2pProcess.Start(_dir,
            "crawl", "--network", "mainnet", "--bootnode", net.BootnodeEnr, "--allow-loopback", "--listen-address", "127.0.0.1",
            "--data-dir", data, "--summary-json", summaryPath, "--max-duration", "600s",
            "--discovery-concurrency", "128", "--dial-concurrency", "256");
        Assert.True(await crawl.WaitAsync(HangGuard) == 0, crawl.Output);
        string export = Path.Combine(_dir, "export.ndjson");
        using (var ex = Clp2pProcess.Start(_dir, "export", "--crawl", "latest", "--format", "ndjson", "--out", export, "--data-dir", data))
            Assert.True(await ex.WaitAsync(HangGuard) == 0, ex.Output);

        var r = Compare.Run(export, truth);
        string report = $"{net.Describe()}\n{r.Format()}\n{Tail(crawl.Output)}";
        Assert.True(options.Live == r.LiveFound, $"live nodes found {r.LiveFound} of {options.Live}\n{report}");
        Assert.True(options.Live == r.Enumerated, $"live nodes enumerated {r.Enumerated} of {options.Live}\n{report}");
        // and their tables listed whole: an answer short of a lost NODES message is asked again (with 1 % loss and
        // three messages an answer, taking what came left about 30 % of the tables short); a node can lose a message
        // of every attempt at one request, so a few may stay short
        Assert.True(r.TablesCompared == options.Live && r.TablesComplete >= options.Live * 0.98, $"tables complete {r.TablesComplete} of {r.TablesCompared}\n{report}");
        Assert.True(r.Dialable == r.DialledOk, $"dialable nodes with outcome ok {r.DialledOk} of {r.Dialable}\n{report}");
        Assert.True(r.Records == r.Found, $"records found {r.Found} of {r.Records}\n{report}");
        Assert.True(r.Wrong == 0 && r.WrittenTwice == 0, report);
        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(summaryPath));
        Assert.Equal(options.Records, summary.RootElement.GetProperty("nodes_found").GetInt64());
        Assert.Equal(r.DialledOk, summary.RootElement.GetProperty("dial_ok").GetInt64());
        // the summary's top clients and fork digests are the crawl's own counts (read from its census once it is built)
        var rows = File.ReadLines(export).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        AssertTop(rows, "client", summary.RootElement.GetProperty("top_clients"));
        AssertTop(rows, "fork_digest", summary.RootElement.GetProperty("top_fork_digests"));

        // the gone records share endpoints (16 to one, as a gone host's stale records do): one connect per endpoint
        // failed, the others ended with its failure without a connect (Libp2pOptions.ConnectFailureMemory), and no live
        // node's dial was among them
        using var truthDoc = JsonDocument.Parse(await File.ReadAllTextAsync(truth));
        var live = truthDoc.RootElement.GetProperty("nodes").EnumerateArray()
            .ToDictionary(n => n.GetProperty("node_id").GetString()!, n => n.GetProperty("live").GetBoolean());
        var shared = rows.Where(x => x.TryGetProperty("dial_error", out var e) && e.ValueKind == JsonValueKind.String
            && e.GetString()!.Contains("not connected again", StringComparison.Ordinal)).ToList();
        int deadEndpoints = (options.Dead + options.DeadPerEndpoint - 1) / options.DeadPerEndpoint;
        Assert.InRange(shared.Count, 1, options.Dead - deadEndpoints);
        Assert.All(shared, x => Assert.False(live[x.GetProperty("node_id").GetString()!], x.GetProperty("node_id").GetString()));
        Assert.Contains($": {shared.Count} dials ended with the failed connect of another record at the same IP and port", crawl.Output, StringComparison.Ordinal);
    }

    /// <summary>The summary's groups are the largest groups of <paramref name="field"/> over the exported visits, with their counts.</summary>
    private static void AssertTop(List<JsonElement> rows, string field, JsonElement top)
    {
        var counts = rows.GroupBy(x => x.GetProperty(field).ValueKind == JsonValueKind.Null ? null : x.GetProperty(field).GetString())
            .ToDictionary(g => g.Key ?? "(null)", g => (long)g.Count());
        var groups = top.EnumerateArray().ToList();
        Assert.Equal(Math.Min(8, counts.Count), groups.Count);
        foreach (var g in groups)
        {
            string key = g.GetProperty("key").ValueKind == JsonValueKind.Null ? "(null)" : g.GetProperty("key").GetString()!;
            Assert.Equal(counts[key], g.GetProperty("count").GetInt64());
        }
        Assert.Equal(counts.Values.OrderDescending().Take(groups.Count), groups.Select(g => g.GetProperty("count").GetInt64()));
    }

    private static string Tail(string s) => s.Length <= 4000 ? s : s[^4000..];
}
