using System.Collections.Concurrent;

namespace ClP2p.Crawler.Engine;

/// <summary>Live counters of one crawl, safe to read while it runs.</summary>
public sealed class CrawlCounters
{
    private long _nodesFound, _clNodes, _queried, _answered, _incomplete, _dialQueued, _dialled, _dialOk, _dialFailed, _written;
    private readonly ConcurrentDictionary<string, long> _failures = new(StringComparer.Ordinal);

    public long NodesFound => Interlocked.Read(ref _nodesFound);
    public long ConsensusNodes => Interlocked.Read(ref _clNodes);
    public long Queried => Interlocked.Read(ref _queried);
    public long Answered => Interlocked.Read(ref _answered);
    /// <summary>Nodes that answered discovery but were not fully enumerated (they stopped answering; 0 in a healthy crawl).</summary>
    public long Incomplete => Interlocked.Read(ref _incomplete);
    public long DialQueued => Interlocked.Read(ref _dialQueued);
    public long Dialled => Interlocked.Read(ref _dialled);
    public long DialOk => Interlocked.Read(ref _dialOk);
    public long DialFailed => Interlocked.Read(ref _dialFailed);
    public long NodesWritten => Interlocked.Read(ref _written);
    public IReadOnlyDictionary<string, long> FailuresByClass =>
        _failures.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    internal void NodeFound(bool consensus)
    {
        Interlocked.Increment(ref _nodesFound);
        if (consensus) Interlocked.Increment(ref _clNodes);
    }

    internal void NodeQueried(bool answered, bool complete)
    {
        Interlocked.Increment(ref _queried);
        if (answered) Interlocked.Increment(ref _answered);
        if (answered && !complete) Interlocked.Increment(ref _incomplete);
    }

    internal void DialEnqueued() => Interlocked.Increment(ref _dialQueued);

    internal void DialFinished<TDetail>(DialReport<TDetail> report)
    {
        Interlocked.Increment(ref _dialled);
        if (report.Ok) Interlocked.Increment(ref _dialOk);
        else
        {
            Interlocked.Increment(ref _dialFailed);
            _failures.AddOrUpdate(report.Outcome, 1, (_, n) => n + 1);
        }
    }

    internal void NodeWritten() => Interlocked.Increment(ref _written);
}
