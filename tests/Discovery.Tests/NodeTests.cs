using System.Net;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Discovery.Tests;

public sealed class NodeTests
{
    [Fact]
    public async Task Two_nodes_handshake_and_ping_each_other_in_both_directions()
    {
        await using var a = TestNodes.Create();
        await using var b = TestNodes.Create();
        await a.StartAsync();
        await b.StartAsync();
        var pong = await a.PingAsync(b.LocalEnr).Ok();
        Assert.NotNull(pong);
        Assert.Equal(b.LocalEnr.Seq, pong!.EnrSeq);
        Assert.Equal(a.LocalEndPoint, pong.ObservedEndPoint);
        await b.PingAsync(a.LocalEnr).Ok();
        Assert.Equal(1, a.SessionCount);
        Assert.Equal(1, b.SessionCount);
        Assert.Contains(a.TableNodes(), e => e.NodeId == b.LocalId);
        Assert.Contains(b.TableNodes(), e => e.NodeId == a.LocalId);
    }

    [Fact]
    public async Task Concurrent_first_requests_to_a_node_share_one_handshake_and_all_get_answers()
    {
        // Handshake races (sigp discv5 PR #122): several random packets at once drew copies of one WHOAREYOU; answering each made its own keys,
        // the remote kept the first, we kept the last, and every request timed out, retries included.
        await using var a = TestNodes.Create(requestTimeout: TimeSpan.FromSeconds(5), retries: 0);
        await using var b = TestNodes.Create();
        await a.StartAsync();
        await b.StartAsync();
        var asks = Enumerable.Range(0, 6).Select(_ => a.FindNodeAsync(b.LocalEnr, [0]).Ok()).ToArray();
        var answers = await Task.WhenAll(asks).WaitAsync(HangGuard);
        Assert.All(answers, r => Assert.Equal(b.LocalId, Assert.Single(r).NodeId));
        Assert.Equal(1, a.HandshakesOutbound);
        Assert.Equal(1, b.HandshakesInbound);
        Assert.Equal(0, b.DropCounts.Values.Sum());
        Assert.Equal(0, a.DropCounts.Values.Sum());
        Assert.Equal(0, a.PendingRequestCount);
    }

    [Fact]
    public async Task Requests_waiting_for_a_first_contact_fail_cleanly_when_the_node_is_disposed()
    {
        var a = TestNodes.Create(requestTimeout: TimeSpan.FromSeconds(30));
        await a.StartAsync();
        var silent = TestNodes.Create();
        await silent.StartAsync();
        var record = silent.LocalEnr;
        await silent.DisposeAsync();   // its port no longer answers
        var asks = Enumerable.Range(0, 4).Select(_ => a.FindNodeAsync(record, [256])).ToArray();
        await a.DisposeAsync();
        foreach (var ask in asks)
        {
            Assert.Equal(RequestFailure.Disposed, await ask.WaitAsync(HangGuard).Failure());
        }
    }

    [Fact]
    public async Task FindNode_distance_zero_returns_the_remote_record()
    {
        await using var a = TestNodes.Create();
        await using var b = TestNodes.Create();
        await a.StartAsync();
        await b.StartAsync();
        var res = await a.FindNodeAsync(b.LocalEnr, [0]).Ok();
        Assert.Single(res);
        Assert.True(res[0].SameRecord(b.LocalEnr));
    }

    [Fact]
    public void A_requests_distances_are_each_asked_once_in_their_order()
    {
        Assert.Equal([256, 255, 0], Discv5Node.Distinct([256, 255, 256, 0, 255]));
        Assert.Equal([7], Discv5Node.Distinct([7, 7, 7]));
        // one distance's list is made once and shared
        Assert.Same(Discv5Node.SingleDistance(250), Discv5Node.SingleDistance(250));
        Assert.Equal([250], Discv5Node.SingleDistance(250));
    }

    [Fact]
    public async Task FindNode_returns_table_entries_at_requested_distances_only()
    {
        await using var a = TestNodes.Create();
        await using var b = TestNodes.Create();
        await a.StartAsync();
        await b.StartAsync();
        var others = new List<Discv5Node>();
        try
        {
            for (int i = 0; i < 12; i++) { var n = TestNodes.Create(); await n.StartAsync(); others.Add(n); b.AddToTable(n.LocalEnr); }
            var byDistance = others.GroupBy(o => NodeId.LogDistance(o.LocalId, b.LocalId)).ToDictionary(g => g.Key, g => g.Count());
            foreach (var (d, count) in byDistance)
            {
                var res = await a.FindNodeAsync(b.LocalEnr, [d]).Ok();
                Assert.Equal(count, res.Count);
                Assert.All(res, e => Assert.Equal(d, NodeId.LogDistance(e.NodeId, b.LocalId)));
            }
            var all = await a.FindNodeAsync(b.LocalEnr, Enumerable.Range(240, 17).ToArray()).Ok();
            Assert.Equal(others.Count(o => NodeId.LogDistance(o.LocalId, b.LocalId) >= 240), all.Count);
        }
        finally
        {
            foreach (var o in others) await o.DisposeAsync();
        }
    }

    [Fact]
    public async Task Talk_request_is_answered_with_empty_response()
    {
        await using var a = TestNodes.Create();
        await using var b = TestNodes.Create();
        await a.StartAsync();
        await b.StartAsync();
        var resp = await a.TalkAsync(b.LocalEnr, "x"u8.ToArray(), new byte[] { 1, 2 }).Ok();
        Assert.True(resp.IsEmpty);
    }

    [Fact]
    public async Task Request_to_silent_endpoint_times_out_after_retries()
    {
        await using var a = TestNodes.Create(requestTimeout: TimeSpan.FromMilliseconds(200), retries: 1);
        await a.StartAsync();
        using var silent = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var key = TestNodes.NewKey();
        var enr = new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(((IPEndPoint)silent.Client.LocalEndPoint!).Port).Build(key);
        Assert.Equal(RequestFailure.Timeout, await a.FindNodeAsync(enr, [256]).Failure());
        Assert.Equal(2, silent.Available > 0 ? CountDatagrams(silent) : 0);
        Assert.Equal(RequestFailure.Timeout, await a.PingAsync(enr).Failure());
        Assert.Equal(0, a.PendingRequestCount);
    }

    private static int CountDatagrams(System.Net.Sockets.UdpClient c)
    {
        int n = 0;
        var ep = new IPEndPoint(IPAddress.Any, 0);
        while (c.Available > 0) { c.Receive(ref ep); n++; }
        return n;
    }

    [Fact]
    public async Task Pong_with_newer_seq_triggers_record_refresh()
    {
        await using var a = TestNodes.Create();
        await using var b = TestNodes.Create();
        await a.StartAsync();
        await b.StartAsync();
        var oldRecord = b.LocalEnr;
        await a.PingAsync(oldRecord).Ok();
        var updated = b.UpdateLocalEnr(new Dictionary<string, byte[]> { ["eth2"] = new byte[16] });
        var pong = await a.PingAsync(oldRecord).Ok();
        Assert.Equal(updated.Seq, pong!.EnrSeq);
        // the refresh's NODES answer (FINDNODE distance 0) updates the known record while it is handled
        await a.UntilAsync(() => a.GetKnownRecord(b.LocalId)?.Seq == updated.Seq);
        Assert.Equal(updated.Seq, a.GetKnownRecord(b.LocalId)!.Seq);
        Assert.Equal(new byte[16], a.GetKnownRecord(b.LocalId)!.GetValue("eth2"));
    }

    [Fact]
    public async Task Restarted_remote_forces_new_handshake_and_request_still_succeeds()
    {
        await using var a = await TestNodes.Create().StartedAsync();
        var key = TestNodes.NewKey();
        var b = await TestNodes.Create(privateKey: key).StartedAsync();
        var port = b.LocalEndPoint.Port;
        await a.PingAsync(b.LocalEnr).Ok();
        await b.DisposeAsync();
        // same identity, same port, no session: a's packet fails to decrypt, b sends WHOAREYOU, a handshakes again
        await using var b2 = await TestNodes.Create(privateKey: key, port: port).StartedAsync();
        var res = await a.FindNodeAsync(b2.LocalEnr, [0]).Ok();
        Assert.Single(res);
    }

    [Fact]
    public async Task Lookup_for_a_node_id_finds_that_node_and_applies_the_predicate()
    {
        var nodes = new List<Discv5Node>();
        try
        {
            var boot = TestNodes.Create();
            await boot.StartAsync();
            nodes.Add(boot);
            for (int i = 0; i < 15; i++)
            {
                var n = TestNodes.Create([boot.LocalEnr]);
                await n.StartAsync();
                nodes.Add(n);
            }
            // the bootnode tables each node when it handles that node's handshake (its first ping)
            await boot.UntilAsync(() => boot.TableCount >= 15);
            Assert.Equal(15, boot.TableCount);
            await using var me = TestNodes.Create([boot.LocalEnr]);
            await me.StartAsync();
            foreach (var target in nodes.Skip(1).Take(6))
            {
                var res = await me.LookupAsync(target.LocalId, e => e.NodeId == target.LocalId, 16);
                Assert.Equal(target.LocalId, Assert.Single(res).NodeId);
            }
            var closest = await me.LookupAsync(nodes[3].LocalId, null, 4);
            Assert.Equal(4, closest.Count);
            Assert.Equal(nodes[3].LocalId, closest[0].NodeId);
            for (int i = 1; i < closest.Count; i++)
                Assert.True(NodeId.CompareDistance(nodes[3].LocalId, closest[i - 1].NodeId, closest[i].NodeId) < 0);
            var walk = await me.RandomWalkAsync(null, 16);
            Assert.NotEmpty(walk);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Crawler_enumerates_every_node_and_reports_each_visit()
    {
        var nodes = new List<Discv5Node>();
        try
        {
            var boot = TestNodes.Create();
            await boot.StartAsync();
            nodes.Add(boot);
            // keys that fit boot's table: 20 random ids put more than k = 16 in bucket 256 about once in 800 runs
            foreach (var key in KeysFittingTable(boot.LocalId, 20))
            {
                var n = TestNodes.Create([boot.LocalEnr], privateKey: key);
                await n.StartAsync();
                nodes.Add(n);
            }
            await boot.UntilAsync(() => boot.TableCount >= 20);
            Assert.Equal(20, boot.TableCount);
            await using var me = TestNodes.Create();
            await me.StartAsync();
            // every bucket is asked: an early stop after 3 empty buckets (the default below distance 239) would miss a
            // node that sits alone below empty buckets in every table that holds it
            var crawler = new DhtCrawler(me, new DhtCrawlOptions { CanContact = ContactFilters.PublicOrLoopback, MaxConcurrency = 8, RandomWalks = 1, MinRequestSpacing = TimeSpan.Zero, MaxConsecutiveEmpty = 256 });
            var discovered = new HashSet<NodeId>();
            var visited = new Dictionary<NodeId, NodeVisited>();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(240)); // the crawl ends by itself; this only bounds a hang (21 × 257 requests are slow on busy cores)
            await foreach (var ev in crawler.RunAsync([boot.LocalEnr], cts.Token))
            {
                if (ev is EnrDiscovered d) discovered.Add(d.Enr.NodeId);
                if (ev is NodeVisited v) visited[v.Enr.NodeId] = v;
            }
            // (other tests run in parallel on loopback; a reused port can add a stranger to boot's table, so subset)
            var expected = nodes.Select(n => n.LocalId).ToHashSet();
            Assert.Subset(discovered, expected);
            Assert.All(expected, id => Assert.True(visited.TryGetValue(id, out var v) && v.Answered, $"{id} not visited or did not answer"));
            Assert.Equal(discovered, visited.Keys.ToHashSet());
            Assert.True(visited[boot.LocalId].Neighbours >= 20);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    /// <summary>A key whose node id lies at log distance <paramref name="distance"/> from <paramref name="from"/>.</summary>
    private static byte[] KeyAtDistance(NodeId from, int distance)
    {
        Span<byte> pub = stackalloc byte[64];
        for (int i = 0; i < 100_000; i++)
        {
            var key = TestNodes.NewKey();
            Assert.True(Secp256k1Ops.TryCreatePublicKey(key, pub));
            if (NodeId.LogDistance(from, Secp256k1Ops.NodeIdOf(pub)) == distance) return key;
        }
        throw new InvalidOperationException($"no key at distance {distance}");
    }

    /// <summary>Keys for <paramref name="count"/> nodes of which no more than k share a bucket of <paramref name="local"/>'s table.</summary>
    private static List<byte[]> KeysFittingTable(NodeId local, int count)
    {
        var perBucket = new int[257];
        var keys = new List<byte[]>();
        Span<byte> pub = stackalloc byte[64];
        while (keys.Count < count)
        {
            var key = TestNodes.NewKey();
            Assert.True(Secp256k1Ops.TryCreatePublicKey(key, pub));
            int d = NodeId.LogDistance(local, Secp256k1Ops.NodeIdOf(pub));
            if (perBucket[d] == ClP2p.Discovery.Table.RoutingTable.BucketSize) continue;
            perBucket[d]++;
            keys.Add(key);
        }
        return keys;
    }

    [Theory]
    // boot's table: one node at 256 (and the crawler itself, at 256, which boot leaves out of its answers to it), one
    // at 252 and one at 245. Stopping at the first run of 3 empty buckets (256, then 255 to 253 empty) finds neither;
    // a run of 4 reaches 252 and stops at 248; the default asks every distance down to 239 and stops there, its last
    // three buckets being empty. Asked one distance at a time (tail 1) that is one request per distance; with the tail
    // below the first sparse bucket asked 8 distances at a time (the default), 256 alone (1 record: sparse), then
    // 255-248 (with the record refresh, distance 0, in the same request), 247-240 and, above the floor, 239-232: every
    // node in 4 requests; with the floor at 256 the run of 3 empties inside the first tail answer (250-248) ends it
    // there, having found the node at 252 on the way (2 requests).
    [InlineData(256, 3, 1, 5, 1)]
    [InlineData(256, 4, 2, 10, 1)]
    [InlineData(239, 3, 3, 19, 1)]
    [InlineData(239, 3, 3, 4, 8)]
    [InlineData(256, 3, 2, 2, 8)]
    public async Task Crawler_asks_every_distance_down_to_the_floor_then_stops_after_a_run_of_empty_buckets(int askAllDownTo, int maxEmpty, int neighbours, int requests, int tail)
    {
        await using var boot = TestNodes.Create();
        await boot.StartAsync();
        await using var near = TestNodes.Create(privateKey: KeyAtDistance(boot.LocalId, 256));
        await using var hidden = TestNodes.Create(privateKey: KeyAtDistance(boot.LocalId, 252));
        await using var deep = TestNodes.Create(privateKey: KeyAtDistance(boot.LocalId, 245));
        foreach (var n in new[] { near, hidden, deep })
        {
            await n.StartAsync();
            Assert.True(boot.AddToTable(n.LocalEnr));
        }
        await using var me = TestNodes.Create(privateKey: KeyAtDistance(boot.LocalId, 256));
        await me.StartAsync();
        var crawler = new DhtCrawler(me, new DhtCrawlOptions
        {
            CanContact = ContactFilters.PublicOrLoopback, RandomWalks = 0, MinRequestSpacing = TimeSpan.Zero,
            AskAllDownTo = askAllDownTo, MaxConsecutiveEmpty = maxEmpty, TailDistancesPerRequest = tail,
        });
        var discovered = new HashSet<NodeId>();
        NodeVisited? bootVisit = null;
        using var cts = new CancellationTokenSource(HangGuard);
        await foreach (var ev in crawler.RunAsync([boot.LocalEnr], cts.Token))
        {
            if (ev is EnrDiscovered d) discovered.Add(d.Enr.NodeId);
            if (ev is NodeVisited v && v.Enr.NodeId == boot.LocalId) bootVisit = v;
        }
        Assert.NotNull(bootVisit);
        Assert.True(bootVisit.Answered);
        Assert.True(bootVisit.Complete);
        Assert.Equal(neighbours, bootVisit.Neighbours);
        Assert.Equal(requests, bootVisit.Requests);   // the distances asked, +1 for the record refresh unless it rode on a tail request
        Assert.Contains(near.LocalId, discovered);
        Assert.Equal(neighbours >= 2, discovered.Contains(hidden.LocalId));
        Assert.Equal(neighbours >= 3, discovered.Contains(deep.LocalId));
    }

    [Theory]
    // A and B each hold 10 records at 256, 10 at 255 and 1 at 254 (and A holds B, at 250), asked one request at a time.
    // With the crawl-wide estimate, A's answer of 10 at 256 already says 255 is sparse (each bucket holds about half
    // the one above): 256 alone, then 255-248 (the record refresh riding on it), 247-240 and 239-232 together: 4
    // requests. B, found in A's second answer, is asked the same way. Without it each node's own sparse bucket (254)
    // starts the tail: 256, 255, 254 alone, 253-246 (with the refresh), 245-238: 5 requests. Both read the whole table.
    [InlineData(5.0, 4)]
    [InlineData(0.0, 5)]
    public async Task Crawler_asks_distances_the_crawl_found_sparse_together_from_a_nodes_first_request_that_reaches_them(double sparseMean, int requests)
    {
        await using var a = await TestNodes.Create().StartedAsync();
        await using var b = await TestNodes.Create(privateKey: KeyAtDistance(a.LocalId, 250)).StartedAsync();
        foreach (var n in new[] { a, b })
        {
            foreach (var (distance, count) in new[] { (256, 10), (255, 10), (254, 1) })
                for (int i = 0; i < count; i++)
                    Assert.True(n.AddToTable(new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(9).Build(KeyAtDistance(n.LocalId, distance))));
        }
        Assert.True(a.AddToTable(b.LocalEnr));
        await using var me = await TestNodes.Create().StartedAsync();
        var crawler = new DhtCrawler(me, new DhtCrawlOptions
        {
            CanContact = e => e.NodeId == a.LocalId || e.NodeId == b.LocalId,
            RandomWalks = 0, MinRequestSpacing = TimeSpan.Zero, MaxInFlightPerNode = 1,
            SparseEstimateMaxRecords = sparseMean, SparseEstimateMinAnswers = 1,
        });
        var visits = new Dictionary<NodeId, NodeVisited>();
        using var cts = new CancellationTokenSource(HangGuard);
        await foreach (var ev in crawler.RunAsync([a.LocalEnr], cts.Token))
            if (ev is NodeVisited v) visits[v.Enr.NodeId] = v;

        Assert.Equal(2, visits.Count);
        Assert.All(visits.Values, v => Assert.True(v.Complete, v.Error));
        Assert.Equal(22, visits[a.LocalId].Neighbours);
        Assert.Equal(21, visits[b.LocalId].Neighbours);
        Assert.Equal(requests, visits[a.LocalId].Requests);
        Assert.Equal(requests, visits[b.LocalId].Requests);
    }

    [Fact]
    public async Task A_tail_answer_cut_at_16_records_is_asked_again_half_as_wide_and_widens_again_once_answers_leave_room()
    {
        // 10 records at 256, 1 at 255 (the sparse bucket), 9 at 254 and 8 at 252: the tail below 255, 254-247, holds 17
        // and its answer (the node's own record first: the refresh rides on it) is cut at 16. Asked again half as wide:
        // 254-251 (17, cut again), 254-253 (9), 252-251 (8: room to spare, so 4 wide again), 250-247 (0: 8 wide),
        // 246-239. One distance at a time after the first cut, as before, took 20 requests.
        await using var c = await TestNodes.Create().StartedAsync();
        foreach (var (distance, count) in new[] { (256, 10), (255, 1), (254, 9), (252, 8) })
            for (int i = 0; i < count; i++)
                Assert.True(c.AddToTable(new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(9).Build(KeyAtDistance(c.LocalId, distance))));
        await using var me = await TestNodes.Create().StartedAsync();
        var crawler = new DhtCrawler(me, new DhtCrawlOptions
        {
            CanContact = e => e.NodeId == c.LocalId,
            RandomWalks = 0, MinRequestSpacing = TimeSpan.Zero, MaxInFlightPerNode = 1, SparseEstimateMaxRecords = 0,
        });
        var found = new HashSet<NodeId>();
        NodeVisited? visit = null;
        using var cts = new CancellationTokenSource(HangGuard);
        await foreach (var ev in crawler.RunAsync([c.LocalEnr], cts.Token))
        {
            if (ev is EnrDiscovered d) found.Add(d.Enr.NodeId);
            if (ev is NodeVisited v) visit = v;
        }
        Assert.NotNull(visit);
        Assert.True(visit.Complete, visit.Error);
        Assert.Equal(28, visit.Neighbours);
        Assert.Equal(29, found.Count);   // the 28 and c itself
        Assert.Equal(8, visit.Requests);
    }

    [Fact]
    public async Task A_first_pass_slot_is_given_back_at_the_first_answer_so_the_next_node_is_contacted_while_the_first_is_enumerated()
    {
        // One slot. The first node answers every packet 400-500 ms late and has a record in each of its five top
        // buckets, asked one at a time: its enumeration takes many of its round trips. The second node, queued after
        // it, answers at once. Held for the whole visit, the slot would keep the second node waiting until the first
        // is done; given back at the first answer, the second is visited (and reported) while the first still is.
        await using var proxy = new DelayingUdpProxy(TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(500), seed: 5);
        await using var slow = await TestNodes.Create(advertisedIp: IPAddress.Loopback, advertisedUdpPort: proxy.FrontEndPoint.Port,
            challengeTimeout: TimeSpan.FromSeconds(10)).StartedAsync();
        proxy.Start(slow.LocalEndPoint);
        for (int d = 256; d >= 252; d--)
        {
            var record = new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(9).Build(KeyAtDistance(slow.LocalId, d));
            Assert.True(slow.AddToTable(record));
        }
        await using var quick = await TestNodes.Create().StartedAsync();
        await using var me = await TestNodes.Create().StartedAsync();
        var crawler = new DhtCrawler(me, new DhtCrawlOptions
        {
            CanContact = e => e.NodeId == slow.LocalId || e.NodeId == quick.LocalId,
            RandomWalks = 0,
            MaxConcurrency = 1,
            MinRequestSpacing = TimeSpan.Zero,
            FirstPassTimeout = TimeSpan.FromSeconds(5),
            // every bucket of the slow node's plan waits for the answer above it
            AskAllDownTo = 256, MaxConsecutiveEmpty = 1, TailDistancesPerRequest = 1,
        });
        var visits = new List<NodeVisited>();
        using var cts = new CancellationTokenSource(HangGuard);
        await foreach (var ev in crawler.RunAsync([slow.LocalEnr, quick.LocalEnr], cts.Token))
            if (ev is NodeVisited v) visits.Add(v);

        Assert.Equal([quick.LocalId, slow.LocalId], visits.Select(v => v.Enr.NodeId));
        Assert.All(visits, v => Assert.True(v.Complete, v.Error));
        Assert.False(visits[1].SecondPass);
        Assert.Equal(5, visits[1].Neighbours);
        Assert.True(proxy.Delayed >= 7);   // the handshake and six FINDNODEs at least went through the delay
    }

    [Fact]
    public async Task Crawler_leaves_a_node_that_answered_then_went_silent_incomplete_after_two_failed_requests_in_each_pass()
    {
        await using var x = TestNodes.Create();
        await x.StartAsync();
        await using var y = TestNodes.Create(privateKey: KeyAtDistance(x.LocalId, 256));
        await y.StartAsync();
        Assert.True(x.AddToTable(y.LocalEnr));
        var xId = x.LocalId;
        await using var me = TestNodes.Create(requestTimeout: TimeSpan.FromSeconds(1.5), retries: 0);
        await me.StartAsync();
        var crawler = new DhtCrawler(me, new DhtCrawlOptions
        {
            CanContact = e => e.NodeId != y.LocalId && ContactFilters.PublicOrLoopback(e), RandomWalks = 0,
            MinRequestSpacing = TimeSpan.FromSeconds(1),   // time to take x down between its first answer and the next request
            FirstPassTimeout = TimeSpan.FromSeconds(1.5), FirstPassRetries = 0, SecondPassTimeout = TimeSpan.FromSeconds(1.5),
        });
        NodeVisited? xVisit = null;
        using var cts = new CancellationTokenSource(HangGuard);
        await foreach (var ev in crawler.RunAsync([x.LocalEnr], cts.Token))
        {
            if (ev is EnrDiscovered { From: { } from } d && from == xId && d.Enr.NodeId == y.LocalId) await x.DisposeAsync();
            if (ev is NodeVisited v && v.Enr.NodeId == xId) xVisit = v;
        }
        Assert.NotNull(xVisit);
        Assert.True(xVisit.Answered);
        Assert.Equal(1, xVisit.Neighbours);
        Assert.NotNull(xVisit.Error);
        Assert.False(xVisit.Complete);
        Assert.True(xVisit.SecondPass);
        // first pass: 256 answered, 255 and 254 failed; second pass: two more failures in a row end it; no record
        // refresh from a node that went silent
        Assert.Equal(5, xVisit.Requests);
    }

    [Theory]
    // Every record boot returns is declared untrusted (on loopback every relayer may vouch for every address, so the
    // rule is swapped for one that distrusts boot): they are reported, flagged, and neither enumerated nor asked by
    // the random walks. The control run trusts boot and contacts them all.
    [InlineData(false)]
    [InlineData(true)]
    public async Task Crawler_reports_but_never_contacts_records_whose_relayer_is_not_trusted(bool trustBoot)
    {
        var nodes = new List<Discv5Node>();
        try
        {
            var boot = TestNodes.Create();
            await boot.StartAsync();
            for (int i = 0; i < 3; i++)
            {
                var n = TestNodes.Create();
                await n.StartAsync();
                nodes.Add(n);
                Assert.True(boot.AddToTable(n.LocalEnr));
            }
            nodes.Add(boot);
            await using var me = TestNodes.Create();
            await me.StartAsync();
            var crawler = new DhtCrawler(me, new DhtCrawlOptions
            {
                // the default depth (256 down to 239, then 3 empty buckets): the trust rule, not the enumeration, is tested
                // here, and 4 × 257 requests on two cores shared with the interop tests once outlasted the 60 s below
                CanContact = ContactFilters.PublicOrLoopback, RandomWalks = 2, MinRequestSpacing = TimeSpan.Zero,
                TrustRelay = (record, relayer) => trustBoot || relayer is null || relayer.NodeId != boot.LocalId,
            });
            var discovered = new Dictionary<NodeId, EnrDiscovered>();
            var visited = new HashSet<NodeId>();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(240)); // the crawl ends by itself; this only bounds a hang
            await foreach (var ev in crawler.RunAsync([boot.LocalEnr], cts.Token))
            {
                if (ev is EnrDiscovered d) discovered.TryAdd(d.Enr.NodeId, d);
                if (ev is NodeVisited v) visited.Add(v.Enr.NodeId);
            }
            foreach (var n in nodes.Take(3))
            {
                Assert.True(discovered.TryGetValue(n.LocalId, out var d), "reported");
                Assert.Equal(!trustBoot, d.RelayUntrusted);
                Assert.Equal(trustBoot, visited.Contains(n.LocalId));
                // not even a random walk asked it: the node learns the record of whoever shakes hands with it, and
                // the crawler's node is the one that must not have (a handshake count would also count a stray packet
                // from a parallel test class whose node once had this port)
                Assert.Equal(trustBoot, n.GetKnownRecord(me.LocalId) is not null);
            }
            Assert.False(discovered[boot.LocalId].RelayUntrusted);   // a seed
            Assert.Contains(boot.LocalId, visited);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Crawler_emits_a_record_again_when_the_node_reports_a_higher_seq()
    {
        var nodes = new List<Discv5Node>();
        try
        {
            var boot = TestNodes.Create();
            await boot.StartAsync();
            nodes.Add(boot);
            var x = TestNodes.Create();
            await x.StartAsync();
            nodes.Add(x);
            boot.AddToTable(x.LocalEnr);
            var newer = x.UpdateLocalEnr(new Dictionary<string, byte[]> { ["eth2"] = new byte[16] });
            await using var me = TestNodes.Create();
            await me.StartAsync();
            var crawler = new DhtCrawler(me, new DhtCrawlOptions { CanContact = ContactFilters.PublicOrLoopback, RandomWalks = 0, MinRequestSpacing = TimeSpan.Zero, MaxConsecutiveEmpty = 256 });
            var seqs = new List<ulong>();
            using var cts = new CancellationTokenSource(HangGuard);
            await foreach (var ev in crawler.RunAsync([boot.LocalEnr], cts.Token))
                if (ev is EnrDiscovered d && d.Enr.NodeId == x.LocalId) seqs.Add(d.Enr.Seq);
            Assert.Equal([newer.Seq - 1, newer.Seq], seqs);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }
}
