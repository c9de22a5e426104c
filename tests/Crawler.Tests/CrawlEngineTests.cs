using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using ClP2p.Crawler.Engine;
using ClP2p.Crawler.Eth2Crawl;
using CrawlEngine = ClP2p.Crawler.Engine.CrawlEngine<string, string>;
using DialReport = ClP2p.Crawler.Engine.DialReport<string>;
using DiscoveredNode = ClP2p.Crawler.Engine.DiscoveredNode<string>;
using DiscoveryReport = ClP2p.Crawler.Engine.DiscoveryReport<string>;
using ICrawlSink = ClP2p.Crawler.Engine.ICrawlSink<string, string>;
using IDialWorker = ClP2p.Crawler.Engine.IDialWorker<string, string>;
using IDiscoveryWorker = ClP2p.Crawler.Engine.IDiscoveryWorker<string>;
using NodeFound = ClP2p.Crawler.Engine.NodeFound<string>;
using NodeOutcome = ClP2p.Crawler.Engine.NodeOutcome<string, string>;
using NodeQueried = ClP2p.Crawler.Engine.NodeQueried<string>;

namespace ClP2p.Crawler.Tests;

/// <summary>The engine's own logic, with in-process workers standing for discovery, dialer and storage (the
/// end-to-end tests run it against real peers and databases).</summary>
public class CrawlEngineTests
{
    private sealed class ScriptedDiscovery(Channel<DiscoveryReport> reports) : IDiscoveryWorker
    {
        /// <summary>Completes when the engine stops reading discovery (the channel ended, or the crawl stopped it).</summary>
        public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async IAsyncEnumerable<DiscoveryReport> RunAsync([EnumeratorCancellation] CancellationToken ct)
        {
            try
            {
                await foreach (var r in reports.Reader.ReadAllAsync(ct)) yield return r;
            }
            finally
            {
                Ended.TrySetResult();
            }
        }
    }

    /// <summary>Completes waiters once a count reaches their target: tests wait for events, not for time.</summary>
    private sealed class Tally
    {
        private readonly List<(int Target, TaskCompletionSource Done)> _waiters = [];
        private int _count;

        public void Add()
        {
            lock (_waiters)
            {
                _count++;
                foreach (var w in _waiters.Where(w => _count >= w.Target)) w.Done.TrySetResult();
                _waiters.RemoveAll(w => w.Done.Task.IsCompleted);
            }
        }

        public Task AtLeast(int target)
        {
            lock (_waiters)
            {
                if (_count >= target) return Task.CompletedTask;
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((target, done));
                return done.Task;
            }
        }
    }

    /// <summary>Dials answer at once, or (with <paramref name="hold"/>) when the test sets <see cref="Release"/>.</summary>
    private sealed class CountingDialer(bool hold = false, Func<DiscoveredNode, string>? outcome = null) : IDialWorker
    {
        private int _inFlight;
        public int MaxInFlight;
        public ConcurrentBag<string> Dialled { get; } = [];
        public Tally Started { get; } = new();
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<DialReport> DialAsync(DiscoveredNode node, CancellationToken ct)
        {
            int now = Interlocked.Increment(ref _inFlight);
            int seen;
            while ((seen = Volatile.Read(ref MaxInFlight)) < now && Interlocked.CompareExchange(ref MaxInFlight, now, seen) != seen) { }
            Started.Add();
            if (hold) await Release.Task.WaitAsync(ct);
            else await Task.Yield();
            Interlocked.Decrement(ref _inFlight);
            Dialled.Add(node.NodeId);
            return new DialReport(outcome?.Invoke(node) ?? DialOutcomes.Ok, TimeSpan.Zero, null);
        }
    }

    private sealed class MemorySink : ICrawlSink
    {
        public ConcurrentQueue<DiscoveredNode> Found { get; } = new();
        public ConcurrentQueue<NodeOutcome> Done { get; } = new();
        public Tally FoundCount { get; } = new();
        public Tally DoneCount { get; } = new();
        public ValueTask NodeFoundAsync(DiscoveredNode node, CancellationToken ct) { Found.Enqueue(node); FoundCount.Add(); return ValueTask.CompletedTask; }
        public ValueTask NodeDoneAsync(NodeOutcome outcome, CancellationToken ct) { Done.Enqueue(outcome); DoneCount.Add(); return ValueTask.CompletedTask; }
    }

    private static DiscoveredNode Node(int i, bool cl = true, string ip = "1.2.3.4", bool tcp = true, ulong seq = 1) =>
        new($"n{i:D3}", seq, cl, tcp ? new IPEndPoint(IPAddress.Parse(ip), 9000 + i) : null, $"record-{i}-{seq}");

    private static CrawlEngineOptions Options(int concurrency = 4, TimeSpan? max = null, bool loopback = false) =>
        new() { DialConcurrency = concurrency, MaxDuration = max, AddressPolicy = new AddressPolicy(false, loopback) };

    [Fact]
    public async Task Dials_only_consensus_nodes_with_allowed_tcp_addresses_and_writes_every_node_once()
    {
        var ch = Channel.CreateUnbounded<DiscoveryReport>();
        var dialer = new CountingDialer();
        var sink = new MemorySink();
        var engine = new CrawlEngine(new ScriptedDiscovery(ch), dialer, sink, Options());
        var run = engine.RunAsync(CancellationToken.None);

        DiscoveredNode[] nodes = [Node(1), Node(2, cl: false), Node(3, ip: "10.0.0.3"), Node(4, tcp: false), Node(5, ip: "127.0.0.1"), Node(6)];
        foreach (var n in nodes) await ch.Writer.WriteAsync(new NodeFound(n));
        await ch.Writer.WriteAsync(new NodeFound(Node(1)));   // same seq again: ignored
        foreach (var n in nodes.Take(4)) await ch.Writer.WriteAsync(new NodeQueried(n.NodeId, true, 3, null, TimeSpan.FromMilliseconds(1)));
        ch.Writer.Complete();

        Assert.Equal(CrawlEnd.Completed, await run);
        Assert.Equal(["n001", "n006"], dialler(dialer));
        Assert.Equal(6, sink.Done.Count);
        Assert.Equal(6, sink.Done.Select(d => d.Node.NodeId).Distinct().Count());
        var byId = sink.Done.ToDictionary(d => d.Node.NodeId);
        Assert.Equal(DialOutcomes.Ok, byId["n001"].Dial!.Outcome);
        Assert.Equal(3, byId["n001"].Discovery!.Neighbours);
        Assert.Equal(NotDialledReasons.NotConsensus, byId["n002"].NotDialledReason);
        Assert.Equal(NotDialledReasons.AddressNotAllowed, byId["n003"].NotDialledReason);
        Assert.Equal(NotDialledReasons.NoTcp, byId["n004"].NotDialledReason);
        Assert.Equal(NotDialledReasons.AddressNotAllowed, byId["n005"].NotDialledReason);
        Assert.Null(byId["n006"].Discovery);            // never queried: still written
        Assert.Equal(6, engine.Counters.NodesFound);
        Assert.Equal(5, engine.Counters.ConsensusNodes);
        Assert.Equal(2, engine.Counters.DialOk);
        Assert.Equal(6, sink.Found.Count);               // the duplicate was not passed on

        static string[] dialler(CountingDialer d) => [.. d.Dialled.Order(StringComparer.Ordinal)];
    }

    [Fact]
    public async Task Nodes_that_answered_but_were_not_fully_enumerated_are_counted_and_summarised()
    {
        var ch = Channel.CreateUnbounded<DiscoveryReport>();
        var engine = new CrawlEngine(new ScriptedDiscovery(ch), new CountingDialer(), new MemorySink(), Options());
        var run = engine.RunAsync(CancellationToken.None);
        for (int i = 1; i <= 4; i++) await ch.Writer.WriteAsync(new NodeFound(Node(i, cl: false)));
        await ch.Writer.WriteAsync(new NodeQueried("n001", true, 16, null, TimeSpan.Zero));                              // complete
        await ch.Writer.WriteAsync(new NodeQueried("n002", true, 5, "Timeout", TimeSpan.Zero) { Complete = false });     // stopped answering
        await ch.Writer.WriteAsync(new NodeQueried("n003", false, 0, "Timeout", TimeSpan.Zero));                         // never answered
        ch.Writer.Complete();

        Assert.Equal(CrawlEnd.Completed, await run);
        Assert.Equal(3, engine.Counters.Queried);
        Assert.Equal(2, engine.Counters.Answered);
        Assert.Equal(1, engine.Counters.Incomplete);
        var summary = CrawlSummary.From(1, "test", "succeeded", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, engine.Counters);
        Assert.Contains("\"discovery_incomplete\": 1", summary.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_private_address_discovery_did_not_trust_is_not_dialled_even_when_private_ranges_are_allowed()
    {
        var ch = Channel.CreateUnbounded<DiscoveryReport>();
        var dialer = new CountingDialer();
        var sink = new MemorySink();
        var options = new CrawlEngineOptions { DialConcurrency = 2, AddressPolicy = new AddressPolicy(allowPrivate: true, allowLoopback: false) };
        var engine = new CrawlEngine(new ScriptedDiscovery(ch), dialer, sink, options);
        var run = engine.RunAsync(CancellationToken.None);
        await ch.Writer.WriteAsync(new NodeFound(Node(1, ip: "192.168.1.7")));                                // relayed by a LAN node
        await ch.Writer.WriteAsync(new NodeFound(Node(2, ip: "192.168.1.8") with { AddressUntrusted = true }));  // relayed by a public one
        ch.Writer.Complete();
        Assert.Equal(CrawlEnd.Completed, await run);
        Assert.Equal(["n001"], dialer.Dialled.ToArray());
        var byId = sink.Done.ToDictionary(d => d.Node.NodeId);
        Assert.Equal(NotDialledReasons.AddressUntrusted, byId["n002"].NotDialledReason);
        Assert.Equal(2, sink.Found.Count);   // still reported: the census counts it
    }

    /// <summary>Returns a fresh report per dial and remembers it weakly: the test asks whether anything still holds it.</summary>
    private sealed class TrackingDialer : IDialWorker
    {
        public ConcurrentBag<WeakReference> Reports { get; } = [];

        public async Task<DialReport> DialAsync(DiscoveredNode node, CancellationToken ct)
        {
            await Task.Yield();
            var report = new DialReport(DialOutcomes.Ok, TimeSpan.Zero, new string('d', 64));
            Reports.Add(new WeakReference(report));
            return report;
        }
    }

    /// <summary>A sink that lets each outcome go once counted, as storage does once its row is written.</summary>
    private sealed class CountingSink : ICrawlSink
    {
        public int Done;
        public ValueTask NodeFoundAsync(DiscoveredNode node, CancellationToken ct) => ValueTask.CompletedTask;
        public ValueTask NodeDoneAsync(NodeOutcome outcome, CancellationToken ct) { Interlocked.Increment(ref Done); return ValueTask.CompletedTask; }
    }

    [Fact]
    public async Task A_written_nodes_dial_report_and_discovery_report_are_not_kept_by_the_engine()
    {
        var ch = Channel.CreateUnbounded<DiscoveryReport>();
        var dialer = new TrackingDialer();
        var sink = new CountingSink();
        var engine = new CrawlEngine(new ScriptedDiscovery(ch), dialer, sink, Options());
        var run = engine.RunAsync(CancellationToken.None);
        var queried = new List<WeakReference>();
        for (int i = 1; i <= 8; i++)
        {
            await ch.Writer.WriteAsync(new NodeFound(Node(i)));
            queried.Add(await QueriedAsync(ch.Writer, $"n{i:D3}"));
        }
        ch.Writer.Complete();
        Assert.Equal(CrawlEnd.Completed, await run);
        Assert.Equal(8, sink.Done);
        Assert.Equal(8, dialer.Reports.Count);

        // the last dial's method may still be returning on another thread when the crawl's task completes (its slot is
        // given back before its own frame is done): a few rounds of collection, not one
        for (int round = 0; round < 100 && (dialer.Reports.Any(r => r.IsAlive) || queried.Any(r => r.IsAlive)); round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            await Task.Yield();
        }
        // the engine still holds every node's state (it is alive here), but not what was handed to the sink
        Assert.All(dialer.Reports, r => Assert.False(r.IsAlive));
        Assert.All(queried, r => Assert.False(r.IsAlive));
        Assert.Equal(8, engine.Counters.DialOk);
        GC.KeepAlive(engine);

        // not inlined: the report must not stay in a slot of the test's own frame
        [MethodImpl(MethodImplOptions.NoInlining)]
        static async Task<WeakReference> QueriedAsync(ChannelWriter<DiscoveryReport> writer, string id)
        {
            var report = new NodeQueried(id, true, 3, null, TimeSpan.Zero);
            await writer.WriteAsync(report);
            return new WeakReference(report);
        }
    }

    [Fact]
    public async Task Higher_seq_record_is_passed_on_and_lower_is_not()
    {
        var ch = Channel.CreateUnbounded<DiscoveryReport>();
        var sink = new MemorySink();
        var engine = new CrawlEngine(new ScriptedDiscovery(ch), new CountingDialer(), sink, Options());
        var run = engine.RunAsync(CancellationToken.None);
        await ch.Writer.WriteAsync(new NodeFound(Node(1, seq: 5)));
        await ch.Writer.WriteAsync(new NodeFound(Node(1, seq: 4)));
        await ch.Writer.WriteAsync(new NodeFound(Node(1, seq: 6)));
        ch.Writer.Complete();
        await run;
        Assert.Equal([5UL, 6UL], sink.Found.Select(f => f.Seq));
        Assert.Single(sink.Done);
        Assert.Equal(6UL, sink.Done.Single().Node.Seq);
        Assert.Equal(1, engine.Counters.NodesFound);
    }

    [Fact]
    public async Task Dial_concurrency_is_bounded_and_dials_start_while_discovery_runs()
    {
        var ch = Channel.CreateUnbounded<DiscoveryReport>();
        var dialer = new CountingDialer(hold: true);
        var sink = new MemorySink();
        var engine = new CrawlEngine(new ScriptedDiscovery(ch), dialer, sink, Options(concurrency: 3));
        var run = engine.RunAsync(CancellationToken.None);
        for (int i = 0; i < 30; i++) await ch.Writer.WriteAsync(new NodeFound(Node(i)));
        // discovery is still open: dials are already happening, as many as allowed and no more
        await dialer.Started.AtLeast(3);
        Assert.Equal(3, Volatile.Read(ref dialer.MaxInFlight));
        dialer.Release.SetResult();
        ch.Writer.Complete();
        await run;
        Assert.Equal(30, dialer.Dialled.Count);
        Assert.Equal(3, dialer.MaxInFlight);
    }

    private sealed class GatedDialer : IDialWorker
    {
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource FirstStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Started;
        public async Task<DialReport> DialAsync(DiscoveredNode node, CancellationToken ct)
        {
            Interlocked.Increment(ref Started);
            FirstStarted.TrySetResult();
            await Release.Task;
            return new DialReport(DialOutcomes.Ok, TimeSpan.Zero, null);
        }
    }

    [Fact]
    public async Task Max_duration_stops_discovery_lets_dials_finish_and_records_the_rest_as_not_dialled()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var ch = Channel.CreateUnbounded<DiscoveryReport>();   // never completed: only the deadline ends discovery
        var dialer = new GatedDialer();
        var sink = new MemorySink();
        var discovery = new ScriptedDiscovery(ch);
        var engine = new CrawlEngine(discovery, dialer, sink, Options(concurrency: 1, max: TimeSpan.FromMinutes(1)), time: time);
        var run = engine.RunAsync(CancellationToken.None);
        for (int i = 0; i < 10; i++) await ch.Writer.WriteAsync(new NodeFound(Node(i)));
        await sink.FoundCount.AtLeast(10);
        await dialer.FirstStarted.Task;

        time.Advance(TimeSpan.FromMinutes(1));   // the deadline: discovery stops, the dial in flight goes on
        await discovery.Ended.Task;
        Assert.False(run.IsCompleted, "the crawl must wait for the dial in flight");
        dialer.Release.SetResult();

        Assert.Equal(CrawlEnd.Deadline, await run);
        Assert.Equal(10, sink.Done.Count);
        Assert.Equal(1, sink.Done.Count(d => d.Dial is not null));
        Assert.Equal(1, dialer.Started);
        Assert.All(sink.Done.Where(d => d.Dial is null), d => Assert.Equal(NotDialledReasons.CrawlStopped, d.NotDialledReason));
    }

    [Fact]
    public async Task Abort_is_reported_and_keeps_every_found_node()
    {
        var ch = Channel.CreateUnbounded<DiscoveryReport>();
        var sink = new MemorySink();
        using var cts = new CancellationTokenSource();
        var dialer = new CountingDialer(hold: true);
        var engine = new CrawlEngine(new ScriptedDiscovery(ch), dialer, sink, Options(concurrency: 2));
        var run = engine.RunAsync(cts.Token);
        for (int i = 0; i < 20; i++) await ch.Writer.WriteAsync(new NodeFound(Node(i)));
        await sink.FoundCount.AtLeast(20);
        await dialer.Started.AtLeast(2);
        await cts.CancelAsync();          // aborted with dials in flight, which end on their own
        dialer.Release.SetResult();
        Assert.Equal(CrawlEnd.Aborted, await run);
        Assert.Equal(20, sink.Done.Count);
    }

    [Fact]
    public async Task A_dialer_that_throws_is_counted_as_other_and_the_crawl_goes_on()
    {
        var ch = Channel.CreateUnbounded<DiscoveryReport>();
        var sink = new MemorySink();
        var engine = new CrawlEngine(new ScriptedDiscovery(ch), new ThrowingDialer(), sink, Options());
        var run = engine.RunAsync(CancellationToken.None);
        await ch.Writer.WriteAsync(new NodeFound(Node(1)));
        await ch.Writer.WriteAsync(new NodeFound(Node(2)));
        ch.Writer.Complete();
        await run;
        Assert.Equal(2, sink.Done.Count);
        Assert.All(sink.Done, d => Assert.Equal("other", d.Dial!.Outcome));
        Assert.Equal(2, engine.Counters.FailuresByClass["other"]);
    }

    private sealed class ThrowingDialer : IDialWorker
    {
        public Task<DialReport> DialAsync(DiscoveredNode node, CancellationToken ct) => throw new InvalidOperationException("boom");
    }
}
