using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Crawler.Engine;

/// <summary>How a crawl ended.</summary>
public enum CrawlEnd
{
    /// <summary>Discovery ran out of nodes to ask and every dial finished.</summary>
    Completed,
    /// <summary>--max-duration was reached.</summary>
    Deadline,
    /// <summary>Stopped from outside (SIGINT/SIGTERM).</summary>
    Aborted,
}

public sealed class CrawlEngineOptions
{
    public int DialConcurrency { get; init; } = 64;
    public int DialQueueCapacity { get; init; } = 50_000;
    public TimeSpan? MaxDuration { get; init; }
    public bool Dial { get; init; } = true;
    public required IAddressPolicy AddressPolicy { get; init; }
}

/// <summary>
/// One crawl: discovery feeds a bounded dial queue while it is still walking; dial workers run with bounded
/// concurrency; every node's outcome goes to the sink as soon as both its discovery query and its dial are done.
/// The engine knows nothing of how nodes are found, dialled or stored: it moves work between the workers.
/// </summary>
/// <typeparam name="TRecord">The discovery record each node carries (an ENR in a discv5 crawl).</typeparam>
/// <typeparam name="TDetail">What a dial learns beyond its outcome (the eth2 handshake's answers).</typeparam>
public sealed class CrawlEngine<TRecord, TDetail>(
    IDiscoveryWorker<TRecord> discovery, IDialWorker<TRecord, TDetail> dialer, ICrawlSink<TRecord, TDetail> sink, CrawlEngineOptions options,
    ILogger? logger = null, TimeProvider? time = null)
{
    private readonly ILogger _log = logger ?? NullLogger.Instance;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<string, NodeState> _nodes = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public CrawlCounters Counters { get; } = new();

    /// <summary>Runs the crawl to its end. <paramref name="ct"/> aborts it: discovery stops, queued dials are dropped
    /// (recorded as not dialled), in-flight dials end on their own timeouts, every known node is still written.</summary>
    public async Task<CrawlEnd> RunAsync(CancellationToken ct)
    {
        using var deadline = options.MaxDuration is { } max ? new CancellationTokenSource(max, _time) : new CancellationTokenSource();
        using var stopDiscovery = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);

        var queue = Channel.CreateBounded<NodeState>(new BoundedChannelOptions(options.DialQueueCapacity)
        {
            SingleWriter = true,
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var dials = Task.Run(() => DispatchDialsAsync(queue.Reader, stopDiscovery.Token), CancellationToken.None);

        try
        {
            await foreach (var report in discovery.RunAsync(stopDiscovery.Token).WithCancellation(stopDiscovery.Token).ConfigureAwait(false))
            {
                switch (report)
                {
                    case NodeFound<TRecord> found:
                        await OnFoundAsync(found.Node, queue.Writer, stopDiscovery.Token).ConfigureAwait(false);
                        break;
                    case NodeQueried<TRecord> queried:
                        await OnQueriedAsync(queried).ConfigureAwait(false);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (stopDiscovery.IsCancellationRequested)
        {
            _log.LogInformation("discovery stopped: {Reason}", ct.IsCancellationRequested ? "aborted" : "max duration reached");
        }
        queue.Writer.TryComplete();

        // Nodes discovery never queried (not contactable, or the walk ended first) are done on the discovery side.
        List<NodeState> ready = [];
        lock (_lock)
        {
            foreach (var s in _nodes.Values)
            {
                if (s.DiscoveryDone) continue;
                s.DiscoveryDone = true;
                if (s.IsComplete && !s.Written) { s.Written = true; ready.Add(s); }
            }
        }
        foreach (var s in ready) await WriteAsync(s).ConfigureAwait(false);

        await dials.ConfigureAwait(false);

        // Anything still unwritten was queued but never dialled because the crawl was stopped.
        lock (_lock)
        {
            ready = _nodes.Values.Where(s => !s.Written).ToList();
            foreach (var s in ready)
            {
                s.Written = true;
                s.NotDialledReason ??= NotDialledReasons.CrawlStopped;
            }
        }
        foreach (var s in ready) await WriteAsync(s).ConfigureAwait(false);

        return ct.IsCancellationRequested ? CrawlEnd.Aborted
            : stopDiscovery.IsCancellationRequested ? CrawlEnd.Deadline
            : CrawlEnd.Completed;
    }

    private async ValueTask OnFoundAsync(DiscoveredNode<TRecord> node, ChannelWriter<NodeState> queue, CancellationToken ct)
    {
        NodeState state;
        bool isNew, enqueue = false;
        lock (_lock)
        {
            isNew = !_nodes.TryGetValue(node.NodeId, out state!);
            if (isNew)
            {
                state = new NodeState(node);
                _nodes.Add(node.NodeId, state);
            }
            else if (node.Seq > state.Node.Seq)
            {
                state.Node = node;   // a newer record; a dial already under way keeps the address it had
            }
            else
            {
                return;
            }
            if (isNew)
            {
                string? reason = !options.Dial ? NotDialledReasons.DialingDisabled
                    : !node.IsConsensus ? NotDialledReasons.NotConsensus
                    : node.DialEndpoint is null ? NotDialledReasons.NoTcp
                    : !options.AddressPolicy.IsAllowed(node.DialEndpoint.Address) ? NotDialledReasons.AddressNotAllowed
                    : node.AddressUntrusted ? NotDialledReasons.AddressUntrusted
                    : null;
                state.NotDialledReason = reason;
                state.DialPending = reason is null;
                enqueue = reason is null;
            }
        }
        if (isNew) Counters.NodeFound(node.IsConsensus);
        await sink.NodeFoundAsync(node, CancellationToken.None).ConfigureAwait(false);
        if (enqueue)
        {
            Counters.DialEnqueued();
            await queue.WriteAsync(state, ct).ConfigureAwait(false);
        }
    }

    private async ValueTask OnQueriedAsync(NodeQueried<TRecord> queried)
    {
        Counters.NodeQueried(queried.Answered, queried.Complete);
        NodeState? ready = null;
        lock (_lock)
        {
            if (!_nodes.TryGetValue(queried.NodeId, out var s) || s.DiscoveryDone) return;
            s.Discovery = queried;
            s.DiscoveryDone = true;
            if (s.IsComplete && !s.Written) { s.Written = true; ready = s; }
        }
        if (ready is not null) await WriteAsync(ready).ConfigureAwait(false);
    }

    // the first exception a dial's bookkeeping threw, rethrown once every dial has ended
    private System.Runtime.ExceptionServices.ExceptionDispatchInfo? _dialFault;

    /// <summary>One reader takes queued nodes and starts each dial as a slot of <see cref="CrawlOptions.DialConcurrency"/>
    /// frees; returns when the queue is completed and every dial has ended. (Thousands of workers each waiting on the
    /// queue were all woken by every node queued.)</summary>
    private async Task DispatchDialsAsync(ChannelReader<NodeState> queue, CancellationToken stop)
    {
        int slots = Math.Max(1, options.DialConcurrency);
        using var free = new SemaphoreSlim(slots, slots);
        while (await queue.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (queue.TryRead(out var state))
            {
                // a stop may come while this node waits for a slot: it is checked once the slot is ours
                await free.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                if (stop.IsCancellationRequested)
                {
                    // Stopped: queued nodes are recorded as not dialled when the crawl closes.
                    free.Release();
                    lock (_lock) { state.DialPending = false; state.NotDialledReason = NotDialledReasons.CrawlStopped; }
                    continue;
                }
                _ = DialOneAsync(state, free);
            }
        }
        for (int i = 0; i < slots; i++)
        {
            await free.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        _dialFault?.Throw();
    }

    private async Task DialOneAsync(NodeState state, SemaphoreSlim free)
    {
        try
        {
            DialReport<TDetail> report;
            long started = _time.GetTimestamp();
            try
            {
                // In-flight dials are not cancelled by a stop: they end on their own timeout (graceful shutdown).
                report = await dialer.DialAsync(state.Node, CancellationToken.None).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // a dialer bug must not stop the crawl; it is logged and counted
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _log.LogError(ex, "dial of {NodeId} threw", state.Node.NodeId);
                report = new DialReport<TDetail>(DialOutcomes.Other, _time.GetElapsedTime(started), default, ex.Message);
            }
            Counters.DialFinished(report);
            bool write;
            lock (_lock)
            {
                state.Dial = report;
                state.DialPending = false;
                write = state.IsComplete && !state.Written;
                if (write) state.Written = true;
            }
            if (write) await WriteAsync(state).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // kept and rethrown by the dispatcher once every dial has ended, as a failed worker was
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Interlocked.CompareExchange(ref _dialFault, System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex), null);
        }
        finally
        {
            free.Release();
        }
    }

    private async ValueTask WriteAsync(NodeState s)
    {
        var outcome = new NodeOutcome<TRecord, TDetail>(s.Node, s.Discovery, s.Dial, s.Dial is null ? s.NotDialledReason : null, _time.GetUtcNow());
        // written once (Written is set under the lock before this): what the outcome carries is the sink's now. The state
        // stays (it keeps a later sighting from being queued again) without it, so that a node's dial result, its
        // identify strings and its discovery report do not live on to the crawl's end, copied into the collector's
        // older generations on the way
        lock (_lock)
        {
            s.Dial = null;
            s.Discovery = null;
        }
        await sink.NodeDoneAsync(outcome, CancellationToken.None).ConfigureAwait(false);
        Counters.NodeWritten();
    }

    private sealed class NodeState(DiscoveredNode<TRecord> node)
    {
        public DiscoveredNode<TRecord> Node { get; set; } = node;
        public NodeQueried<TRecord>? Discovery { get; set; }
        public bool DiscoveryDone { get; set; }
        public bool DialPending { get; set; }
        public DialReport<TDetail>? Dial { get; set; }
        public string? NotDialledReason { get; set; }
        public bool Written { get; set; }
        public bool IsComplete => DiscoveryDone && !DialPending;
    }
}
