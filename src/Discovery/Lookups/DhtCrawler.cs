using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using ClP2p.Discovery.Handler;

namespace ClP2p.Discovery;

/// <summary>Something the crawler learnt.</summary>
public abstract record DiscoveryEvent;

/// <summary>A record seen for the first time, or with a higher seq than before. From = the node that returned it (null for seeds and walks' starting points).</summary>
public sealed record EnrDiscovered(Enr Enr, NodeId? From) : DiscoveryEvent
{
    /// <summary>
    /// The record carries an address its relayer cannot vouch for (a LAN or loopback address returned by a public node,
    /// which go-ethereum's netutil.CheckRelayIP refuses; see <see cref="DhtCrawlOptions.TrustRelay"/>). It is reported but never contacted, and should
    /// not be dialled.
    /// </summary>
    public bool RelayUntrusted { get; init; }
}

/// <summary>
/// The outcome of enumerating one node's table: whether it answered at all, whether every distance the enumeration
/// meant to ask was answered (<see cref="Complete"/>), how many distinct records it returned, the last error when it
/// did not answer or was left incomplete, how long the visit took (both passes) and how many FINDNODE requests were
/// sent. Only nodes the crawler contacted get one (records rejected by canContact only get <see cref="EnrDiscovered"/>).
/// </summary>
public sealed record NodeVisited(Enr Enr, bool Answered, int Neighbours, string? Error, TimeSpan Duration, int Requests) : DiscoveryEvent
{
    /// <summary>Every distance the enumeration meant to ask got an answer. False for a node that answered and then
    /// stopped (after the second pass gave up on it): its table is only partly known. A healthy crawl has none.</summary>
    public bool Complete { get; init; }

    /// <summary>The node needed the second pass (it missed an answer in the first).</summary>
    public bool SecondPass { get; init; }
}

/// <summary>The crawl-wide window of discv5 requests in flight over one run: where it started, its smallest and largest
/// size, its size now, and how many times it was halved because a first-pass request to a node that had answered timed
/// out (<paramref name="CutsByTimeout"/>) or because the handler's backlog of unread datagrams was over its bound
/// (<paramref name="CutsByBacklog"/>).</summary>
public sealed record CrawlWindowStats(int Initial, int Smallest, int Largest, int Current, int CutsByTimeout, int CutsByBacklog)
{
    /// <summary>Requests to nodes that had answered that timed out in the first pass (each may cut the window, at most
    /// once per <see cref="DhtCrawlOptions.CongestionCutInterval"/>).</summary>
    public int TimeoutsFirstPass { get; init; }

    /// <summary>Requests of the second pass to nodes that had answered that timed out (the slow and lossy nodes' own
    /// waits: they do not cut the window).</summary>
    public int TimeoutsSecondPass { get; init; }

    /// <summary>Answers that did not grow the window because the handler had a backlog past
    /// <see cref="DhtCrawlOptions.GrowHandlerBacklog"/> (it held its size instead).</summary>
    public int GrowthHeld { get; init; }

    /// <summary>Answers that did not grow the window because less than half of it was in use: room nobody asked for
    /// says nothing about what the handler can take, and grown unused it would let a later burst through whole.</summary>
    public int GrowthUnused { get; init; }
}

public sealed class DhtCrawlOptions
{
    /// <summary>Which records may be contacted (never private/reserved addresses unless this allows them).</summary>
    public Func<Enr, bool> CanContact { get; init; } = ContactFilters.PublicOnly;

    /// <summary>Whether a record's addresses may be trusted given the node that returned it (null for seeds); untrusted records are never contacted.</summary>
    public Func<Enr, Enr?, bool> TrustRelay { get; init; } = ContactFilters.RelayTrusted;

    /// <summary>
    /// First contacts at the same time: nodes in their first pass that have not answered yet. A node holds its slot
    /// until its first answer (or the end of its first pass), not for its whole enumeration: the rest of the visit is
    /// paced by the node's spacing and the crawl-wide window (<see cref="InitialRequestsInFlight"/>), and a slot held
    /// through 19 paced requests kept nodes found early from being contacted for many seconds. Half the records of a
    /// mainnet crawl point at nodes that are gone and hold their slot through a timeout and two retries
    /// (<see cref="FirstContactRetries"/>), so thousands at once cost memory, not CPU.
    /// </summary>
    public int MaxConcurrency { get; init; } = 2_000;

    /// <summary>
    /// FINDNODE requests in flight to one node at most; a node starts at one (until it answers), gains one per answer
    /// (in the second pass, the whole bound after an answer) and halves on a timeout. The spacing (<see cref="MinRequestSpacing"/>) still bounds the rate:
    /// a node answering in 50-300 ms never has more than two or three in flight; this bound matters for the slow ones,
    /// whose every answer takes 1-3 s: with 4, a table of 14 buckets took five or six of their round trips.
    /// </summary>
    public int MaxInFlightPerNode { get; init; } = 8;

    /// <summary>
    /// The bound of <see cref="MaxInFlightPerNode"/> in the second pass, where the slow nodes are. The spacing still
    /// paces the requests (8 a second), but a node whose answers take 3 s is no longer held to 8 of them per round trip:
    /// a table of 18 distances and the record refresh go out in one of its round trips instead of three.
    /// </summary>
    public int SecondPassMaxInFlightPerNode { get; init; } = 24;

    /// <summary>
    /// Least time between the starts of two requests to one node. Lighthouse's discv5 packet filter limits what one
    /// node id may send per second (a few packets); requests past it are dropped silently and would look like loss.
    /// Doubled on each timeout (up to <see cref="MaxRequestSpacing"/>), back to this on each answer.
    /// </summary>
    public TimeSpan MinRequestSpacing { get; init; } = TimeSpan.FromMilliseconds(125);

    /// <summary>
    /// Requests in flight to nodes that have answered, across the crawl: where the crawl-wide congestion window starts.
    /// It grows by one per answer (up to <see cref="MaxRequestsInFlight"/>) while at least half of it is in use and the
    /// handler keeps up with what arrives (<see cref="GrowHandlerBacklog"/>), holds its size otherwise (as TCP's window
    /// grows only while it limits the sender, RFC 7661), and is halved when this process falls behind
    /// on what it receives (<see cref="MaxHandlerBacklog"/>: the earliest sign, before the handler drops anything and
    /// the requests time out and are sent again) or when a node that answered before times out in the first pass
    /// (something between is overloaded: our socket, the path, or a host serving many nodes; a second pass's timeouts are
    /// the slow nodes' own, see <see cref="DhtCrawler.IsCongestionSignal"/>); at most once per
    /// <see cref="CongestionCutInterval"/>. Timeouts of first contacts (nodes that are gone, half of a mainnet crawl)
    /// say nothing about load and do not count.
    /// </summary>
    public int InitialRequestsInFlight { get; init; } = 256;

    /// <summary>Received datagrams waiting for the handler (<see cref="Discv5Node.HandlerBacklog"/>) past which the
    /// window is cut: the answers of the requests in flight arrive faster than this process handles them, and past
    /// <see cref="Discv5Options.MaxQueuedPacketsPerShard"/> they would be dropped and the requests retried.</summary>
    public int MaxHandlerBacklog { get; init; } = 2_048;

    /// <summary>
    /// Received datagrams waiting for the handler past which an answer no longer grows the window (it holds its size).
    /// Growth of one per answer doubles the window every round trip; with nothing to stop it but the cuts, the window
    /// overshot the handler's pace by far (16,384 requests in flight in a 20,000-record simulated crawl, ~70,000 answers
    /// on their way), and each overshoot ended in datagrams dropped over the handler's bound and the requests sent
    /// again. A backlog is the sign before the cut's: the answers already arrive faster than they are handled.
    /// A few receive batches (up to 64 datagrams each) are always in the queue of a handler that keeps up.
    /// </summary>
    public int GrowHandlerBacklog { get; init; } = 256;

    /// <summary>Least time between two cuts of the window (a cut takes a round trip or so to show).</summary>
    public TimeSpan CongestionCutInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Upper bound of the crawl-wide window (<see cref="InitialRequestsInFlight"/>). A request's answer is ~4 datagrams
    /// (a bucket of 16 records, ~300 bytes each, in 1,280-byte packets): 4,096 requests out at 50–300 ms round trips
    /// bring 50,000–300,000 datagrams a second, more than a handler of several cores takes, so the bound costs a crawl
    /// no pace; at 16,384 the window's overshoots, each answered by a halving only after the datagrams had been
    /// dropped over the handler's bound, cost a 20,000-record simulated crawl 2,000–20,000 requests sent again.
    /// </summary>
    public int MaxRequestsInFlight { get; init; } = 4_096;

    /// <summary>Lower bound of the crawl-wide window.</summary>
    public int MinRequestsInFlight { get; init; } = 32;

    /// <summary>Upper bound of the adaptive spacing.</summary>
    public TimeSpan MaxRequestSpacing { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Wait for one attempt of a first-pass request. Round trips on the internet are 50-300 ms; 1 s is several of them
    /// (discv5-theory suggests 500 ms, geth waits 700 ms), and what is slower gets the second pass. Null: the node's
    /// <see cref="Discv5Options.RequestTimeout"/> (1 s by default).
    /// </summary>
    public TimeSpan? FirstPassTimeout { get; init; }

    /// <summary>Retries of a first-pass request after a timeout (a lost packet costs one timeout, not a second pass).
    /// Null: the node's <see cref="Discv5Options.RequestRetries"/> (1 by default).</summary>
    public int? FirstPassRetries { get; init; }

    /// <summary>
    /// Retries of a first contact: a first-pass request to a node that has not answered yet (its first attempt is two
    /// round trips, the WHOAREYOU and the handshake's answer). Null: one more than <see cref="FirstPassRetries"/> (2 by
    /// default: three attempts, then one in the second pass). A live node whose every first contact's round trip is
    /// lost is never enumerated; at 1 % loss each way one round trip fails with p ≈ 0.02, and with three attempts in
    /// all a 20,000-record simulated crawl left a live node unanswered in about one crawl in thirteen (traced,
    /// docs/performance.md, "The census counts what the summary counts; the rare miss explained"); with four, about one
    /// in 640. At 5 % loss each way, ~9 live nodes in 10,000 with three attempts, ~1 with four. The price: one more
    /// datagram and 1 s more of its first-contact slot for each record of a node that is gone, half of mainnet's
    /// records.
    /// </summary>
    public int? FirstContactRetries { get; init; }

    /// <summary>
    /// Wait for one attempt in the second pass, which asks again every distance that got no answer in the first (and
    /// every node that never answered). A first contact takes two round trips (WHOAREYOU, then NODES), so a node whose
    /// every packet is 3 s late needs 6 s: 8 s leaves room for a loaded peer. (At 4 s, such a node's late challenge to
    /// an earlier attempt is answered after the node replaced it, the handshake is rejected, and attempts run out.)
    /// </summary>
    public TimeSpan SecondPassTimeout { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>
    /// Attempts per distance in the second pass (each a new request with <see cref="SecondPassTimeout"/>, no retry
    /// inside). A node that never sent us a packet gets one (<see cref="Discv5Node.HasResponded"/>); a node that stops
    /// answering is still left after <see cref="MaxConsecutiveFailures"/> failures in a row. Three, because for a node
    /// slower than the first pass's wait these are its only attempts: at 1 % loss two lost answers in a row are one
    /// request in 10,000, and with two attempts a simulated 20,000-record crawl with 30 % slow nodes on a loaded machine
    /// left 1–2 of them per crawl short of a distance, every other answer in (docs/performance.md, "Slow nodes' lost
    /// answers"). A third attempt is sent only while the node still answers other requests.
    /// </summary>
    public int SecondPassAttempts { get; init; } = 3;

    /// <summary>Nodes in their second pass at once. These mostly wait out timeouts of nodes that are gone, so many.</summary>
    public int SecondPassConcurrency { get; init; } = 10_000;

    /// <summary>First distance asked (then 255, 254, ...).</summary>
    public int StartDistance { get; init; } = 256;

    /// <summary>Lowest distance asked.</summary>
    public int MinDistance { get; init; } = 1;

    /// <summary>
    /// Every distance from <see cref="StartDistance"/> down to this one is asked, empty or not (as Nebula's discv5
    /// crawler does: 256 to 239). A table can hold a node alone in a low bucket below empty ones; an early stop misses it.
    /// </summary>
    public int AskAllDownTo { get; init; } = 239;

    /// <summary>Below <see cref="AskAllDownTo"/>, stop a node once this many buckets in a row came back empty.</summary>
    public int MaxConsecutiveEmpty { get; init; } = 3;

    /// <summary>
    /// Leave a pass of a node after this many failed requests in a row (each already retried by the node; Nebula stops
    /// at two timeouts). A node left in the first pass gets its second; one left in the second is done, and if it had
    /// answered before, incomplete (its outcome carries the error, its record is not refreshed). Only requests sent
    /// after the node's last answer count: one sent before it was lost, since the node still answered after it.
    /// </summary>
    public int MaxConsecutiveFailures { get; init; } = 2;

    /// <summary>
    /// Distances asked together in one FINDNODE below a sparse bucket. geth and sigp answer at most 16 records for the
    /// whole list (discv5-wire.md FINDNODE leaves the total to the implementation), so one distance per request is what
    /// reads a full bucket; but below the first bucket of a node that held at most half of 16, each bucket holds about
    /// half the one above, so the whole tail fits one answer: asked together, a 20,000-node network's tail costs one
    /// request instead of eight. An answer of 16 records may have been cut: its distances are asked again, half as many
    /// per request (down to one), and the width grows back once answers leave room.
    /// In the second pass (the slow nodes, whose answers take 1-3 s) the tail below <see cref="AskAllDownTo"/> is asked
    /// this way right away, beside the buckets above it, instead of a round trip after their answers.
    /// 1 asks every distance alone.
    /// </summary>
    public int TailDistancesPerRequest { get; init; } = 8;

    /// <summary>
    /// A distance whose buckets held at most this many records on average, over the nodes of this crawl that answered
    /// it (<see cref="SparseEstimateMinAnswers"/> of them at least), starts a node's tail right away: it is asked
    /// together with the distances below it (<see cref="TailDistancesPerRequest"/>), from the first request of the
    /// node's plan that reaches it. The node's own sparse bucket (see <see cref="TailDistancesPerRequest"/>) comes one
    /// round trip later, when requests paced a spacing apart have asked most of the tail one distance at a time: on a
    /// 20,000-record network a node was asked 19 requests where 13 read the same table. Ids are uniform, so each bucket
    /// below holds about half the one above: under 5 records on average, the whole tail of 8 distances averages under
    /// 10 and fits one answer of 16; an answer of 16 (maybe cut) is asked again half as wide, as any tail's is.
    /// 0 turns the crawl-wide estimate off.
    /// </summary>
    public double SparseEstimateMaxRecords { get; init; } = 5;

    /// <summary>Answers for one distance, across the crawl, before <see cref="SparseEstimateMaxRecords"/> trusts their mean.</summary>
    public int SparseEstimateMinAnswers { get; init; } = 32;

    /// <summary>Random-target lookups run beside the enumeration.</summary>
    public int RandomWalks { get; init; } = 3;

    /// <summary>After enumerating a node that answered, ask FINDNODE [0] for its current record (emitted when its seq is higher).</summary>
    public bool RefreshRecords { get; init; } = true;

    /// <summary>Bound on distinct nodes tracked in one crawl.</summary>
    public int MaxNodes { get; init; } = 1_000_000;
}

/// <summary>
/// Enumerates the reachable DHT from seed records, not only the part random walks reach first (walks such as geth's
/// RandomNodes miss its tail): every node found is asked FINDNODE for one distance per request, 256, 255, ... 239 at
/// least, then on until its buckets run dry, beside a few random walks. One distance per request because geth's
/// FINDNODE handler returns at most 16 records in all, whatever the list; the sparse tail, whose buckets together hold
/// fewer, goes several distances per request (<see cref="DhtCrawlOptions.TailDistancesPerRequest"/>,
/// <see cref="DhtCrawlOptions.SparseEstimateMaxRecords"/>), with the node's own record (the refresh) in the first.
/// <para>
/// Thousands of nodes are visited at once, each with a few requests in flight, paced per node. A node that misses an
/// answer (or never answers) in this first pass gets a second: the distances it did not answer are asked again with a
/// longer timeout, so a slow node's late answer (after the first pass gave the request up) is not lost and a node
/// slower than the first timeout is still enumerated. A node that answered but then stopped answering in the second
/// pass too is reported incomplete.
/// </para>
/// Emits every new or updated record and one outcome per contacted node; the stream ends when no node remains to ask.
/// </summary>
public sealed class DhtCrawler
{
    private readonly Discv5Node _node;
    private readonly DhtCrawlOptions _options;
    private readonly TimeProvider _time;

    public DhtCrawler(Discv5Node node, DhtCrawlOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(options);
        _node = node;
        _options = options;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The window of requests in flight of the last run (or of the one under way): its size, how often it was
    /// cut and why, and the timeouts of requests in it. Null before the first run.</summary>
    public CrawlWindowStats? WindowStats => _run?.Window.Stats();

    private Run? _run;

    /// <summary>The last run's own work (its passes, walks and visits), which ends after <see cref="RunAsync"/>'s
    /// enumeration when that was cancelled; for tests.</summary>
    internal Task? RunWork { get; private set; }

    public async IAsyncEnumerable<DiscoveryEvent> RunAsync(IEnumerable<Enr> seeds, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        var run = new Run(this, cancellationToken);
        _run = run;
        var task = run.StartAsync(seeds);
        RunWork = task;
        await foreach (var e in run.Events.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false)) yield return e;
        await task.ConfigureAwait(false);
    }

    /// <summary>What one request to a node came back with.</summary>
    private enum AskOutcome { Answered, Failed, Stopped }

    /// <summary>What one request came back with: it asked <paramref name="Count"/> distances from <paramref name="Distance"/>
    /// down, and went out at <paramref name="Sent"/> (a timestamp of the crawler's clock).</summary>
    private readonly record struct Answer(int Distance, AskOutcome Outcome, IReadOnlyList<Enr>? Records, string? Error, int Count = 1, long Sent = 0)
    {
        /// <summary>The request also asked distance 0, the node's own record (see <see cref="DhtCrawlOptions.RefreshRecords"/>).</summary>
        public bool WithSelf { get; init; }

        /// <summary>A bug of ours inside the request, rethrown by the pass that takes the answer.</summary>
        public Exception? Fault { get; init; }
    }

    /// <summary>
    /// The answers of one visit's requests, in the order they came back: a pass keeps several requests in flight and
    /// takes whichever ends first. (<c>Task.WhenAny</c> over the requests in flight made a promise and an array, and
    /// registered on every request, for each answer.)
    /// </summary>
    private sealed class Answers
    {
        private readonly Lock _gate = new();
        private readonly Queue<Answer> _queue = new();
        private readonly Pacer.Waiter _signal = new();
        private bool _waiting;

        /// <summary>Queues an answer; the pass waiting for one goes on at once, on this thread.</summary>
        public void Post(Answer answer)
        {
            bool wake;
            lock (_gate)
            {
                _queue.Enqueue(answer);
                wake = _waiting;
                _waiting = false;
            }
            if (wake) _signal.Complete(true);
        }

        public bool TryTake(out Answer answer)
        {
            lock (_gate) return _queue.TryDequeue(out answer);
        }

        /// <summary>Completes once an answer is queued (at once if one is). One waiter at a time: the visit's pass.</summary>
        public ValueTask<bool> WaitAsync()
        {
            lock (_gate)
            {
                if (_queue.Count > 0) return new ValueTask<bool>(true);
                _waiting = true;
                return _signal.Arm();
            }
        }
    }

    /// <summary>One node's enumeration across both passes.</summary>
    private sealed class Visit(Enr enr, long started)
    {
        /// <summary>Result per distance: <see cref="NotAsked"/>, <see cref="InFlight"/>, <see cref="Failed"/>, or the number of records.</summary>
        public const sbyte NotAsked = -3, InFlight = -2, Failed = -1;

        public Enr Enr { get; } = enr;
        public long Started { get; } = started;
        public sbyte[] Results { get; } = CreateResults();
        public byte[] SecondPassTries { get; } = new byte[257];
        public int Next { get; set; } = -1;
        /// <summary>Lowest distance asked so far: every distance from the start down to it is in the plan.</summary>
        public int Lowest { get; set; } = 257;
        /// <summary>Highest distance whose bucket held at most half of 16 records (0: none yet): the plan's distances
        /// below it are asked several at a time (<see cref="DhtCrawlOptions.TailDistancesPerRequest"/>).</summary>
        public int SparseAt { get; set; }
        /// <summary>Most distances one tail request of this node may ask: <see cref="DhtCrawlOptions.TailDistancesPerRequest"/>,
        /// halved each time a tail request came back with 16 records (maybe cut), down to one distance at a time.</summary>
        public int MaxGroup { get; set; } = 1;

        /// <summary>Whether the node's tail may still be asked several distances at a time.</summary>
        public bool TailGrouping => MaxGroup > 1;
        public bool Answered { get; set; }
        public bool SecondPass { get; set; }
        public bool GaveUp { get; set; }
        public bool RefreshAsked { get; set; }
        public int Requests { get; set; }
        public string? Error { get; set; }
        /// <summary>What the visit's paced waits (<see cref="Pacer"/>) await, one at a time.</summary>
        public Pacer.Waiter Pace { get; } = new();
        /// <summary>Answers of the visit's requests, as they come back.</summary>
        public Answers Answers { get; } = new();

        /// <summary>The first-pass slot (<see cref="DhtCrawlOptions.MaxConcurrency"/>) this visit holds until its first
        /// answer or the end of its first pass, whichever comes first.</summary>
        public SemaphoreSlim? Slot { get => _slot; init => _slot = value; }
        private SemaphoreSlim? _slot;

        /// <summary>Gives the slot back, once (the second pass may answer while the first pass's end releases it).</summary>
        public void ReleaseSlot() => Interlocked.Exchange(ref _slot, null)?.Release();

        private static sbyte[] CreateResults()
        {
            var r = new sbyte[257];
            Array.Fill(r, NotAsked);
            return r;
        }

        public bool AnyFailed()
        {
            foreach (var r in Results) if (r == Failed) return true;
            return false;
        }

        /// <summary>Distinct records the node returned: the sum over distances (a node is at one distance only, and the
        /// handler drops repeats within an answer). Distance 0, the node's own record, is not a neighbour.</summary>
        public int Neighbours()
        {
            int n = 0;
            for (int d = 1; d < Results.Length; d++) if (Results[d] > 0) n += Results[d];
            return n;
        }
    }

    private sealed class Run
    {
        private readonly DhtCrawler _c;
        private readonly DhtCrawlOptions _o;
        private readonly CancellationToken _ct;
        // read without the lock first: nearly every record of every answer is one already known
        private readonly ConcurrentDictionary<NodeId, Enr> _known = new();
        private int _knownCount;
        private readonly HashSet<NodeId> _queued = [];
        private readonly Channel<Enr> _work = Channel.CreateUnbounded<Enr>(new UnboundedChannelOptions { SingleReader = true });
        private readonly SemaphoreSlim _secondPassSlots;
        private readonly RequestOptions _firstPassRequest, _firstContactRequest, _secondPassRequest;
        public Window Window { get; }
        private readonly Pacer _pacer;
        // answers and records per distance over the whole crawl (see DhtCrawlOptions.SparseEstimateMaxRecords)
        private readonly long[] _distanceAnswers = new long[257], _distanceRecords = new long[257];
        // visits queued or running, plus one while StartAsync offers the seeds; the walks are not counted (see Done)
        private int _outstanding;
        // under the _known lock: the enumeration is over, and what a walk still brings is not taken
        private bool _ended;
        private readonly CancellationTokenSource _walksStop;
        // the run's requests, cancelled together with the crawl's token (one registration for all of them, see Ask)
        private readonly RequestGroup _requests = new();
        private readonly CancellationTokenRegistration _requestsWatch;
        // first passes running, plus one for the dispatcher while it takes nodes
        private int _firstPasses = 1;
        private readonly TaskCompletionSource _firstPassesEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private System.Runtime.ExceptionServices.ExceptionDispatchInfo? _fault;

        public Run(DhtCrawler c, CancellationToken ct)
        {
            _c = c;
            _o = c._options;
            _ct = ct;
            _walksStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _secondPassSlots = new SemaphoreSlim(Math.Max(1, _o.SecondPassConcurrency));
            _firstPassRequest = new RequestOptions { Timeout = _o.FirstPassTimeout, Retries = _o.FirstPassRetries };
            _firstContactRequest = new RequestOptions
            {
                Timeout = _o.FirstPassTimeout,
                Retries = Math.Max(0, _o.FirstContactRetries ?? (_o.FirstPassRetries ?? c._node.RequestRetries) + 1),
            };
            _secondPassRequest = new RequestOptions { Timeout = _o.SecondPassTimeout, Retries = 0 };
            _pacer = new Pacer(c._time, ct);
            Window = new Window(_o.InitialRequestsInFlight, _o.MinRequestsInFlight, _o.MaxRequestsInFlight, _o.CongestionCutInterval, c._time,
                () => c._node.HandlerBacklog, _o.GrowHandlerBacklog, _o.MaxHandlerBacklog);
            Window.Watch(ct);
            _requestsWatch = ct.UnsafeRegister(static r => ((Run)r!)._c._node.CancelGroup(((Run)r!)._requests), this);
        }

        public Channel<DiscoveryEvent> Events { get; } = Channel.CreateUnbounded<DiscoveryEvent>(new UnboundedChannelOptions { SingleReader = true });

        public async Task StartAsync(IEnumerable<Enr> seeds)
        {
            Interlocked.Increment(ref _outstanding);
            var workers = new List<Task>();
            try
            {
                // the walks start from the seeds themselves: taken from what is known once the workers run, they
                // could include records a worker already had from a node (their relayer), and a walk would contact
                // them as seeds, trusted or not
                var seedList = seeds.ToArray();
                foreach (var s in seedList) Offer(s, null);
                workers.Add(Task.Run(DispatchAsync, CancellationToken.None));
                for (int i = 0; i < _o.RandomWalks; i++) workers.Add(Task.Run(() => WalkAsync(seedList), CancellationToken.None));
            }
            finally
            {
                Done();
            }
            try
            {
                await Task.WhenAll(workers).ConfigureAwait(false);
                // second passes run outside the workers; the work channel completes once the last one is done
                await _work.Reader.Completion.ConfigureAwait(false);
            }
            finally
            {
                Events.Writer.TryComplete();
                _secondPassSlots.Dispose();
                _pacer.Dispose();
                Window.Unwatch();
                _requestsWatch.Dispose();
                _walksStop.Dispose();
            }
        }

        /// <summary>
        /// A visit ended. After the last one the enumeration is over, and the random walks are stopped rather than
        /// waited for: every node a walk asks is one the enumeration visited too (the same contact and trust rules), and
        /// a visit asks each node for its table, so a walk brings little the visits did not. Waited for, a walk through a
        /// network where most records are gone asks one gone node after another (α = 3 at a time, each through its
        /// timeouts): a simulated crawl of 20,000 records, 90 % of them gone, ran 70 s past its last visit
        /// (docs/performance.md, "Random walks no longer hold a crawl open").
        /// </summary>
        private void Done()
        {
            if (Interlocked.Decrement(ref _outstanding) != 0) return;
            lock (_known)
            {
                // an Offer may have queued a visit since the count reached zero
                if (_ended || Volatile.Read(ref _outstanding) != 0) return;
                _ended = true;
            }
            // the walks first: the run disposes of their source once the channel is complete and they have ended (or
            // at once when a first pass faulted, while second passes may still end here)
            try { _walksStop.Cancel(); }
            catch (ObjectDisposedException) { }
            _work.Writer.TryComplete();
        }

        private void Offer(Enr enr, Enr? relayer)
        {
            // this very instance was offered to this run before: whatever it brought is known (records are only added)
            if (ReferenceEquals(Volatile.Read(ref enr.OfferedTo), this)) return;
            if (enr.NodeId == _c._node.LocalId) return;
            if (_known.TryGetValue(enr.NodeId, out var seen) && seen.Seq >= enr.Seq)
            {
                Volatile.Write(ref enr.OfferedTo, this);
                return;
            }
            bool visit;
            lock (_known)
            {
                if (_ended) return;
                Volatile.Write(ref enr.OfferedTo, this);
                if (_known.TryGetValue(enr.NodeId, out var old) && old.Seq >= enr.Seq) return;
                if (old is null && _knownCount >= _o.MaxNodes) return;
                _known[enr.NodeId] = enr;
                if (old is null) _knownCount++;
                bool trusted = _o.TrustRelay(enr, relayer);
                if (!trusted) Discv5Metrics.RecordsUntrusted.Add(1);
                Events.Writer.TryWrite(new EnrDiscovered(enr, relayer?.NodeId) { RelayUntrusted = !trusted });
                visit = trusted && _o.CanContact(enr) && enr.UdpEndPoint != null && _queued.Add(enr.NodeId);
                if (visit) Interlocked.Increment(ref _outstanding);
            }
            if (visit) _work.Writer.TryWrite(enr);
        }

        private async Task WalkAsync(Enr[] seeds)
        {
            try
            {
                Span<byte> t = stackalloc byte[32];
                System.Security.Cryptography.RandomNumberGenerator.Fill(t);
                await _c._node.LookupCoreAsync(new NodeId(t), null, 16, seeds, Offer, _walksStop.Token, _o.CanContact, _o.TrustRelay).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // the crawl was cancelled, or its enumeration is over (Done): the walk ends with it
            }
        }

        /// <summary>One reader takes queued nodes and starts each first pass as one of
        /// <see cref="DhtCrawlOptions.MaxConcurrency"/> slots frees; returns once the queue is done (or the crawl is
        /// cancelled) and every first pass has ended. (Thousands of workers each waiting on the queue were all woken by
        /// every node queued.)</summary>
        private async Task DispatchAsync()
        {
            int slots = Math.Max(1, _o.MaxConcurrency);
            using var free = new SemaphoreSlim(slots, slots);
            try
            {
                while (await _work.Reader.WaitToReadAsync(_ct).ConfigureAwait(false))
                {
                    while (_work.Reader.TryRead(out var enr))
                    {
                        await free.WaitAsync(_ct).ConfigureAwait(false);
                        Interlocked.Increment(ref _firstPasses);
                        _ = FirstPassAsync(enr, free);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // the crawl was cancelled: no more nodes are taken
            }
            // a first pass gives its slot back at its node's first answer, and goes on: wait for their ends
            if (Interlocked.Decrement(ref _firstPasses) == 0) _firstPassesEnded.TrySetResult();
            await _firstPassesEnded.Task.ConfigureAwait(false);
            _fault?.Throw();
        }

        private async Task FirstPassAsync(Enr enr, SemaphoreSlim free)
        {
            var v = new Visit(enr, _c._time.GetTimestamp()) { Next = _o.StartDistance, Slot = free, MaxGroup = Math.Max(1, _o.TailDistancesPerRequest) };
            bool finished = true;
            try
            {
                await PassAsync(v).ConfigureAwait(false);
                if (!v.GaveUp && (!v.Answered || v.AnyFailed()) && !_ct.IsCancellationRequested)
                {
                    // the second pass runs outside the first pass's slot, which goes on to the next node
                    finished = false;
                    v.SecondPass = true;
                    v.ReleaseSlot();
                    _ = SecondPassAsync(v);
                }
                else
                {
                    Finish(v);
                }
            }
            catch (OperationCanceledException)
            {
                // the crawl was cancelled: the visit ends with it
            }
#pragma warning disable CA1031 // kept and rethrown by the dispatcher once every first pass has ended, as a failed worker was
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref _fault, System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex), null);
            }
            finally
            {
                if (finished) Done();
                v.ReleaseSlot();
                if (Interlocked.Decrement(ref _firstPasses) == 0) _firstPassesEnded.TrySetResult();
            }
        }

        private async Task SecondPassAsync(Visit v)
        {
            try
            {
                await _secondPassSlots.WaitAsync(_ct).ConfigureAwait(false);
                try
                {
                    // distances that failed in the first pass are asked again; the rest of the plan goes on from v.Next
                    for (int d = 0; d < v.Results.Length; d++) if (v.Results[d] == Visit.Failed) v.Results[d] = Visit.NotAsked;
                    await PassAsync(v).ConfigureAwait(false);
                }
                finally
                {
                    _secondPassSlots.Release();
                }
            }
            catch (OperationCanceledException)
            {
                v.Error ??= "cancelled";
            }
            finally
            {
                Finish(v);
                Done();
            }
        }

        private void Finish(Visit v)
        {
            int neighbours = v.Neighbours();
            bool complete = v.Answered && !v.GaveUp && !v.AnyFailed() && !_ct.IsCancellationRequested;
            var outcome = new NodeVisited(v.Enr, v.Answered, neighbours, complete ? null : v.Error ?? "cancelled",
                _c._time.GetElapsedTime(v.Started), v.Requests)
            {
                Complete = complete,
                SecondPass = v.SecondPass,
            };
            Events.Writer.TryWrite(outcome);
        }

        /// <summary>
        /// One pass over a node: keeps up to a window of requests in flight, paced, until its plan is done or the pass
        /// gives up. First pass: a node that has not answered gets one request at a time and is left at its first
        /// failure; the pass ends after <see cref="DhtCrawlOptions.MaxConsecutiveFailures"/> failures in a row. Second
        /// pass: every distance gets <see cref="DhtCrawlOptions.SecondPassAttempts"/> tries.
        /// </summary>
        private async Task PassAsync(Visit v)
        {
            bool second = v.SecondPass;
            int bound = second ? Math.Max(_o.MaxInFlightPerNode, _o.SecondPassMaxInFlightPerNode) : _o.MaxInFlightPerNode;
            int inflight = 0;
            // the second pass is where the slow nodes are: once one answers there, it gets the whole bound at once (the
            // spacing still paces the requests)
            int afterAnswer = second ? bound : 1;
            int window = v.Answered ? Math.Min(2, bound) : 1;
            var spacing = _o.MinRequestSpacing;
            long lastStart = 0;
            int failuresInRow = 0;
            long lastAnswer = 0;
            bool stop = false;
            while (true)
            {
                while (!stop && inflight < (v.Answered ? window : 1) && TryNextDistance(v, second, out int d, out int count))
                {
                    if (lastStart != 0 && spacing > TimeSpan.Zero)
                    {
                        long due = lastStart + (long)Math.Ceiling(spacing.Ticks * (double)_c._time.TimestampFrequency / TimeSpan.TicksPerSecond);
                        if (due > _c._time.GetTimestamp() && !await _pacer.WaitUntilAsync(v.Pace, due).ConfigureAwait(false))
                        {
                            v.Results[d] = Visit.NotAsked; stop = true; v.Error ??= "cancelled"; break;
                        }
                    }
                    // a node that answered waits here for room in the crawl-wide window, one request at a time: queued
                    // inside the window, a node's requests went out together when it opened, closer than the spacing,
                    // and tens of thousands of waiting requests outlived gen-0 collections
                    bool windowed = v.Answered;
                    if (windowed)
                    {
                        try { await Window.EnterAsync(_ct).ConfigureAwait(false); }
                        catch (OperationCanceledException) { v.Results[d] = Visit.NotAsked; stop = true; v.Error ??= "cancelled"; break; }
                    }
                    lastStart = _c._time.GetTimestamp();
                    for (int k = 0; k < count; k++) v.Results[d - k] = Visit.InFlight;
                    if (d > 0) v.Lowest = Math.Min(v.Lowest, d - count + 1);
                    v.Requests++;
                    if (d == 0) v.RefreshAsked = true;
                    // the record refresh rides on the node's first tail request, one request fewer per node: distance 0
                    // first in its list, so that its answer holds the node's own record before the 16-record limit
                    // (geth answers the distances in the list's order; sigp puts the node's own record first anyway)
                    bool withSelf = !second && count > 1 && v.Answered && _o.RefreshRecords && !v.RefreshAsked;
                    if (withSelf) v.RefreshAsked = true;
                    inflight++;
                    AskNode(v, d, count, second, windowed, withSelf);
                }
                if (inflight == 0) break;
                Answer a;
                while (!v.Answers.TryTake(out a)) await v.Answers.WaitAsync().ConfigureAwait(false);
                inflight--;
                if (a.Fault is { } fault) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(fault);
                switch (a.Outcome)
                {
                    case AskOutcome.Answered:
                        v.Answered = true;
                        v.ReleaseSlot();
                        failuresInRow = 0;
                        lastAnswer = Math.Max(lastAnswer, _c._time.GetTimestamp());
                        window = Math.Min(Math.Max(window + 1, afterAnswer), bound);
                        spacing = _o.MinRequestSpacing;
                        if (a.Distance == 0)
                        {
                            v.Results[0] = 0;
                            if (a.Records is [var self] && self.NodeId == v.Enr.NodeId) Offer(self, v.Enr);
                            break;
                        }
                        // the node's own record, when it rode on this request: offered with the others below; when it
                        // was cut from a full answer, the refresh is asked again later
                        int tailRecords = a.Records!.Count;
                        if (a.WithSelf)
                        {
                            bool selfCame = false;
                            for (int k = 0; k < a.Records.Count; k++) selfCame |= a.Records[k].NodeId == v.Enr.NodeId;
                            if (selfCame) { v.Results[0] = 0; tailRecords--; }
                            else v.RefreshAsked = false;
                        }
                        if (a.Count == 1)
                        {
                            CountBucket(a.Distance, a.Records!.Count);
                            v.Results[a.Distance] = (sbyte)Math.Min(a.Records!.Count, sbyte.MaxValue);
                            RegrowGroup(v, a.Records.Count);
                            if (a.Records.Count <= Discv5Node.MaxRecordsPerDistance / 2 && a.Distance > v.SparseAt) v.SparseAt = a.Distance;
                        }
                        else if (a.Records!.Count >= Discv5Node.MaxRecordsPerDistance)
                        {
                            // maybe cut at 16 for the whole list: its distances are asked again, half as many per request
                            // (down to one at a time); one at a time, a cut tail of 8 cost 8 more requests
                            v.MaxGroup = Math.Min(v.MaxGroup, Math.Max(1, a.Count / 2));
                            for (int k = 0; k < a.Count; k++) v.Results[a.Distance - k] = Visit.NotAsked;
                        }
                        else
                        {
                            for (int k = 0; k < a.Count; k++) v.Results[a.Distance - k] = 0;
                            for (int j = 0; j < a.Records.Count; j++)
                            {
                                int ld = NodeId.LogDistance(a.Records[j].NodeId, v.Enr.NodeId);
                                if (ld <= a.Distance && ld > a.Distance - a.Count) v.Results[ld]++;
                            }
                            for (int k = 0; k < a.Count; k++) CountBucket(a.Distance - k, v.Results[a.Distance - k]);
                            RegrowGroup(v, tailRecords);
                        }
                        // by index: a foreach over the interface would box the list's enumerator per answer
                        for (int j = 0; j < a.Records.Count; j++) Offer(a.Records[j], v.Enr);
                        break;
                    case AskOutcome.Failed:
                        v.Error = a.Error;
                        if (a.WithSelf) v.RefreshAsked = false;   // asked on its own once the distances are answered
                        window = Math.Max(1, window / 2);
                        spacing = TimeSpan.FromTicks(Math.Min(Math.Max(spacing.Ticks, TimeSpan.FromMilliseconds(50).Ticks) * 2, _o.MaxRequestSpacing.Ticks));
                        if (a.Distance == 0)
                        {
                            v.Results[0] = 0;   // the record refresh is best effort
                            break;
                        }
                        // a request sent before the node's last answer was lost, not left unanswered by a node that
                        // stopped: with many in flight, two such losses in a row must not end the pass
                        if (a.Sent > lastAnswer) failuresInRow++;
                        if (second && ++v.SecondPassTries[a.Distance] < _o.SecondPassAttempts && failuresInRow < _o.MaxConsecutiveFailures)
                        {
                            // tried again in this pass (the distances of a tail request one by one)
                            for (int k = 0; k < a.Count; k++) v.Results[a.Distance - k] = Visit.NotAsked;
                        }
                        else
                        {
                            for (int k = 0; k < a.Count; k++) v.Results[a.Distance - k] = Visit.Failed;
                        }
                        // a node that never answered, or stopped answering, ends this pass; in the second, for good. In
                        // the second, a node that has never sent us a packet at all (no WHOAREYOU to any of ours: a
                        // record of a node that is gone, half of a mainnet crawl) gets one attempt, not two
                        if (failuresInRow >= _o.MaxConsecutiveFailures || (!second && !v.Answered)
                            || (second && v.SecondPassTries[a.Distance] >= _o.SecondPassAttempts)
                            || (second && !v.Answered && !_c._node.HasResponded(v.Enr.NodeId)))
                        {
                            stop = true;
                            if (second) v.GaveUp = true;
                        }
                        break;
                    default:
                        for (int k = 0; k < a.Count; k++) v.Results[a.Distance - k] = Visit.Failed;
                        v.Error = a.Error;
                        v.GaveUp = true;
                        stop = true;
                        break;
                }
            }
        }

        /// <summary>
        /// The next distance to ask: first a distance to try again (second pass), then the plan's next one. Below
        /// <see cref="DhtCrawlOptions.AskAllDownTo"/> the plan goes on only while the buckets just above are not all
        /// empty, and waits while one of them is in flight (so it asks exactly what a one-at-a-time walk would ask).
        /// The node's own record (distance 0) is asked last, once every other distance has been asked.
        /// </summary>
        private bool TryNextDistance(Visit v, bool second, out int distance, out int count)
        {
            distance = 0;
            count = 1;
            var r = v.Results;
            for (int d = _o.StartDistance; d >= v.Lowest && d >= 1; d--)
            {
                if (r[d] != Visit.NotAsked) continue;
                distance = d;
                // distances asked again (a cut tail, or the second pass's retries): a tail's still go several at a time
                if (v.TailGrouping && InTail(v, second, d))
                    while (count < v.MaxGroup && d - count >= Math.Max(v.Lowest, 1) && r[d - count] == Visit.NotAsked) count++;
                return true;
            }
            while (v.Next >= Math.Max(1, _o.MinDistance))
            {
                int d = v.Next;
                if (d < _o.AskAllDownTo)
                {
                    int empties = 0;
                    bool wait = false;
                    for (int k = 1; k <= _o.MaxConsecutiveEmpty && d + k <= _o.StartDistance; k++)
                    {
                        sbyte x = r[d + k];
                        if (x == Visit.InFlight) { wait = true; break; }
                        if (x == 0) empties++;
                        else break;
                    }
                    // the second pass is where the slow nodes are (every answer 1-3 s late): the tail is asked as one
                    // request (see TailDistancesPerRequest) at once, not a round trip after the buckets above it; a
                    // further group waits for that one, and the record refresh goes out meanwhile
                    if (wait && !(second && v.TailGrouping && !TailGroupInFlight(v)))
                    {
                        if (second && CanRefresh(v)) { distance = 0; return true; }
                        return false;
                    }
                    if (empties >= _o.MaxConsecutiveEmpty) { v.Next = 0; break; }
                }
                distance = d;
                if (v.TailGrouping && InTail(v, second, d))
                {
                    // the tail below a sparse bucket, several distances at once (see TailDistancesPerRequest)
                    while (count < v.MaxGroup && d - count >= Math.Max(1, _o.MinDistance) && r[d - count] == Visit.NotAsked) count++;
                }
                v.Next = d - count;
                return true;
            }
            // once every distance of the plan is asked (not necessarily answered: waiting for the last answers would
            // cost a slow node one more of its round trips)
            if (!CanRefresh(v)) return false;
            distance = 0;
            return true;
        }

        /// <summary>Whether a distance is in the node's tail, asked several at a time: below the node's own sparse
        /// bucket, or sparse across the crawl (first pass); below <see cref="DhtCrawlOptions.AskAllDownTo"/> (second).</summary>
        private bool InTail(Visit v, bool second, int d) =>
            second ? d < _o.AskAllDownTo : (v.SparseAt > 0 && d < v.SparseAt) || SparseAcrossCrawl(d);

        /// <summary>After a cut tail (see <see cref="Visit.MaxGroup"/>), an answer with room to spare (at most half of 16
        /// records) doubles the distances per request again: buckets further down hold fewer records.</summary>
        private void RegrowGroup(Visit v, int records)
        {
            if (v.MaxGroup < _o.TailDistancesPerRequest && records <= Discv5Node.MaxRecordsPerDistance / 2)
                v.MaxGroup = Math.Min(_o.TailDistancesPerRequest, v.MaxGroup * 2);
        }

        private void CountBucket(int distance, int records)
        {
            if (distance <= 0 || distance > 256) return;
            Interlocked.Increment(ref _distanceAnswers[distance]);
            Interlocked.Add(ref _distanceRecords[distance], records);
        }

        /// <summary>The crawl's nodes held few records at this distance (see <see cref="DhtCrawlOptions.SparseEstimateMaxRecords"/>).</summary>
        private bool SparseAcrossCrawl(int distance)
        {
            if (_o.SparseEstimateMaxRecords <= 0 || distance <= 0 || distance > 256) return false;
            // this distance's own mean, or the one above at most twice the bound (each bucket holds about half the one
            // above): nodes enumerated at once reach a distance together, and the one above is answered a request earlier
            return MeanAtMost(distance, _o.SparseEstimateMaxRecords) || (distance < 256 && MeanAtMost(distance + 1, 2 * _o.SparseEstimateMaxRecords));
        }

        private bool MeanAtMost(int distance, double bound)
        {
            long answers = Volatile.Read(ref _distanceAnswers[distance]);
            return answers >= Math.Max(1, _o.SparseEstimateMinAnswers) && Volatile.Read(ref _distanceRecords[distance]) <= bound * answers;
        }

        /// <summary>Whether the node's own record (FINDNODE [0]) may be asked now: once, after it answered, and not while
        /// a distance failed (the second pass asks it again).</summary>
        private bool CanRefresh(Visit v)
        {
            if (!_o.RefreshRecords || v.RefreshAsked || !v.Answered || _ct.IsCancellationRequested) return false;
            for (int d = 1; d <= _o.StartDistance; d++) if (v.Results[d] is Visit.Failed) return false;
            return true;
        }

        /// <summary>A request for distances below <see cref="DhtCrawlOptions.AskAllDownTo"/> is in flight.</summary>
        private bool TailGroupInFlight(Visit v)
        {
            for (int d = Math.Min(_o.AskAllDownTo - 1, _o.StartDistance); d >= Math.Max(1, v.Lowest); d--)
                if (v.Results[d] == Visit.InFlight) return true;
            return false;
        }

        /// <summary>One request of a visit; its answer goes to <see cref="Visit.Answers"/> (see <see cref="Ask"/>).</summary>
        /// <param name="windowed">The request holds a place in the crawl-wide window (taken by the caller), given back when it ends.</param>
        /// <param name="withSelf">Distance 0 (the node's own record) goes first in the request's list.</param>
        private void AskNode(Visit v, int distance, int count, bool second, bool windowed, bool withSelf = false) =>
            new Ask(this, v, distance, count, second, windowed, withSelf).Send();

        /// <summary>
        /// One request of a visit and what it came back with, posted to <see cref="Visit.Answers"/>. The request's
        /// outcome comes to <see cref="OnOutcome"/> on the thread that hands the handler's answers on (or at once, when it
        /// cannot start); nothing is awaited: this object is the request's whole state on our side, where an async method
        /// per request cost its state machine, a task and its completion source, and a registration on the crawl's token
        /// (the run's <see cref="RequestGroup"/> is watched once instead). Never faults: a bug of ours inside goes to the
        /// pass as <see cref="Answer.Fault"/>.
        /// </summary>
        private sealed class Ask : IRequestSink<IReadOnlyList<Enr>>
        {
            private readonly Run _run;
            private readonly Visit _v;
            private readonly int _distance, _count;
            private readonly bool _second, _windowed, _withSelf;
            private readonly int[] _distances;
            private readonly RequestOptions _options;
            private long _sent;
            private int _ended;

            public Ask(Run run, Visit v, int distance, int count, bool second, bool windowed, bool withSelf)
            {
                (_run, _v, _distance, _count, _second, _windowed, _withSelf) = (run, v, distance, count, second, windowed, withSelf);
                int first = withSelf ? 1 : 0;
                if (count == 1 && !withSelf)
                {
                    _distances = Discv5Node.SingleDistance(distance);   // shared, only read
                }
                else
                {
                    _distances = new int[count + first];
                    for (int k = 0; k < count; k++) _distances[first + k] = distance - k;
                }
                // a node's first contact gets one more attempt than its later first-pass requests (see FirstContactRetries)
                _options = second ? run._secondPassRequest : v.Answered ? run._firstPassRequest : run._firstContactRequest;
            }

            public void Send()
            {
                try
                {
                    _sent = _run._c._time.GetTimestamp();
                    _run._c._node.FindNode(_v.Enr, _distances, _options, this, _run._requests);
                }
#pragma warning disable CA1031 // handed to the pass, which rethrows it
                catch (Exception e)
#pragma warning restore CA1031
                {
                    End(new Answer(_distance, AskOutcome.Stopped, null, e.Message, _count) { Fault = e }, ok: false, congested: false);
                }
            }

            public void OnOutcome(RequestResult<IReadOnlyList<Enr>> res, bool cancelled)
            {
                try
                {
                    if (cancelled)
                    {
                        End(new Answer(_distance, AskOutcome.Stopped, null, "cancelled", _count), ok: false, congested: false);
                    }
                    else if (res.TryGetValue(out var found))
                    {
                        End(new Answer(_distance, AskOutcome.Answered, found, null, _count, _sent) { WithSelf = _withSelf }, ok: true, congested: false);
                    }
                    else if (res.Failure == RequestFailure.TooManyPending)
                    {
                        // our own bound on requests in flight, not the remote's fault: wait for room
                        _ = RetryLaterAsync();
                    }
                    else if (res.Failure == RequestFailure.Disposed)
                    {
                        End(new Answer(_distance, AskOutcome.Stopped, null, "node disposed", _count), ok: false, congested: false);
                    }
                    else
                    {
                        bool congested = IsCongestionSignal(res.Failure, _second);
                        if (_windowed && res.Failure == RequestFailure.Timeout) _run.Window.CountTimeout(_second);
                        End(new Answer(_distance, AskOutcome.Failed, null, res.Failure.ToString(), _count, _sent) { WithSelf = _withSelf }, ok: false, congested);
                    }
                }
#pragma warning disable CA1031 // handed to the pass, which rethrows it; never thrown into the handler's delivery
                catch (Exception e)
#pragma warning restore CA1031
                {
                    End(new Answer(_distance, AskOutcome.Stopped, null, e.Message, _count) { Fault = e }, ok: false, congested: false);
                }
            }

            private async Task RetryLaterAsync()
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50), _run._c._time, _run._ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    End(new Answer(_distance, AskOutcome.Stopped, null, "cancelled", _count), ok: false, congested: false);
                    return;
                }
                Send();
            }

            /// <summary>Once per request: its place in the window given back, its answer to the pass.</summary>
            private void End(Answer answer, bool ok, bool congested)
            {
                if (Interlocked.Exchange(ref _ended, 1) != 0) return;
                try
                {
                    if (_windowed) _run.Window.Exit(ok, congested);
                }
                finally
                {
                    _v.Answers.Post(answer);
                }
            }
        }
    }

    /// <summary>
    /// Whether a failed request to a node that answered before cuts the crawl-wide window: a first-pass timeout does
    /// (something on the way may be overloaded); a second pass's does not. The second pass is for the nodes that were
    /// slow or lossy in the first, and its timeouts are theirs: one lost packet of an answer's five spends the whole
    /// 8 s wait. Counted as load, they held the window down on a network of slow, lossy nodes: its crawl took 291 s
    /// with them counted, 51 s without (docs/performance.md, "A network of slow nodes only").
    /// </summary>
    internal static bool IsCongestionSignal(RequestFailure? failure, bool secondPass) =>
        failure == RequestFailure.Timeout && !secondPass;

    /// <summary>The crawl-wide congestion window of requests in flight to nodes that answered (grown per answer while the
    /// handler keeps up, held while it has a backlog, halved when it falls behind or a first-pass request times out;
    /// see <see cref="DhtCrawlOptions.InitialRequestsInFlight"/>). <paramref name="backlog"/>: datagrams waiting for the
    /// handler; past <paramref name="growBelow"/> an answer holds the window, past <paramref name="cutAbove"/> it cuts it.</summary>
    internal sealed class Window(int initial, int min, int max, TimeSpan cutInterval, TimeProvider time, Func<int> backlog, int growBelow, int cutAbove)
    {
        private readonly Lock _gate = new();
        // the crawl's own token, watched once for all its waiters (see Watch)
        private CancellationToken _crawl;
        private CancellationTokenRegistration _watch;
        private readonly Queue<(TaskCompletionSource Waiter, bool Watched)> _waiting = new();
        private readonly int _min = Math.Max(1, min);
        private readonly int _max = Math.Max(Math.Max(1, min), max);
        private double _limit = Start(initial, min, max);
        private int _inFlight;
        private long _lastCut;
        // for Stats
        private readonly int _initial = Start(initial, min, max);
        private int _smallest = Start(initial, min, max), _largest = Start(initial, min, max);
        private int _cutsByTimeout, _cutsByBacklog, _timeoutsFirstPass, _timeoutsSecondPass, _growthHeld, _growthUnused;

        private static int Start(int initial, int min, int max) => Math.Clamp(initial, Math.Max(1, min), Math.Max(Math.Max(1, min), max));

        /// <summary>The window's size over the run so far, its cuts by cause, and the timeouts of requests in it.</summary>
        public CrawlWindowStats Stats()
        {
            lock (_gate)
            {
                return new CrawlWindowStats(_initial, _smallest, _largest, (int)_limit, _cutsByTimeout, _cutsByBacklog)
                {
                    TimeoutsFirstPass = _timeoutsFirstPass,
                    TimeoutsSecondPass = _timeoutsSecondPass,
                    GrowthHeld = _growthHeld,
                    GrowthUnused = _growthUnused,
                };
            }
        }

        /// <summary>A request in the window (to a node that had answered) timed out, in the first pass or the second.</summary>
        public void CountTimeout(bool secondPass)
        {
            lock (_gate)
            {
                if (secondPass) _timeoutsSecondPass++;
                else _timeoutsFirstPass++;
            }
        }

        // set while this thread hands room in the window to waiters: a waiter that goes on here and ends its own
        // request at once (a node disposed under the crawl) hands its room on through the pool, not deeper on this stack
        [ThreadStatic] private static bool t_handingOn;

        /// <summary>
        /// Watches the crawl's token once for all the waiters that pass it to <see cref="EnterAsync"/>: when it is
        /// cancelled, they are all cancelled (on the pool), and later ones at once. Most of a crawl's requests wait here,
        /// and a registration of the token per wait (with the async method that held it) was two objects and a lock on
        /// the token's callback list for each of them.
        /// </summary>
        public void Watch(CancellationToken crawl)
        {
            if (!crawl.CanBeCanceled) return;
            lock (_gate) _crawl = crawl;
            _watch = crawl.UnsafeRegister(static s => ((Window)s!).CancelWaiters(), this);
        }

        /// <summary>The run is over: the crawl's token (which may outlive it) no longer holds the window; a later wait on
        /// it is watched for itself, as any other token's.</summary>
        public void Unwatch()
        {
            _watch.Dispose();
            lock (_gate) _crawl = default;
        }

        private void CancelWaiters()
        {
            List<TaskCompletionSource> waiting = [];
            lock (_gate)
            {
                // the crawl's waiters leave the queue (a wait that starts from now on sees the token cancelled); a waiter on another token keeps its place
                for (int n = _waiting.Count; n > 0; n--)
                {
                    var w = _waiting.Dequeue();
                    if (w.Watched) waiting.Add(w.Waiter);
                    else _waiting.Enqueue(w);
                }
            }
            if (waiting.Count == 0) return;
            var token = _crawl;
            // cancelled on the pool, not on the thread that cancels the crawl
            ThreadPool.UnsafeQueueUserWorkItem(static s =>
            {
                foreach (var w in s.Waiting) w.TrySetCanceled(s.Token);
            }, (Waiting: waiting, Token: token), preferLocal: false);
        }

        public ValueTask EnterAsync(CancellationToken ct)
        {
            TaskCompletionSource waiter;
            bool watched;
            lock (_gate)
            {
                if (_inFlight < (int)_limit)
                {
                    _inFlight++;
                    return ValueTask.CompletedTask;
                }
                watched = ct.CanBeCanceled && ct == _crawl;
                // under the lock, as the drain of CancelWaiters: a wait either sees the token cancelled or is drained
                if (watched && ct.IsCancellationRequested) return ValueTask.FromCanceled(ct);
                // continuations run where the room is handed on (Exit), outside the lock: a waiter used to be resumed by
                // a work item of its own, a thread-pool dispatch (and often a worker's wake-up) for most requests of a crawl
                waiter = new TaskCompletionSource();
                _waiting.Enqueue((waiter, watched));
            }
            // the crawl's token is watched once (Watch); any other is watched for this wait
            return watched || !ct.CanBeCanceled ? new ValueTask(waiter.Task) : new ValueTask(WaitAsync(waiter, ct));
        }

        private static async Task WaitAsync(TaskCompletionSource waiter, CancellationToken ct)
        {
            // cancelled on the pool, not on the thread that cancels the crawl
            using var reg = ct.Register(static w => ThreadPool.UnsafeQueueUserWorkItem(static t => t.TrySetCanceled(), (TaskCompletionSource)w!, preferLocal: false), waiter);
            await waiter.Task.ConfigureAwait(false);
        }

        public void Exit(bool answered, bool timedOut)
        {
            int queued = backlog();
            bool overloaded = queued > cutAbove;
            TaskCompletionSource? next = null;
            List<TaskCompletionSource>? more = null;
            lock (_gate)
            {
                // this request still counted: the window's use while it was out
                bool used = _inFlight * 2 >= (int)_limit;
                _inFlight--;
                if (overloaded || (timedOut && !answered))
                {
                    long now = time.GetTimestamp();
                    if (_lastCut == 0 || time.GetElapsedTime(_lastCut, now) >= cutInterval)
                    {
                        _limit = Math.Max(_min, _limit / 2);
                        _lastCut = now;
                        if (overloaded) _cutsByBacklog++;
                        else _cutsByTimeout++;
                        _smallest = Math.Min(_smallest, (int)_limit);
                    }
                }
                else if (answered && queued > growBelow)
                {
                    _growthHeld++;
                }
                else if (answered && !used)
                {
                    _growthUnused++;
                }
                else if (answered)
                {
                    _limit = Math.Min(_max, _limit + 1);
                    _largest = Math.Max(_largest, (int)_limit);
                }
                TakeRoomForWaiters(ref next, ref more);
            }
            HandOn(next, more);
        }

        /// <summary>Under the lock: room taken for each waiter that fits (a waiter cancelled meanwhile gives it back in
        /// <see cref="GiveBack"/>); the waiters are handed on after the lock, by <see cref="HandOn(TaskCompletionSource?, List{TaskCompletionSource}?)"/>.</summary>
        private void TakeRoomForWaiters(ref TaskCompletionSource? next, ref List<TaskCompletionSource>? more)
        {
            while (_inFlight < (int)_limit && _waiting.TryDequeue(out var queued))
            {
                var w = queued.Waiter;
                if (w.Task.IsCompleted) continue;
                _inFlight++;
                if (next is null) next = w;
                else (more ??= []).Add(w);
            }
        }

        private void HandOn(TaskCompletionSource? next, List<TaskCompletionSource>? more)
        {
            if (next is null) return;
            HandOn(next);
            if (more is not null) foreach (var w in more) HandOn(w);
        }

        private void HandOn(TaskCompletionSource waiter)
        {
            if (t_handingOn)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.Window.HandOn(s.Waiter), (Window: this, Waiter: waiter), preferLocal: false);
                return;
            }
            t_handingOn = true;
            try
            {
                if (!waiter.TrySetResult()) GiveBack();
            }
            finally
            {
                t_handingOn = false;
            }
        }

        /// <summary>Room taken for a waiter that was cancelled before it could be handed on.</summary>
        private void GiveBack()
        {
            TaskCompletionSource? next = null;
            List<TaskCompletionSource>? more = null;
            lock (_gate)
            {
                _inFlight--;
                TakeRoomForWaiters(ref next, ref more);
            }
            HandOn(next, more);
        }
    }
}
