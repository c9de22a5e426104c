namespace ClP2p.Discovery;

/// <summary>Why a request got no answer. Ordinary outcomes of talking to remote nodes: returned as values, never thrown.</summary>
public enum RequestFailure
{
    /// <summary>No answer within the timeout, retries included.</summary>
    Timeout,
    /// <summary>The record has no UDP endpoint this socket can reach.</summary>
    NoEndpoint,
    /// <summary>Too many requests are waiting for answers (<see cref="Discv5Options.MaxPendingRequests"/>).</summary>
    TooManyPending,
    /// <summary>The remote answered our handshake with another WHOAREYOU (it rejected it).</summary>
    HandshakeRejected,
    /// <summary>The node was disposed before the answer came.</summary>
    Disposed,
}

/// <summary>
/// The outcome of one discv5 request: the answer, or why there was none. Cancellation through the caller's token
/// is not an outcome: it throws <see cref="OperationCanceledException"/> as everywhere in .NET.
/// </summary>
public readonly record struct RequestResult<T>
{
    private RequestResult(T? value, RequestFailure? failure, bool late)
    {
        Value = value;
        Failure = failure;
        Late = late;
    }

    /// <summary>The answer (default when <see cref="Failure"/> is set).</summary>
    public T? Value { get; }

    /// <summary>Why there is no answer; null when there is one.</summary>
    public RequestFailure? Failure { get; }

    /// <summary>The answer came after an earlier identical request had timed out, and this request took it up.</summary>
    public bool Late { get; }

    public bool IsOk => Failure is null;

    public static RequestResult<T> Ok(T value, bool late = false) => new(value, null, late);

    public static RequestResult<T> Failed(RequestFailure failure) => new(default, failure, false);

    public bool TryGetValue(out T value)
    {
        value = Value!;
        return Failure is null;
    }

    public override string ToString() => Failure is { } f ? $"failed: {f}" : $"ok: {Value}";
}

/// <summary>Per-request overrides of <see cref="Discv5Options.RequestTimeout"/> and <see cref="Discv5Options.RequestRetries"/>
/// (e.g. a second pass over slow peers with a longer timeout).</summary>
public sealed record RequestOptions
{
    public TimeSpan? Timeout { get; init; }
    public int? Retries { get; init; }
}
