using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using ClP2p.Discovery;
using ClP2p.Libp2p;
using ClP2p.Libp2p.Crypto;
using Xunit.Abstractions;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>
/// The crawler's listening side and IPv6, against JavaScript testnets on loopback: nodes behind NAT (records without an
/// address) that look up through the crawler's node and connect to it end in the census as inbound only; a testnet of
/// IPv4-only, IPv6-only (::1) and dual-stack nodes is recorded family by family; a flood of inbound connections and of
/// streams that never end leaves the crawl finding and dialling every node.
/// </summary>
public sealed partial class InboundEndToEndTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-inbound-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<string> RunAsync(params string[] args)
    {
        using var p = Clp2pProcess.Start(_dir, args);
        int code = await p.WaitAsync(HangGuard);
        Assert.True(code == 0, $"clp2p {string.Join(' ', args.Take(2))} exited {code}:\n{p.Output}");
        return p.Output;
    }

    private static async Task<Dictionary<string, long>> CensusAsync(Func<string[], Task<string>> run, string db, string dimension, string crawl = "latest")
    {
        string json = await run(["census", "--dimension", dimension, "--crawl", crawl, "--db", db, "--json"]);
        using var doc = JsonDocument.Parse(json[json.IndexOf('{', StringComparison.Ordinal)..]);
        return doc.RootElement.GetProperty("groups").EnumerateArray()
            .ToDictionary(g => g.GetProperty("key").ValueKind == JsonValueKind.Null ? "(unknown)" : g.GetProperty("key").GetString()!, g => g.GetProperty("count").GetInt64(), StringComparer.Ordinal);
    }

    [GeneratedRegex(@"record (enr:[A-Za-z0-9_\-]+)")]
    private static partial Regex RecordInLog();

    [Fact]
    public async Task Ipv4_only_ipv6_only_and_dual_stack_nodes_are_recorded_family_by_family()
    {
        await using var net = await Testnet.StartFamiliesAsync(v4: 3, v6: 3, dual: 3);
        await using var pg = await PgDatabase.CreateAsync();
        await RunAsync("crawl", "--network", "custom", "--bootnode", net.Bootnode, "--allow-loopback", "--listen-address", "::",
            "--data-dir", Path.Combine(_dir, "data"), "--db", pg.ConnectionString, "--max-duration", "150s");

        await using (var db = pg.Open())
        {
            var rows = await Sql.RowsAsync(db, "SELECT node_id, ipv4_answered, ipv6_answered, dial_outcome FROM visits WHERE kind = 'crawl'");
            var seen = rows.ToDictionary(r => Sql.Hex(r["node_id"]), r => r, StringComparer.Ordinal);
            Assert.Equal(net.Nodes.Select(n => n.NodeId).Order(), seen.Keys.Order());
            foreach (var n in net.Nodes)
            {
                var r = seen[n.NodeId];
                (bool? v4, bool? v6) expected = n.Family switch { "ipv4" => (true, null), "ipv6" => (null, true), _ => (true, true) };
                Assert.True(expected == ((bool?)r["ipv4_answered"], (bool?)r["ipv6_answered"]),
                    $"node {n.Index} ({n.Family}): ipv4_answered={r["ipv4_answered"]}, ipv6_answered={r["ipv6_answered"]}, dial {r["dial_outcome"]}");
                Assert.Equal("ok", r["dial_outcome"]);
            }
        }
        var families = await CensusAsync(a => RunAsync(a), pg.ConnectionString, "ip_family");
        Assert.Equal(new Dictionary<string, long> { ["ipv4_only"] = 3, ["ipv6_only"] = 3, ["dual_stack"] = 3 }, families);
        var byClient = await CensusAsync(a => RunAsync(a), pg.ConnectionString, "ip_family_by_client");
        Assert.Equal(9, byClient.Values.Sum());
        Assert.All(byClient.Keys, k => Assert.Matches("^[a-z]+/(ipv4_only|ipv6_only|dual_stack)$", k));
    }

    [Fact]
    public async Task Nodes_behind_nat_that_contact_the_crawler_are_counted_inbound_only()
    {
        const int Nat = 3;
        await using var net = await Testnet.StartAsync(6);
        await using var pg = await PgDatabase.CreateAsync();
        using var run = Clp2pProcess.Start(_dir, "run", "--network", "custom", "--bootnode", net.Bootnode, "--allow-loopback",
            "--listen-address", "127.0.0.1", "--external-ip", "127.0.0.1", "--data-dir", Path.Combine(_dir, "data"), "--db", pg.ConnectionString,
            "--no-api", "--interval", "2s", "--redial-interval", "0");
        string listening = await run.WaitForLineAsync("listening for inbound peers", HangGuard);
        string enr = RecordInLog().Match(listening).Groups[1].Value;
        Assert.True(Enr.Parse(enr).Tcp is > 0, $"the crawler's record has no tcp port: {listening}");

        await net.StartNatNodesAsync(enr, Nat);
        Assert.All(net.NatDone.Values, d => Assert.True(d.Connected && d.LookupFound > 0, $"a NAT node failed: {d}"));
        output.WriteLine($"NAT lookups through the crawler's node: {string.Join(", ", net.NatDone.Values.Select(d => $"{d.LookupFound} found in {d.Lookups}"))}");
        // A NAT node's dial ends before our side of its connection (identify, Status, MetaData) is written: wait for a
        // crawl whose end counts every NAT node's libp2p connection as written, then for the crawl after next, which
        // started after that and whose end takes them all in.
        int done = Regex.Matches(run.Output, "scheduled crawl [0-9]+:").Count;
        while (true)
        {
            done++;
            await run.WaitForLineAsync($"scheduled crawl {done}:", HangGuard);
            var written = Regex.Match(run.Output, $"crawl {done}: inbound so far: [0-9]+ discv5 contacts, ([0-9]+) libp2p peers");
            Assert.True(written.Success, $"crawl {done} did not report its inbound contacts");
            if (int.Parse(written.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= Nat) break;
        }
        string line = await run.WaitForLineAsync($"scheduled crawl {done + 2}:", HangGuard);
        long crawl = long.Parse(Regex.Match(line, "scheduled crawl ([0-9]+):").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        run.Terminate();
        Assert.Equal(0, await run.WaitAsync(HangGuard));

        var nat = net.NatNodes.ToDictionary(n => n.NodeId, StringComparer.Ordinal);
        await using (var db = pg.Open())
        {
            var rows = await Sql.RowsAsync(db, $"SELECT v.node_id, v.dial_outcome, v.dial_error, v.seen_inbound, v.discovery_answered, v.head_slot, a.raw AS agent FROM visits v LEFT JOIN agent_versions a ON a.id = v.agent_version_id WHERE v.crawl_id = {crawl} AND v.kind = 'crawl'");
            var natRows = rows.Where(r => nat.ContainsKey(Sql.Hex(r["node_id"]))).ToList();
            Assert.Equal(Nat, natRows.Count);
            foreach (var r in natRows)
            {
                var truth = nat[Sql.Hex(r["node_id"])];
                Assert.Equal("not_dialled", r["dial_outcome"]);
                Assert.Equal("inbound_only", r["dial_error"]);
                Assert.Equal(true, r["seen_inbound"]);
                Assert.Equal(truth.AgentVersion, r["agent"]);   // identify on its inbound connection
                Assert.Equal(truth.Status!.Value.GetProperty("headSlot").GetInt64(), Convert.ToInt64(r["head_slot"], System.Globalization.CultureInfo.InvariantCulture));   // its Status
            }
            Assert.Equal(net.Nodes.Count + Nat, rows.Count);
            // both kinds of contact were recorded for every NAT node
            foreach (string kind in new[] { "inbound_discv5", "inbound_libp2p" })
            {
                var ids = (await Sql.RowsAsync(db, $"SELECT DISTINCT node_id FROM visits WHERE kind = '{kind}'")).Select(r => Sql.Hex(r["node_id"])).ToHashSet(StringComparer.Ordinal);
                Assert.True(nat.Keys.All(ids.Contains), $"not every NAT node has a {kind} visit");
            }
        }
        var reach = await CensusAsync(a => RunAsync(a), pg.ConnectionString, "reachability", crawl.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Nat, reach["inbound_only"]);
        Assert.Equal(net.Nodes.Count(n => n.HasHost), reach["dialable"]);
        Assert.Equal(net.Nodes.Count + Nat, reach.Values.Sum());
        string table = await RunAsync("census", "--dimension", "reachability", "--crawl", crawl.ToString(System.Globalization.CultureInfo.InvariantCulture), "--db", pg.ConnectionString);
        output.WriteLine(table);
    }

    [Fact]
    public async Task An_inbound_flood_leaves_the_crawler_crawling()
    {
        await using var net = await Testnet.StartAsync(12);
        await using var pg = await PgDatabase.CreateAsync();
        using var crawl = Clp2pProcess.Start(_dir, "crawl", "--network", "custom", "--bootnode", net.Bootnode, "--allow-loopback",
            "--listen-address", "127.0.0.1", "--external-ip", "127.0.0.1", "--data-dir", Path.Combine(_dir, "data"), "--db", pg.ConnectionString,
            "--max-duration", "150s", "--summary-json", Path.Combine(_dir, "summary.json"));
        string listening = await crawl.WaitForLineAsync("listening for inbound peers", HangGuard);
        var record = Enr.Parse(RecordInLog().Match(listening).Groups[1].Value);
        var target = new IPEndPoint(IPAddress.Loopback, record.Tcp!.Value);

        var flood = new Flood();
        using var stop = new CancellationTokenSource();
        var streams = Task.Run(() => flood.StreamsThatNeverEndAsync(target, stop.Token));
        var connections = Task.Run(() => flood.SilentConnectionsAsync(target, stop.Token));
        int code = await crawl.WaitAsync(HangGuard);
        await stop.CancelAsync();
        await Task.WhenAll(streams, connections);
        Assert.True(code == 0, crawl.Output);

        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_dir, "summary.json")));
        var s = summary.RootElement;
        output.WriteLine($"flood: {flood}");
        output.WriteLine(Regex.Match(crawl.Output, "inbound so far: [^\n]*").Value);
        output.WriteLine($"crawl: {s.GetProperty("nodes_found")} nodes found, {s.GetProperty("dial_ok")} of {s.GetProperty("dialled")} dials ok");
        Assert.True(flood.Connections > 100, $"the flood did not run during the crawl: {flood}");
        Assert.Equal(net.Nodes.Count, s.GetProperty("nodes_found").GetInt32());
        Assert.Equal(net.Nodes.Count(n => n.HasHost), s.GetProperty("dial_ok").GetInt32());
        Assert.Contains("over the per-IP bound", crawl.Output, StringComparison.Ordinal);
    }

    /// <summary>Inbound traffic from one address (loopback): connections that never speak, and libp2p connections whose
    /// streams are opened and never written or closed.</summary>
    private sealed class Flood
    {
        public long Connections, ClosedByListener, Libp2pConnections, Libp2pRefused, StreamsOpened, StreamsRefused;

        public override string ToString() =>
            $"{Connections} silent TCP connections ({ClosedByListener} closed by the crawler), {Libp2pConnections} libp2p connections "
            + $"({Libp2pRefused} refused), {StreamsOpened} never-ending streams opened, {StreamsRefused} refused";

        public async Task SilentConnectionsAsync(IPEndPoint target, CancellationToken ct)
        {
            var buffer = new byte[16];
            while (!ct.IsCancellationRequested)
            {
                var batch = new List<Socket>();
                for (int i = 0; i < 50; i++)
                {
                    var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    try
                    {
                        await s.ConnectAsync(target, ct);
                        batch.Add(s);
                        Interlocked.Increment(ref Connections);
                    }
                    catch (Exception e) when (e is SocketException or OperationCanceledException)
                    {
                        s.Dispose();
                    }
                }
                // each connection ends when the crawler closes it: at once when a bound refuses it, else when its
                // handshake times out (it never says anything)
                await Task.WhenAll(batch.Select(async s =>
                {
                    try
                    {
                        int n = await s.ReceiveAsync(buffer, SocketFlags.None, ct);
                        if (n == 0) Interlocked.Increment(ref ClosedByListener);
                    }
                    catch (Exception e) when (e is SocketException or OperationCanceledException)
                    {
                        // reset by the crawler, or the flood is over
                    }
                    finally
                    {
                        s.Dispose();
                    }
                }));
            }
        }

        public async Task StreamsThatNeverEndAsync(IPEndPoint target, CancellationToken ct)
        {
            using var dialer = new Libp2pDialer(new Libp2pOptions { Identity = Identity.GenerateSecp256k1() });
            var held = new List<Libp2pStream>();
            while (!ct.IsCancellationRequested)
            {
                Libp2pConnection connection;
                try
                {
                    connection = await dialer.DialAsync(target, null, ct);
                    Interlocked.Increment(ref Libp2pConnections);
                }
                catch (Exception e) when (e is DialException or OperationCanceledException)
                {
                    Interlocked.Increment(ref Libp2pRefused);
                    continue;
                }
                await using (connection)
                {
                    for (int i = 0; i < 32 && !connection.IsClosed && !ct.IsCancellationRequested; i++)
                    {
                        try
                        {
                            held.Add(await connection.OpenStreamAsync(["/eth2/beacon_chain/req/status/2/ssz_snappy"], ct));
                            Interlocked.Increment(ref StreamsOpened);
                        }
                        catch (Exception e) when (e is DialException or IOException or OperationCanceledException or ObjectDisposedException)
                        {
                            Interlocked.Increment(ref StreamsRefused);
                        }
                    }
                    try
                    {
                        await connection.Completion.WaitAsync(ct);
                    }
                    catch (OperationCanceledException)
                    {
                        // the flood is over
                    }
                }
                foreach (var s in held) await s.DisposeAsync();
                held.Clear();
            }
        }
    }
}
