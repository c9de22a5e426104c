using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace ClP2p.Discovery;

/// <summary>Something the crawler learnt.</summary>
public abstract record DiscoveryEvent;

/// <summary>A record seen for the first time, or with a higher seq than before. From = the node that returned it (null for seeds and walks' starting points).</summary>
public sealed record EnrDiscovered(Enr Enr, NodeId? From) : DiscoveryEvent
{
    /// <summary>
    /// The record carries an address its relayer cannot vouch for (PITFALLS 7: a LAN or loopback address returned by
    /// a public node; see <see cref="DhtCrawlOptions.TrustRelay"/>). It is reported but never contacted, and should
    /// not be dialled.
    /// </summary>
    public bool RelayUntrusted { get; init; }
}

/// <summary>
/// The outcome of enumerating one node's table: whether it answered at all, how many distinct records it returned,
/// the last error when it did not answer (or the one that ended the visit of a node that stopped answering), how long
/// the visit took and how many FINDNODE requests were sent.
/// Only nodes the crawler contacted get one (records rejected by canContact only get <see cref="EnrDiscovered"/>).
/// </summary>
public sealed record NodeVisited(Enr Enr, bool Answered, int Neighbours, string? Error, TimeSpan Duration, int Requests) : DiscoveryEvent;

public sealed class DhtCrawlOptions
{
    /// <summary>Which records may be contacted (never private/reserved addresses unless this allows them).</summary>
    public Func<Enr, bool> CanContact { get; init; } = ContactFilters.PublicOnly;

    /// <summary>Whether a record's addresses may be trusted given the node that returned it (null for seeds); untrusted records are never contacted.</summary>
    public Func<Enr, Enr?, bool> TrustRelay { get; init; } = ContactFilters.RelayTrusted;

    /// <summary>Nodes enumerated at the same time.</summary>
    public int MaxConcurrency { get; init; } = 64;

    /// <summary>Pause between two requests to the same node.</summary>
    public TimeSpan PerPeerInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>First distance asked (then 255, 254, ...).</summary>
    public int StartDistance { get; init; } = 256;

    /// <summary>Lowest distance asked.</summary>
    public int MinDistance { get; init; } = 1;

    /// <summary>
    /// Every distance from <see cref="StartDistance"/> down to this one is asked, empty or not (PITFALLS 26: Nebula
    /// asks 256 to 239). A table can hold a node alone in a low bucket below empty ones; an early stop misses it.
    /// </summary>
    public int AskAllDownTo { get; init; } = 239;

    /// <summary>Below <see cref="AskAllDownTo"/>, stop a node once this many buckets in a row came back empty.</summary>
    public int MaxConsecutiveEmpty { get; init; } = 3;

    /// <summary>
    /// Stop a node that answered earlier after this many failed requests in a row (each already retried by the node;
    /// Nebula stops at two timeouts). Its outcome then carries the error, and its record is not refreshed.
    /// </summary>
    public int MaxConsecutiveFailures { get; init; } = 2;

    /// <summary>Random-target lookups run beside the enumeration.</summary>
    public int RandomWalks { get; init; } = 3;

    /// <summary>After enumerating a node that answered, ask FINDNODE [0] for its current record (emitted when its seq is higher).</summary>
    public bool RefreshRecords { get; init; } = true;

    /// <summary>Bound on distinct nodes tracked in one crawl.</summary>
    public int MaxNodes { get; init; } = 1_000_000;
}

/// <summary>
/// Enumerates the reachable DHT from seed records (PITFALLS 26): every node found is asked FINDNODE for one
/// distance per request, 256, 255, ... 239 at least, then on until its buckets run dry, beside a few random walks.
/// One distance per request because geth's FINDNODE handler returns at most 16 records in all, whatever the list.
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

    public async IAsyncEnumerable<DiscoveryEvent> RunAsync(IEnumerable<Enr> seeds, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        var run = new Run(this, cancellationToken);
        var task = run.StartAsync(seeds);
        await foreach (var e in run.Events.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false)) yield return e;
        await task.ConfigureAwait(false);
    }

    private sealed class Run
    {
        private readonly DhtCrawler _c;
        private readonly CancellationToken _ct;
        private readonly Dictionary<NodeId, Enr> _known = [];
        private readonly HashSet<NodeId> _queued = [];
        private readonly Channel<Enr> _work = Channel.CreateUnbounded<Enr>();
        private int _outstanding;

        public Run(DhtCrawler c, CancellationToken ct) { _c = c; _ct = ct; }

        public Channel<DiscoveryEvent> Events { get; } = Channel.CreateUnbounded<DiscoveryEvent>(new UnboundedChannelOptions { SingleReader = true });

        public async Task StartAsync(IEnumerable<Enr> seeds)
        {
            Interlocked.Increment(ref _outstanding);
            var workers = new List<Task>();
            try
            {
                foreach (var s in seeds) Offer(s, null);
                for (int i = 0; i < Math.Max(1, _c._options.MaxConcurrency); i++) workers.Add(Task.Run(WorkerAsync, CancellationToken.None));
                var seedList = _known.Values.ToArray();
                for (int i = 0; i < _c._options.RandomWalks; i++)
                {
                    Interlocked.Increment(ref _outstanding);
                    workers.Add(Task.Run(() => WalkAsync(seedList), CancellationToken.None));
                }
            }
            finally
            {
                Done();
            }
            try
            {
                await Task.WhenAll(workers).ConfigureAwait(false);
            }
            finally
            {
                Events.Writer.TryComplete();
            }
        }

        private void Done()
        {
            if (Interlocked.Decrement(ref _outstanding) == 0) _work.Writer.TryComplete();
        }

        private void Offer(Enr enr, Enr? relayer)
        {
            if (enr.NodeId == _c._node.LocalId) return;
            bool visit;
            lock (_known)
            {
                if (_known.TryGetValue(enr.NodeId, out var old) && old.Seq >= enr.Seq) return;
                if (old is null && _known.Count >= _c._options.MaxNodes) return;
                _known[enr.NodeId] = enr;
                bool trusted = _c._options.TrustRelay(enr, relayer);
                if (!trusted) Discv5Metrics.RecordsUntrusted.Add(1);
                Events.Writer.TryWrite(new EnrDiscovered(enr, relayer?.NodeId) { RelayUntrusted = !trusted });
                visit = trusted && _c._options.CanContact(enr) && enr.UdpEndPoint != null && _queued.Add(enr.NodeId);
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
                await _c._node.LookupCoreAsync(new NodeId(t), null, 16, seeds, Offer, _ct, _c._options.CanContact, _c._options.TrustRelay).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // the crawl was cancelled: the walk ends with it
            }
            finally { Done(); }
        }

        private async Task WorkerAsync()
        {
            try
            {
                await foreach (var enr in _work.Reader.ReadAllAsync(_ct).ConfigureAwait(false))
                {
                    try
                    {
                        var v = await VisitAsync(enr).ConfigureAwait(false);
                        Events.Writer.TryWrite(v);
                    }
                    finally
                    {
                        Done();
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // the crawl was cancelled: the worker stops taking nodes
            }
        }

        private async Task<NodeVisited> VisitAsync(Enr enr)
        {
            long start = _c._time.GetTimestamp();
            var o = _c._options;
            bool answered = false;
            int neighbours = 0, empty = 0, failures = 0, requests = 0;
            string? error = null;
            var seen = new HashSet<NodeId>();
            for (int d = o.StartDistance; d >= o.MinDistance; d--)
            {
                if (d < o.AskAllDownTo && empty >= o.MaxConsecutiveEmpty) break;
                if (requests > 0 && o.PerPeerInterval > TimeSpan.Zero)
                {
                    try { await Task.Delay(o.PerPeerInterval, _c._time, _ct).ConfigureAwait(false); }
                    catch (OperationCanceledException) { break; }
                }
                requests++;
                RequestResult<IReadOnlyList<Enr>> res;
                try
                {
                    res = await _c._node.FindNodeAsync(enr, [d], _ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    error = "cancelled";
                    break;
                }
                if (res.TryGetValue(out var found))
                {
                    answered = true;
                    error = null;
                    failures = 0;
                    if (found.Count == 0) empty++; else empty = 0;
                    foreach (var e in found)
                    {
                        if (seen.Add(e.NodeId)) neighbours++;
                        Offer(e, enr);
                    }
                }
                else
                {
                    error = res.Failure.ToString();
                    empty++;
                    // a node that never answered is unreachable (the node already retried); one that stops answering is gone
                    if (!answered || ++failures >= o.MaxConsecutiveFailures) break;
                }
            }
            if (answered && failures == 0 && o.RefreshRecords && !_ct.IsCancellationRequested)
            {
                requests++;
                try
                {
                    var self = await _c._node.FindNodeAsync(enr, [0], _ct).ConfigureAwait(false);
                    if (self.TryGetValue(out var own) && own.Count == 1 && own[0].NodeId == enr.NodeId) Offer(own[0], enr);
                }
                catch (OperationCanceledException)
                {
                    // the crawl was cancelled: the visit ends with what it has
                }
            }
            return new NodeVisited(enr, answered, neighbours, answered && failures == 0 ? null : error, _c._time.GetElapsedTime(start), requests);
        }
    }
}
