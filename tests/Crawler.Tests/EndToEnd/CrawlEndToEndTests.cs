using System.Data.Common;
using System.Globalization;
using System.Text.Json;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>A 50-node JavaScript testnet shared by the end-to-end crawls.</summary>
public sealed class TestnetFixture : IAsyncLifetime
{
    public const int NodeCount = 50;
    public Testnet Net { get; private set; } = null!;

    /// <summary>One crawler key for every crawl: the JS nodes remember each crawler node they met, so crawls under
    /// fresh keys would find the earlier (dead) crawlers too. Under one key the crawler only meets itself, which it skips.</summary>
    public string NodeKeyHex { get; } = Convert.ToHexStringLower(ClP2p.Crawler.Config.NodeKeyStore.Generate());
    public Task InitializeAsync() => StartAsync();
    private async Task StartAsync() => Net = await Testnet.StartAsync(NodeCount);
    public async Task DisposeAsync() => await Net.DisposeAsync();
}

/// <summary>
/// `clp2p crawl --network custom --bootnode ... --allow-loopback` against a JavaScript testnet of ChainSafe discv5
/// nodes with js-libp2p eth2 hosts (two fork digests, hosts on yamux and on mplex, consensus nodes with a closed port,
/// nodes without eth2), checked against the testnet's own truth.
/// </summary>
/// <summary>The outage test stops the shared PostgreSQL cluster: the crawls of this class run alone, after every other class.</summary>
[CollectionDefinition(nameof(ClusterOutageCollection), DisableParallelization = true)]
public sealed class ClusterOutageCollection;

[Collection(nameof(ClusterOutageCollection))]
public sealed class CrawlEndToEndTests(TestnetFixture fixture) : IClassFixture<TestnetFixture>, IDisposable
{
    /// <summary>Part of the crawl's first log line, written once the database is migrated.</summary>
    private const string SchemaReady = " bootnodes into ";
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-e2e-").FullName;
    private Testnet Net => fixture.Net;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string[] CrawlArgs(string? db, string summary, params string[] extra)
    {
        string data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        if (!File.Exists(Path.Combine(data, ClP2p.Crawler.Config.NodeKeyStore.FileName)))
            File.WriteAllText(Path.Combine(data, ClP2p.Crawler.Config.NodeKeyStore.FileName), fixture.NodeKeyHex);
        var args = new List<string> { "crawl", "--network", "custom", "--bootnode", Net.Bootnode, "--allow-loopback",
            "--data-dir", Path.Combine(_dir, "data"), "--summary-json", summary, "--max-duration", "150s", "--listen-address", "127.0.0.1" };
        if (db is not null) { args.Add("--db"); args.Add(db); }
        // The testnet is one JavaScript process serving every host: the defaults (thousands of nodes enumerated and a
        // thousand dials at once, sized for hosts of their own on the internet) would measure that process's one event
        // loop on a busy machine, not the crawler.
        if (!extra.Contains("--dial-concurrency")) args.AddRange(["--dial-concurrency", "32"]);
        args.AddRange(["--discovery-concurrency", "32"]);
        args.AddRange(extra);
        return [.. args];
    }

    [Fact]
    public async Task Crawl_into_postgres_finds_every_node_and_records_what_each_host_answered()
    {
        await using var pg = await PgDatabase.CreateAsync();
        string summaryPath = Path.Combine(_dir, "summary.json");
        using var crawl = Clp2pProcess.Start(_dir, CrawlArgs(pg.ConnectionString, summaryPath));
        int code = await crawl.WaitAsync(HangGuard);
        Assert.True(code == 0, $"clp2p exited {code}:\n{crawl.Output}");

        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(summaryPath));
        await using var db = pg.Open();
        await AssertCrawlMatchesTruthAsync(db, summary.RootElement, crawl.Output);

        // `clp2p export` writes one row per node seen, in the documented columns
        string csvPath = Path.Combine(_dir, "export.csv");
        using var export = Clp2pProcess.Start(_dir, "export", "--db", pg.ConnectionString, "--crawl", "latest", "--format", "csv", "--out", csvPath);
        Assert.True(await export.WaitAsync(HangGuard) == 0, export.Output);
        var lines = (await File.ReadAllLinesAsync(csvPath)).Where(l => l.Length > 0).ToList();
        var header = lines[0].Split(',');
        Assert.Equal("node_id", header[0]);
        Assert.Contains("dial_outcome", header);
        int outcomeCol = Array.IndexOf(header, "dial_outcome");
        var exported = lines.Skip(1).Select(l => l.Split(',')).ToDictionary(f => f[0], f => f[outcomeCol], StringComparer.Ordinal);
        Assert.Equal(Net.Nodes.Count, exported.Count);
        foreach (var n in Net.Nodes)
            Assert.Equal(n.HasHost ? "ok" : n.IsConsensus ? "refused" : "not_dialled", exported[n.NodeId]);

        // The testnet's records carry neither cgc nor nfd: absent stays absent (empty, not 0), and no record is
        // counted as malformed for it. A node that answered Status named the digest its record carries, and we sent it.
        Assert.Equal(0, summary.RootElement.GetProperty("malformed_enr_fields").GetInt64());
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        int Col(string name) => Array.IndexOf(header, name);
        Assert.All(rows, r => Assert.Equal(("", "", ""), (r[Col("cgc")], r[Col("cgc_out_of_range")], r[Col("nfd")])));
        foreach (var r in rows.Where(r => r[outcomeCol] == "ok"))
        {
            Assert.Equal("false", r[Col("digest_mismatch")]);
            Assert.Equal(r[Col("fork_digest")], r[Col("status_digest_sent")]);
        }
    }

    [Fact]
    public async Task Crawl_with_the_sqlite_default_needs_no_db_option()
    {
        string summaryPath = Path.Combine(_dir, "summary.json");
        using var crawl = Clp2pProcess.Start(_dir, CrawlArgs(db: null, summaryPath));
        int code = await crawl.WaitAsync(HangGuard);
        Assert.True(code == 0, $"clp2p exited {code}:\n{crawl.Output}");

        string file = Path.Combine(_dir, "data", "clp2p.db");
        Assert.True(File.Exists(file), "the default database is clp2p.db in the data directory");
        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(summaryPath));
        await using var db = Sql.OpenSqlite(file);
        await AssertCrawlMatchesTruthAsync(db, summary.RootElement, crawl.Output);
    }

    [Fact]
    public async Task Sigkill_mid_crawl_keeps_what_was_written_and_the_next_crawl_marks_it_failed()
    {
        await using var pg = await PgDatabase.CreateAsync();
        // A short lease so the test need not wait 90 s for the killed crawl's lease to run out.
        var lease = new Dictionary<string, string> { ["CLP2P_Crawl__Lease"] = "3s" };
        // A second bootnode that never answers keeps the crawl running (its first and second discovery passes take
        // ~10 s) long after the testnet's visits are written, which took under a second: killed only once they are.
        using var silent = new NoAnswerCrawlTests.SilentBootnode();
        using (var doomed = Clp2pProcess.Start(_dir, lease, CrawlArgs(pg.ConnectionString, Path.Combine(_dir, "doomed.json"), "--dial-concurrency", "1", "--bootnode", silent.Enr)))
        {
            await doomed.WaitForLineAsync(SchemaReady, HangGuard);
            long visitsBefore = await pg.WaitForVisitsAsync(3, doomed.Exited, HangGuard);
            long enrsBefore;
            await using (var probe = pg.Open()) enrsBefore = await Sql.ScalarAsync(probe, "SELECT count(*) FROM enr_history");
            Assert.False(doomed.HasExited, $"the crawl ended before it could be killed:\n{doomed.Output}");
            Assert.True(visitsBefore >= 3, $"no visits were written in time:\n{doomed.Output}");

            doomed.KillHard();
            await doomed.WaitAsync(HangGuard);

            await using var db = pg.Open();
            Assert.True(await Sql.ScalarAsync(db, "SELECT count(*) FROM visits") >= visitsBefore);
            Assert.True(await Sql.ScalarAsync(db, "SELECT count(*) FROM enr_history") >= enrsBefore);
            Assert.Equal(1, await Sql.ScalarAsync(db, "SELECT count(*) FROM crawls WHERE state = 'running'"));
        }

        string summaryPath = Path.Combine(_dir, "summary.json");
        // The next process judges other crawls' leases by its own: with 1 s, the killed crawl's last heartbeat is out
        // of date by the time this crawl ends (it marks dead crawls at its start and at its end), however fast it runs
        var shortLease = new Dictionary<string, string> { ["CLP2P_Crawl__Lease"] = "1s" };
        using var next = Clp2pProcess.Start(_dir, shortLease, CrawlArgs(pg.ConnectionString, summaryPath));
        int code = await next.WaitAsync(HangGuard);
        Assert.True(code == 0, $"clp2p exited {code}:\n{next.Output}");
        await using (var db = pg.Open())
        {
            var crawls = await Sql.RowsAsync(db, "SELECT id, state, nodes_found, dialled, dial_ok, (SELECT count(*) FROM visits v WHERE v.crawl_id = c.id) AS visits, " +
                "(SELECT count(*) FROM visits v WHERE v.crawl_id = c.id AND v.dial_outcome = 'ok') AS visits_ok FROM crawls c ORDER BY id");
            Assert.Equal(2, crawls.Count);
            Assert.Equal("failed", crawls[0]["state"]);
            Assert.Equal("succeeded", crawls[1]["state"]);
            // the killed crawl's counts agree with the visits it wrote
            Assert.Equal(Convert.ToInt64(crawls[0]["visits"], CultureInfo.InvariantCulture), Convert.ToInt64(crawls[0]["nodes_found"], CultureInfo.InvariantCulture));
            Assert.Equal(Convert.ToInt64(crawls[0]["visits_ok"], CultureInfo.InvariantCulture), Convert.ToInt64(crawls[0]["dial_ok"], CultureInfo.InvariantCulture));
            using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(summaryPath));
            await AssertCrawlMatchesTruthAsync(db, summary.RootElement, next.Output);
        }
    }

    [Fact]
    public async Task Postgres_stopped_mid_crawl_until_a_write_fails_loses_no_result()
    {
        await using var pg = await PgDatabase.CreateAsync();
        string summaryPath = Path.Combine(_dir, "summary.json");
        using var crawl = Clp2pProcess.Start(_dir, CrawlArgs(pg.ConnectionString, summaryPath, "--dial-concurrency", "1"));
        await crawl.WaitForLineAsync(SchemaReady, HangGuard);
        // stopped once the crawl's row exists and before its first result: every result of the crawl is then written
        // after the outage began (waiting for a first visit raced a crawl that now ends within a second of it)
        await crawl.WaitForLineAsync(" started from ", HangGuard);
        Assert.False(crawl.HasExited, $"the crawl ended before the database could be stopped:\n{crawl.Output}");
        await PgDatabase.ControlAsync("stop");
        try
        {
            // the outage lasts until the crawler has met it: a write (or closing the crawl) failed and is retried
            await crawl.WaitForLineAsync("failed (attempt ", HangGuard);
        }
        finally
        {
            await PgDatabase.ControlAsync("start");
        }
        int code = await crawl.WaitAsync(HangGuard);
        Assert.True(code == 0, $"clp2p exited {code}:\n{crawl.Output}");
        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(summaryPath));
        await using var db = pg.Open();
        await AssertCrawlMatchesTruthAsync(db, summary.RootElement, crawl.Output);
    }

    [Fact]
    public async Task Run_crawls_on_schedule_serves_metrics_and_stops_cleanly_on_sigterm()
    {
        await using var pg = await PgDatabase.CreateAsync();
        int port;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)) { l.Start(); port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port; }
        string data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, ClP2p.Crawler.Config.NodeKeyStore.FileName), fixture.NodeKeyHex);
        using var run = Clp2pProcess.Start(_dir, "run", "--network", "custom", "--bootnode", Net.Bootnode, "--allow-loopback",
            "--listen-address", "127.0.0.1", "--data-dir", data, "--db", pg.ConnectionString, "--urls", $"http://127.0.0.1:{port}",
            "--interval", "1h", "--redial-interval", "0", "--dial-concurrency", "32", "--discovery-concurrency", "32");
        await run.WaitForLineAsync("scheduled crawl ", TimeSpan.FromSeconds(120));   // logged once the crawl's row is final
        long done;
        await using (var probe = pg.Open()) done = await Sql.ScalarAsync(probe, "SELECT count(*) FROM crawls WHERE state = 'succeeded'");
        Assert.True(done == 1, $"no scheduled crawl finished:\n{run.Output}");

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        string metrics = await http.GetStringAsync("/metrics");
        Assert.Contains($"clp2p_crawler_nodes_found {Net.Nodes.Count}", metrics, StringComparison.Ordinal);
        Assert.Contains("clp2p_crawler_dials_by_outcome{outcome=\"refused\"}", metrics, StringComparison.Ordinal);

        using (var census = JsonDocument.Parse(await http.GetStringAsync("/api/v1/census?dimension=dial_outcome")))
            Assert.Equal(Net.Nodes.Count, census.RootElement.GetProperty("total").GetInt64());   // the census API is served in-process

        run.Terminate();
        Assert.Equal(0, await run.WaitAsync(HangGuard));
        await using var db = pg.Open();
        Assert.Equal(0, await Sql.ScalarAsync(db, "SELECT count(*) FROM crawls WHERE state = 'running'"));
        Assert.Equal(Net.Nodes.Count, await Sql.ScalarAsync(db, "SELECT count(*) FROM visits WHERE kind = 'crawl'"));
    }

    private async Task AssertCrawlMatchesTruthAsync(DbConnection db, JsonElement summary, string output)
    {
        long crawlId = summary.GetProperty("crawl_id").GetInt64();
        var truth = Net.Nodes.ToDictionary(n => n.NodeId, StringComparer.Ordinal);
        int cl = truth.Values.Count(n => n.IsConsensus);
        int hosts = truth.Values.Count(n => n.HasHost);
        int closed = truth.Values.Count(n => n.IsConsensus && !n.HasHost);

        var visits = await Sql.RowsAsync(db, $"""
            SELECT v.node_id, v.dial_outcome, v.dial_error, n.peer_id, v.status_fork_digest, v.head_slot, v.finalized_epoch,
                   v.finalized_root, v.head_root, v.earliest_available_slot, v.metadata_seq, v.metadata_attnets,
                   v.custody_group_count, v.goodbye_reason, a.raw AS agent
            FROM visits v LEFT JOIN agent_versions a ON a.id = v.agent_version_id JOIN nodes n ON n.node_id = v.node_id
            WHERE v.crawl_id = {crawlId}
            """);
        var byNode = visits.ToDictionary(v => Sql.Hex(v["node_id"]), StringComparer.Ordinal);
        var missing = truth.Keys.Where(id => !byNode.ContainsKey(id)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} testnet nodes were not found: {string.Join(", ", missing.Select(m => truth[m].Index))}\n{output}");
        Assert.Equal(truth.Count, visits.Count);   // one visit per node, nothing extra

        foreach (var node in truth.Values)
        {
            var v = byNode[node.NodeId];
            string outcome = (string)v["dial_outcome"]!;
            if (!node.IsConsensus)
            {
                Assert.Equal("not_dialled", outcome);
                continue;
            }
            if (!node.HasHost)
            {
                Assert.True(outcome == "refused", $"node {node.Index} (closed port) ended {outcome}: {v["dial_error"]}");
                continue;
            }
            Assert.True(outcome == "ok", $"node {node.Index} ended {outcome}: {v["dial_error"]}");
            Assert.Equal(node.PeerId, v["peer_id"]); // the node row's, which the Noise handshake proved
            Assert.Equal(node.AgentVersion, v["agent"]);
            var status = node.Status!.Value;
            Assert.Equal(status.GetProperty("forkDigest").GetString(), Sql.Hex(v["status_fork_digest"]));
            Assert.Equal(status.GetProperty("headSlot").GetInt64(), Convert.ToInt64(v["head_slot"], CultureInfo.InvariantCulture));
            Assert.Equal(status.GetProperty("finalizedEpoch").GetInt64(), Convert.ToInt64(v["finalized_epoch"], CultureInfo.InvariantCulture));
            Assert.Equal(status.GetProperty("finalizedRoot").GetString(), Sql.Hex(v["finalized_root"]));
            Assert.Equal(status.GetProperty("headRoot").GetString(), Sql.Hex(v["head_root"]));
            Assert.Equal(status.GetProperty("earliestAvailableSlot").GetInt64(), Convert.ToInt64(v["earliest_available_slot"], CultureInfo.InvariantCulture));
            var meta = node.Metadata!.Value;
            Assert.Equal(meta.GetProperty("seqNumber").GetInt64(), Convert.ToInt64(v["metadata_seq"], CultureInfo.InvariantCulture));
            Assert.Equal(meta.GetProperty("attnets").GetString(), Sql.Hex(v["metadata_attnets"]));
            Assert.Equal(meta.GetProperty("custodyGroupCount").GetInt64(), Convert.ToInt64(v["custody_group_count"], CultureInfo.InvariantCulture));
        }

        // every ENR is stored, with the fork digest it advertised (raw: the custom digests have no name)
        var enrs = await Sql.RowsAsync(db, "SELECT node_id, fork_digest, fork_name FROM enr_history");
        var enrByNode = enrs.GroupBy(e => Sql.Hex(e["node_id"])).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var node in truth.Values)
        {
            Assert.True(enrByNode.TryGetValue(node.NodeId, out var e), $"no ENR stored for node {node.Index}");
            Assert.Equal(node.ForkDigest ?? "", Sql.Hex(e!["fork_digest"]));
            Assert.Null(e["fork_name"]);
        }

        // the summary agrees with the database and with the testnet
        Assert.Equal("succeeded", summary.GetProperty("state").GetString());
        Assert.Equal(truth.Count, summary.GetProperty("nodes_found").GetInt64());
        Assert.Equal(cl, summary.GetProperty("cl_nodes").GetInt64());
        Assert.Equal(cl, summary.GetProperty("dialled").GetInt64());
        Assert.Equal(hosts, summary.GetProperty("dial_ok").GetInt64());
        Assert.Equal(closed, summary.GetProperty("dial_failed").GetInt64());
        Assert.Equal(closed, summary.GetProperty("failures_by_class").GetProperty("refused").GetInt64());
        var row = (await Sql.RowsAsync(db, $"SELECT state, nodes_found, cl_nodes, dialled, dial_ok, failures FROM crawls WHERE id = {crawlId}")).Single();
        Assert.Equal("succeeded", row["state"]);
        Assert.Equal(truth.Count, Convert.ToInt64(row["nodes_found"], CultureInfo.InvariantCulture));
        Assert.Equal(cl, Convert.ToInt64(row["cl_nodes"], CultureInfo.InvariantCulture));
        Assert.Equal(cl, Convert.ToInt64(row["dialled"], CultureInfo.InvariantCulture));
        Assert.Equal(hosts, Convert.ToInt64(row["dial_ok"], CultureInfo.InvariantCulture));
        Assert.Equal(closed, Convert.ToInt64(row["failures"], CultureInfo.InvariantCulture));
        Assert.Equal(visits.Count(v => (string)v["dial_outcome"]! == "ok"), summary.GetProperty("dial_ok").GetInt64());
    }
}
