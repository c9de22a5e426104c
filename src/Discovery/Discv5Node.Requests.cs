using ClP2p.Discovery.Handler;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Sessions;

namespace ClP2p.Discovery;

public sealed partial class Discv5Node
{
    /// <summary>PING a node: its record seq, the endpoint it saw us at and the round trip, or why it did not answer.</summary>
    public Task<RequestResult<PongInfo>> PingAsync(Enr node, CancellationToken cancellationToken = default) =>
        PingAsync(node, null, cancellationToken);

    public Task<RequestResult<PongInfo>> PingAsync(Enr node, RequestOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        return RequestAsync<PongInfo>("ping", node, id => new PingMessage(id, LocalEnr.Seq), "ping", options, cancellationToken);
    }

    /// <summary>PING a node at one of its record's endpoints other than the one the node would choose (e.g. its ip6/udp6
    /// when it has both families): a session of its own with the node at that endpoint.</summary>
    public Task<RequestResult<PongInfo>> PingAtAsync(Enr node, System.Net.IPEndPoint at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(at);
        return RequestAsync<PongInfo>("ping", node, id => new PingMessage(id, LocalEnr.Seq), "ping", null, cancellationToken, at);
    }

    /// <summary>True when the node's socket can send to IPv6 addresses (bound to an IPv6 or dual-stack address).</summary>
    public bool HasIPv6 => _socket?.HasIPv6 ?? false;

    /// <summary>
    /// FINDNODE with the given log distances (0 = the node's own record): the validated records of all NODES messages
    /// (what arrived, if some NODES messages were lost), or why the node did not answer. Several FINDNODEs to one node
    /// may be in flight at once (discv5-theory.md "Handshake Implementation Considerations": concurrent requests).
    /// </summary>
    public Task<RequestResult<IReadOnlyList<Enr>>> FindNodeAsync(Enr node, IReadOnlyList<int> distances, CancellationToken cancellationToken = default) =>
        FindNodeAsync(node, distances, null, cancellationToken);

    public Task<RequestResult<IReadOnlyList<Enr>>> FindNodeAsync(Enr node, IReadOnlyList<int> distances, RequestOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(distances);
        if (distances.Count == 0) throw new ArgumentException("at least one distance", nameof(distances));
        for (int i = 0; i < distances.Count; i++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(distances[i], nameof(distances));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(distances[i], 256, nameof(distances));
        }
        var make = FindNodeMaker(distances, out string key);
        return RequestAsync<IReadOnlyList<Enr>>("findnode", node, make, key, options, cancellationToken);
    }

    /// <summary>
    /// FINDNODE as <see cref="FindNodeAsync(Enr, IReadOnlyList{int}, RequestOptions?, CancellationToken)"/>, its outcome
    /// handed to <paramref name="sink"/> instead of a task (see <see cref="IRequestSink{T}"/>): the crawl's form. The
    /// distances are the caller's to check (0-256, at least one). Cancelled with <paramref name="group"/>
    /// (<see cref="CancelGroup"/>). A failure to start (no endpoint, too many pending, disposed) reaches the sink before
    /// this returns; a bug of ours throws.
    /// </summary>
    internal void FindNode(Enr node, IReadOnlyList<int> distances, RequestOptions? options, IRequestSink<IReadOnlyList<Enr>> sink, RequestGroup group)
    {
        var make = FindNodeMaker(distances, out string key);
        if (group.IsCancelled)
        {
            sink.OnOutcome(default, cancelled: true);
            return;
        }
        if (TryCreateRequest("findnode", node, make, key, options, null, sink, group, out var req) is { } failure)
        {
            sink.OnOutcome(failure, cancelled: false);
            return;
        }
        if (!TryStart(req!)) sink.OnOutcome(RequestResult<IReadOnlyList<Enr>>.Failed(RequestFailure.Disposed), cancelled: false);
    }

    /// <summary>Cancels every request of <paramref name="group"/>: those waiting end and tell their sinks, later ones
    /// end at once. Returns at once; the sinks hear it on the shards' delivery threads.</summary>
    internal void CancelGroup(RequestGroup group)
    {
        if (!group.TryCancel()) return;
        foreach (var shard in _shards) shard.TryPost(ShardItem.CancelGroups);
    }

    private static Func<RequestId, Discv5Message> FindNodeMaker(IReadOnlyList<int> distances, out string key)
    {
        if (distances.Count == 1)
        {
            // the common case (a crawl asks one bucket at a time): the list, the key and the message factory of each
            // distance made once, and shared (a message's distances are only read)
            int d = distances[0];
            key = SingleDistanceKeys[d] ??= "findnode:" + d.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return SingleDistanceMakers[d] ??= MakerFor(SingleDistance(d));
        }
        var list = Distinct(distances);
        key = "findnode:" + string.Join(',', list);
        return MakerFor(list);
    }

    private static Func<RequestId, Discv5Message> MakerFor(int[] distances) => id => new FindNodeMessage(id, distances);

    private static readonly string?[] SingleDistanceKeys = new string?[257];
    private static readonly Func<RequestId, Discv5Message>?[] SingleDistanceMakers = new Func<RequestId, Discv5Message>?[257];
    private static readonly int[]?[] SingleDistances = new int[]?[257];

    /// <summary>A list of the one distance <paramref name="d"/> (0-256), shared: read it, never write it.</summary>
    internal static int[] SingleDistance(int d) => SingleDistances[d] ??= [d];

    /// <summary>The distances in their order, each once (a request's few: a scan, not a set).</summary>
    internal static int[] Distinct(IReadOnlyList<int> distances)
    {
        Span<int> kept = distances.Count <= MessageCodec.MaxDistancesPerRequest ? stackalloc int[distances.Count] : new int[distances.Count];
        int n = 0;
        for (int i = 0; i < distances.Count; i++)
            if (!kept[..n].Contains(distances[i])) kept[n++] = distances[i];
        return kept[..n].ToArray();
    }

    /// <summary>TALKREQ: the TALKRESP payload, or why there is none.</summary>
    public Task<RequestResult<ReadOnlyMemory<byte>>> TalkAsync(Enr node, ReadOnlyMemory<byte> protocol, ReadOnlyMemory<byte> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        return RequestAsync<ReadOnlyMemory<byte>>("talkreq", node, id => new TalkReqMessage(id, protocol, request), null, null, cancellationToken);
    }

    /// <remarks>Not an async method: the caller awaits the request's own task (one state machine and one boxed
    /// closure state fewer per request, of ~13 per crawled node).</remarks>
    private Task<RequestResult<T>> RequestAsync<T>(string kind, Enr node, Func<RequestId, Discv5Message> make, string? adoptKey, RequestOptions? options, CancellationToken ct, System.Net.IPEndPoint? at = null)
    {
        if (ct.IsCancellationRequested) return Task.FromCanceled<RequestResult<T>>(ct);
        if (_socket is null && !_disposed) return Task.FromException<RequestResult<T>>(new InvalidOperationException("call StartAsync first"));
        if (TryCreateRequest<T>(kind, node, make, adoptKey, options, at, null, null, out var req) is { } failure) return Task.FromResult(failure);
        if (!TryStart(req!)) return Task.FromResult(RequestResult<T>.Failed(RequestFailure.Disposed));
        req!.WatchCaller(ct);
        return req.Caller.Task;
    }

    /// <summary>Hands a created request to its shard; false (and no longer counted) when the shard has stopped.</summary>
    private bool TryStart(PendingRequest req)
    {
        if (req.Owner.TryPost(ShardItem.Start(req))) return true;
        Interlocked.Decrement(ref _counters.LiveRequests);
        return false;
    }

    /// <summary>A request counted among the live ones, not yet posted to its shard; or why it cannot be made (returned,
    /// nothing counted). Throws when the node was never started.</summary>
    private RequestResult<T>? TryCreateRequest<T>(string kind, Enr node, Func<RequestId, Discv5Message> make, string? adoptKey, RequestOptions? options, System.Net.IPEndPoint? at,
        IRequestSink<T>? sink, RequestGroup? group, out PendingRequest<T>? request)
    {
        request = null;
        if (_socket is null && !_disposed) throw new InvalidOperationException("call StartAsync first");
        if (_disposed) return RequestResult<T>.Failed(RequestFailure.Disposed);
        var ep = at ?? _socket!.EndpointFor(node);
        if (ep is null) return RequestResult<T>.Failed(RequestFailure.NoEndpoint);
        if (Interlocked.Increment(ref _counters.LiveRequests) > _options.MaxPendingRequests)
        {
            Interlocked.Decrement(ref _counters.LiveRequests);
            return RequestResult<T>.Failed(RequestFailure.TooManyPending);
        }
        var timeout = options?.Timeout ?? _options.RequestTimeout;
        int attempts = 1 + Math.Max(0, options?.Retries ?? _options.RequestRetries);
        request = new PendingRequest<T>(ShardFor(ep), kind, node, new NodeAddress(node.NodeId, ep), make, adoptKey, timeout, attempts, _time.GetTimestamp(), sink, group);
        return null;
    }
}
