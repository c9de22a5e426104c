using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Packets;
using ClP2p.Discovery.Sessions;
using Xunit;

namespace ClP2p.Discovery.Tests;

public sealed class SlowPeerTests
{
    [Fact]
    public async Task A_peer_whose_every_answer_takes_two_to_three_seconds_is_still_enumerated_completely()
    {
        // The slow peer sits behind a proxy that holds every packet it sends for 2-3 s (a seeded draw per packet), so
        // each of its answers comes after the crawler's first-pass request (1 s, one retry) was given up. The second
        // pass asks again with a longer wait and must get every bucket.
        await using var proxy = new DelayingUdpProxy(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3), seed: 11);
        // its WHOAREYOU reaches us 2-3 s late and our handshake answers it: the challenge must outlive that
        await using var slow = await TestNodes.Create(advertisedIp: IPAddress.Loopback, advertisedUdpPort: proxy.FrontEndPoint.Port,
            challengeTimeout: TimeSpan.FromSeconds(10), requestTimeout: TimeSpan.FromSeconds(1), retries: 1).StartedAsync();
        proxy.Start(slow.LocalEndPoint);

        // records in the slow peer's table at many distances (more than one request's worth in the top buckets)
        var tabled = FillTable(slow, 40);
        Assert.Equal(40, tabled.Count);

        await using var me = TestNodes.Create();
        await me.StartAsync();
        // only the slow peer is contacted: the records it returns are reported, not visited
        var crawler = SinglePeerCrawler(me, slow.LocalId);
        var (visit, discovered) = await CrawlAsync(crawler, slow);

        Assert.True(proxy.Delayed > 0);
        Assert.NotNull(visit);
        string Drops(Discv5Node n) => string.Join(",", n.DropCounts.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key}={kv.Value}"));
        Assert.True(visit.Answered, $"{visit.Error}; crawler drops {Drops(me)}; slow peer drops {Drops(slow)}; held {proxy.Delayed}; requests {visit.Requests}");
        Assert.True(visit.SecondPass);
        Assert.True(visit.Complete, $"incomplete: {visit.Error}");
        Assert.Null(visit.Error);
        Assert.Equal(tabled.Count, visit.Neighbours);
        Assert.Subset(discovered, tabled);
    }

    [Fact]
    public async Task A_distance_whose_answer_is_lost_twice_in_the_second_pass_is_asked_a_third_time_while_the_node_answers()
    {
        // A node slower than the first pass's wait has only its second-pass attempts. Here the peer leaves the first
        // pass's request unanswered (its attempt and the handshake sent again), so the whole node goes to the second
        // pass; there it answers every request except the first two that ask distance 250, while its answers to the
        // other distances keep coming. Two lost answers in a row (one request in 10,000 at 1 % loss) must not leave the
        // node short of that bucket: the third attempt gets it.
        const int Lossy = 250;
        var records = new List<Enr>();
        await using var peer = new ServingPeer(records, (fn, index, asked) => index <= 2 || (fn.Distances.Contains(Lossy) && asked(Lossy) <= 2));
        // filled before the crawl starts, so before the peer reads them
        foreach (var (distance, count) in new[] { (256, 6), (255, 3), (Lossy, 1) }) records.AddRange(PitfallTests.RecordsAt(peer.Id, distance, count));

        await using var me = TestNodes.Create();
        await me.StartAsync();
        // the second pass's two unanswered attempts each wait its timeout out; 3 s is long enough that a loaded machine's
        // late answer to any other request is not taken for one more loss
        var crawler = SinglePeerCrawler(me, peer.Id, secondPassTimeout: TimeSpan.FromSeconds(3));
        var (visit, discovered) = await CrawlAsync(crawler, peer.Enr);

        Assert.NotNull(visit);
        Assert.True(visit.SecondPass);
        Assert.Equal(4, peer.Unanswered);
        Assert.Equal(3, peer.Asked(Lossy));
        Assert.True(visit.Complete, $"incomplete: {visit.Error}; distance {Lossy} asked {peer.Asked(Lossy)} times");
        Assert.Equal(records.Count, visit.Neighbours);
        Assert.Subset(discovered, records.Select(e => e.NodeId).ToHashSet());
    }

    [Fact]
    public async Task A_node_whose_first_three_challenges_are_lost_on_the_way_back_is_still_enumerated()
    {
        // Each of the crawler's first contacts reaches the node, and the node's WHOAREYOU to each of the first three is
        // lost on the way back (the proxy drops the node's first three packets): at 1 % loss each way this happens to a
        // live node in about one 20,000-record simulated crawl in thirteen. A first contact gets three attempts in the
        // first pass (DhtCrawlOptions.FirstContactRetries) and a node that never sent a packet one more in the second:
        // the fourth challenge gets through, and the node is enumerated. (With two first-pass attempts, as before, the
        // third and last attempt's challenge was lost too and the node was never answered.)
        await using var proxy = new DelayingUdpProxy(TimeSpan.Zero, TimeSpan.Zero, seed: 3, dropFirst: 3);
        await using var node = await TestNodes.Create(advertisedIp: IPAddress.Loopback, advertisedUdpPort: proxy.FrontEndPoint.Port).StartedAsync();
        proxy.Start(node.LocalEndPoint);
        var tabled = FillTable(node, 20);

        await using var me = TestNodes.Create();
        await me.StartAsync();
        var crawler = SinglePeerCrawler(me, node.LocalId, secondPassTimeout: TimeSpan.FromSeconds(3));
        var (visit, discovered) = await CrawlAsync(crawler, node);

        Assert.Equal(3, proxy.Dropped);
        Assert.NotNull(visit);
        Assert.True(visit.Answered, $"{visit.Error}; requests {visit.Requests}");
        Assert.True(visit.Complete, $"incomplete: {visit.Error}");
        Assert.Equal(tabled.Count, visit.Neighbours);
        Assert.Subset(discovered, tabled);
    }

    /// <summary>Puts up to <paramref name="count"/> new records into <paramref name="node"/>'s table (fresh keys, so at
    /// many distances; a key whose bucket is full is drawn again) and returns the ids it took.</summary>
    private static HashSet<NodeId> FillTable(Discv5Node node, int count)
    {
        var tabled = new HashSet<NodeId>();
        for (int i = 0; tabled.Count < count && i < 10_000; i++)
        {
            var enr = new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(9).Build(TestNodes.NewKey());
            if (node.AddToTable(enr)) tabled.Add(enr.NodeId);
        }
        return tabled;
    }

    /// <summary>A crawler that contacts only <paramref name="peer"/> (the records it returns are reported, not visited),
    /// without random walks, with a 1 s first-pass wait and one retry; the second pass's wait and the window's cut
    /// interval as given, else the defaults.</summary>
    private static DhtCrawler SinglePeerCrawler(Discv5Node me, NodeId peer, TimeSpan? secondPassTimeout = null, TimeSpan? congestionCutInterval = null)
    {
        var defaults = new DhtCrawlOptions();
        return new DhtCrawler(me, new DhtCrawlOptions
        {
            CanContact = e => e.NodeId == peer,
            RandomWalks = 0,
            FirstPassTimeout = TimeSpan.FromSeconds(1),
            FirstPassRetries = 1,
            SecondPassTimeout = secondPassTimeout ?? defaults.SecondPassTimeout,
            CongestionCutInterval = congestionCutInterval ?? defaults.CongestionCutInterval,
        });
    }

    /// <summary>Crawls from <paramref name="peer"/> to the end: its visit, and every record reported.</summary>
    private static Task<(NodeVisited? Visit, HashSet<NodeId> Discovered)> CrawlAsync(DhtCrawler crawler, Discv5Node peer) =>
        CrawlAsync(crawler, peer.LocalEnr);

    private static async Task<(NodeVisited? Visit, HashSet<NodeId> Discovered)> CrawlAsync(DhtCrawler crawler, Enr peer)
    {
        var discovered = new HashSet<NodeId>();
        NodeVisited? visit = null;
        using var hang = new CancellationTokenSource(TimeSpan.FromSeconds(600));   // bounds a hang, not the speed
        await foreach (var ev in crawler.RunAsync([peer], hang.Token))
        {
            if (ev is EnrDiscovered d) discovered.Add(d.Enr.NodeId);
            if (ev is NodeVisited v && v.Enr.NodeId == peer.NodeId) visit = v;
        }
        return (visit, discovered);
    }

    [Fact]
    public async Task Only_first_pass_timeouts_of_a_node_that_answered_cut_the_request_window()
    {
        // The peer answers the first request (its challenge, then one NODES packet: its table is empty) and then goes
        // silent: the requests the crawler sends after that answer hold places in the crawl-wide window, and they time
        // out in the first pass and again in the second. A first-pass timeout is taken as load on the way and halves
        // the window; the second pass's are the node's own and do not (DhtCrawler.IsCongestionSignal). With no interval
        // between cuts, every first-pass timeout cuts once and nothing else does.
        await using var proxy = new DelayingUdpProxy(TimeSpan.Zero, TimeSpan.Zero, seed: 5, passFirst: 2);
        await using var peer = await TestNodes.Create(advertisedIp: IPAddress.Loopback, advertisedUdpPort: proxy.FrontEndPoint.Port).StartedAsync();
        proxy.Start(peer.LocalEndPoint);

        await using var me = TestNodes.Create();
        await me.StartAsync();
        var crawler = SinglePeerCrawler(me, peer.LocalId, secondPassTimeout: TimeSpan.FromSeconds(1), congestionCutInterval: TimeSpan.Zero);
        var (visit, _) = await CrawlAsync(crawler, peer);

        Assert.NotNull(visit);
        Assert.True(visit.Answered, visit.Error);
        Assert.True(visit.SecondPass);
        var w = crawler.WindowStats;
        Assert.NotNull(w);
        Assert.True(w.TimeoutsFirstPass > 0, $"{w}");
        Assert.True(w.TimeoutsSecondPass > 0, $"{w}");
        Assert.Equal(w.TimeoutsFirstPass, w.CutsByTimeout);
        Assert.Equal(0, w.CutsByBacklog);
        Assert.True(w.Smallest < w.Initial, $"{w}");
    }
}

/// <summary>
/// A UDP relay on loopback in front of one node: what a client sends to <see cref="FrontEndPoint"/> goes to the node
/// at once; what the node sends back is held for a delay drawn between the bounds (seeded), then goes to the client.
/// One client at a time (the last one that sent).
/// </summary>
internal sealed class DelayingUdpProxy : IAsyncDisposable
{
    private readonly Socket _front = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Socket _back = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly TimeSpan _min, _max;
    private readonly Random _random;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly List<Task> _held = [];
    private IPEndPoint? _node;
    private volatile IPEndPoint? _client;
    private long _delayed;

    private readonly int _passFirst;
    private readonly int _dropFirst;
    private long _dropped;
    private long _fromNode;

    /// <param name="passFirst">The node's first this many packets are passed on; every later one is dropped (the node
    /// goes silent). Unbounded by default.</param>
    /// <param name="dropFirst">The node's first this many packets are dropped (lost on the way), the later ones passed
    /// on. None by default.</param>
    public DelayingUdpProxy(TimeSpan min, TimeSpan max, int seed, int passFirst = int.MaxValue, int dropFirst = 0)
    {
        _min = min;
        _max = max;
        _passFirst = passFirst;
        _dropFirst = dropFirst;
        _random = new Random(seed);
        _front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _back.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    }

    public IPEndPoint FrontEndPoint => (IPEndPoint)_front.LocalEndPoint!;

    /// <summary>Packets from the node that were held and passed on.</summary>
    public long Delayed => Interlocked.Read(ref _delayed);

    /// <summary>Packets from the node dropped as its first ones (see the constructor's dropFirst).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Start(IPEndPoint node)
    {
        _node = node;
        _loops.Add(Task.Run(ForwardAsync));
        _loops.Add(Task.Run(BackwardAsync));
    }

    private async Task ForwardAsync()
    {
        var buffer = new byte[2048];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try { r = await _front.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (SocketException) { continue; }
            _client = (IPEndPoint)r.RemoteEndPoint;
            await _back.SendToAsync(buffer.AsMemory(0, r.ReceivedBytes), _node!);
        }
    }

    private async Task BackwardAsync()
    {
        var buffer = new byte[2048];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try { r = await _back.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (SocketException) { continue; }
            var packet = buffer.AsSpan(0, r.ReceivedBytes).ToArray();
            var to = _client;
            if (to is null) continue;
            long index = Interlocked.Increment(ref _fromNode);
            if (index <= _dropFirst)
            {
                Interlocked.Increment(ref _dropped);
                continue;
            }
            if (index > _passFirst) continue;
            TimeSpan delay;
            lock (_random) delay = _min + (_max - _min) * _random.NextDouble();
            lock (_held) _held.Add(HoldAsync(packet, to, delay));
        }
    }

    private async Task HoldAsync(byte[] packet, IPEndPoint to, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _stop.Token);   // the simulated path's latency, not a wait for an event
            await _front.SendToAsync(packet, to);
            Interlocked.Increment(ref _delayed);
        }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Task[] all;
        lock (_held) all = [.. _loops, .. _held];
        try { await Task.WhenAll(all); } catch (OperationCanceledException) { }
        _front.Dispose();
        _back.Dispose();
        _stop.Dispose();
    }
}

/// <summary>
/// A discv5 peer at packet level (<see cref="RawPeer"/>) that serves FINDNODE from a list of records (its table) and leaves
/// the requests a rule picks unanswered: the rule gets the request, its 1-based index among the FINDNODEs received, and
/// how many requests so far asked a distance (this one included).
/// </summary>
internal sealed class ServingPeer : IAsyncDisposable
{
    private readonly RawPeer _raw = new();
    private readonly IReadOnlyList<Enr> _records;
    private readonly Func<FindNodeMessage, int, Func<int, int>, bool> _unanswered;
    private readonly Dictionary<int, int> _asked = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _unansweredCount;

    public ServingPeer(IReadOnlyList<Enr> records, Func<FindNodeMessage, int, Func<int, int>, bool> unanswered)
    {
        _records = records;
        _unanswered = unanswered;
        _loop = Task.Run(RunAsync);
    }

    public Enr Enr => _raw.Enr;
    public NodeId Id => _raw.Id;
    public int Unanswered => Volatile.Read(ref _unansweredCount);

    /// <summary>Requests received that asked <paramref name="distance"/>.</summary>
    public int Asked(int distance) { lock (_asked) return _asked.GetValueOrDefault(distance); }

    private async Task RunAsync()
    {
        Session? session = null;
        byte[]? challenge = null;
        int index = 0;
        while (await _raw.ReceiveFromAsync(_stop.Token) is { } r)
        {
            var packet = r.Buffer;
            if (!_raw.TryDecode(packet, out var flag, out var header, out var nonce, out var sealedMessage)) continue;
            Discv5Message? m = null;
            var src = new NodeId(header.AsSpan(16 + 23, 32));
            if (flag == PacketFlag.Handshake && challenge is not null)
            {
                // accepted again when sent again: the same challenge gives the same keys
                (m, session) = _raw.AcceptHandshake(packet, challenge);
            }
            else if (flag == PacketFlag.Message)
            {
                var plain = new byte[sealedMessage.Length - 16];
                if (session is not null && PacketCodec.TryDecrypt(session.ReadKey, nonce, sealedMessage, header, plain)
                    && MessageCodec.TryDecode(plain, out var decoded, out _))
                {
                    m = decoded;
                }
                else
                {
                    var (way, ch) = _raw.WhoAreYouFor(packet, src, 0);
                    challenge = ch;
                    _raw.Send(way, r.RemoteEndPoint);
                    continue;
                }
            }
            if (m is not FindNodeMessage fn || session is null) continue;
            index++;
            lock (_asked) foreach (int d in fn.Distances) _asked[d] = _asked.GetValueOrDefault(d) + 1;
            if (_unanswered(fn, index, Asked))
            {
                Interlocked.Increment(ref _unansweredCount);
                continue;
            }
            var found = _records.Where(e => fn.Distances.Contains(NodeId.LogDistance(e.NodeId, Id))).Take(16).Select(e => e.Raw).ToList();
            var chunks = found.Chunk(3).ToList();
            if (chunks.Count == 0) chunks.Add([]);
            foreach (var chunk in chunks)
                _raw.Send(_raw.Encrypt(src, session, new NodesMessage(fn.RequestId, chunks.Count, chunk)), r.RemoteEndPoint);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _raw.Dispose();
        _stop.Dispose();
    }
}
