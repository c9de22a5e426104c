namespace ClP2p.Discovery.Tests;

/// <summary>Against 32 ChainSafe @chainsafe/discv5 11.0.0 nodes on 127.0.0.1 (tests/interop/discv5-net.mjs).</summary>
public sealed class InteropTests
{
    private const int JsNodes = 32;

    [Fact]
    public async Task Crawl_from_one_js_seed_finds_every_js_node_and_js_nodes_find_us()
    {
        // lookupNumResults above the node count: discv5 11 orders lookup results with a broken comparator
        // (lookup.js closestPeersByDistance), so with the default 16 the target itself can be cut from the result.
        await using var net = await JsDiscv5Net.StartAsync(JsNodes, configJson: "{\"lookupNumResults\":64}");
        Assert.Equal(JsNodes, net.Nodes.Count);
        var jsIds = net.Nodes.Select(n => n.NodeId).ToHashSet();

        // 1. walk + enumeration from ONE seed, we initiate every handshake
        await using var crawlerNode = TestNodes.Create();
        await crawlerNode.StartAsync();
        var crawler = new DhtCrawler(crawlerNode, new DhtCrawlOptions
        {
            CanContact = ContactFilters.PublicOrLoopback,
            MaxConcurrency = 16,
            RandomWalks = 2,
            MinRequestSpacing = TimeSpan.FromMilliseconds(2),
        });
        var discovered = new HashSet<NodeId>();
        var visits = new Dictionary<NodeId, NodeVisited>();
        using (var cts = new CancellationTokenSource(HangGuard))
        {
            await foreach (var ev in crawler.RunAsync([net.Nodes[0]], cts.Token))
            {
                if (ev is EnrDiscovered d) discovered.Add(d.Enr.NodeId);
                else if (ev is NodeVisited v) visits[v.Enr.NodeId] = v;
            }
        }
        Assert.Subset(discovered, jsIds);
        Assert.All(jsIds, id => Assert.True(visits.TryGetValue(id, out var v) && v.Answered, $"{id} not visited or did not answer"));
        Assert.True(crawlerNode.HandshakesOutbound >= JsNodes, $"outbound handshakes {crawlerNode.HandshakesOutbound}");
        Assert.DoesNotContain(crawlerNode.DropCounts, kv => kv.Key.StartsWith("handshake", StringComparison.Ordinal));

        // 1b. several FINDNODE distances in flight at once to one JS node, from a node of ours with no session yet:
        // one handshake, every answer at its distance, together all the JS node's table holds at those distances
        var jsTable = (await net.CommandAsync(new System.Text.Json.Nodes.JsonObject { ["cmd"] = "table", ["index"] = 1 }))["enrs"]!.AsArray()
            .Select(e => Enr.Parse((string)e!)).ToList();
        await using (var asker = TestNodes.Create(requestTimeout: TimeSpan.FromSeconds(5), retries: 1))
        {
            await asker.StartAsync();
            int[] distances = [256, 255, 254, 253, 252, 251, 250, 249];
            var asks = distances.Select(d => asker.FindNodeAsync(net.Nodes[1], [d])).ToArray();
            var answers = new HashSet<NodeId>();
            for (int i = 0; i < distances.Length; i++)
                foreach (var e in await asks[i].Ok())
                {
                    Assert.Equal(distances[i], NodeId.LogDistance(e.NodeId, net.Nodes[1].NodeId));
                    answers.Add(e.NodeId);
                }
            Assert.Subset(answers, jsTable.Where(e => NodeId.LogDistance(e.NodeId, net.Nodes[1].NodeId) >= 249).Select(e => e.NodeId).ToHashSet());
            Assert.Equal(1, asker.HandshakesOutbound);
        }

        // 2. a JS node initiates a handshake to a fresh node of ours
        await using var fresh = TestNodes.Create();
        await fresh.StartAsync();
        Assert.True(await net.PingAsync(7, fresh.LocalEnr));
        Assert.Equal(1, fresh.HandshakesInbound);
        Assert.Contains(fresh.TableNodes(), e => e.NodeId == net.Nodes[7].NodeId);

        // 3. JS lookups find us: a node of ours known to every JS node but #20 is found by #20's own lookup
        await using var target = TestNodes.Create(retries: 3);
        await target.StartAsync();
        for (int i = 0; i < JsNodes; i++)
            if (i != 20) Assert.True((await target.PingAsync(net.Nodes[i])).IsOk, $"js node {i} did not answer PING: drops {string.Join(",", target.DropCounts)} sent {target.PacketsSent} recv {target.PacketsReceived}");
        var found = await net.FindNodeAsync(20, target.LocalId);
        var t5 = await net.CommandAsync(new System.Text.Json.Nodes.JsonObject { ["cmd"] = "table", ["index"] = 5 });
        Assert.True(found.Any(e => e.NodeId == target.LocalId), $"in: {target.HandshakesInbound} drops: {string.Join(",", target.DropCounts)} served? recv {target.PacketsReceived} js5 table has target: {t5["enrs"]!.AsArray().Any(e => Enr.Parse((string)e!).NodeId == target.LocalId)} count {t5["enrs"]!.AsArray().Count}");
        // and the crawler's own node is found by a JS lookup too
        var found2 = await net.FindNodeAsync(3, crawlerNode.LocalId);
        var t3 = await net.CommandAsync(new System.Text.Json.Nodes.JsonObject { ["cmd"] = "table", ["index"] = 3 });
        Assert.True(found2.Any(e => e.NodeId == crawlerNode.LocalId), $"in: {crawlerNode.HandshakesInbound} drops: {string.Join(",", crawlerNode.DropCounts)} recv {crawlerNode.PacketsReceived} js3 table has crawler: {t3["enrs"]!.AsArray().Any(e => Enr.Parse((string)e!).NodeId == crawlerNode.LocalId)} count {t3["enrs"]!.AsArray().Count} found {found2.Count} dists {string.Join(",", found2.Select(e => NodeId.LogDistance(e.NodeId, crawlerNode.LocalId)))}");
    }
}
