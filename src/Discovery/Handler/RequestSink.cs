namespace ClP2p.Discovery.Handler;

/// <summary>
/// Where a request's outcome goes when its caller does not await a task: the crawl's enumeration, tens of thousands of
/// requests a minute. Called on the thread that hands the owning shard's batch of outcomes on (a pool worker, see
/// HandlerShard.FlushOutcomes), or at once on the caller's own thread when the request cannot start (no endpoint, too
/// many pending, the node disposed). Exactly once per request.
/// </summary>
/// <remarks>
/// The awaited form costs a task, its completion source, a registration on the caller's token and the caller's async
/// state machine per request, and the continuation's dispatch through the task on delivery; here the sink is the
/// caller's own per-request object, and cancellation is watched once per <see cref="RequestGroup"/>.
/// </remarks>
internal interface IRequestSink<T>
{
    /// <param name="result">The answer or why there is none (meaningless when <paramref name="cancelled"/>).</param>
    /// <param name="cancelled">The request's group was cancelled before its answer came.</param>
    void OnOutcome(RequestResult<T> result, bool cancelled);
}

/// <summary>
/// Requests cancelled together (a crawl's): one registration on the crawl's token for all of them, instead of one per
/// request. <see cref="Discv5Node.CancelGroup"/> ends each of its requests still waiting, which then reports
/// cancelled to its sink; a request of the group started after that reports cancelled at once.
/// </summary>
internal sealed class RequestGroup
{
    private int _cancelled;

    public bool IsCancelled => Volatile.Read(ref _cancelled) != 0;

    /// <summary>True for the call that cancelled it.</summary>
    internal bool TryCancel() => Interlocked.Exchange(ref _cancelled, 1) == 0;
}
