using System.Buffers.Binary;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Sessions;

namespace ClP2p.Discovery.Handler;

/// <summary>A 12-byte packet nonce as a dictionary key.</summary>
internal readonly record struct Nonce96(ulong Hi, uint Lo)
{
    public static Nonce96 From(ReadOnlySpan<byte> n) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(n), BinaryPrimitives.ReadUInt32BigEndian(n[8..]));
}

/// <summary>The nonces of a request's packets, oldest first: one for most requests (kept inline, no list per request),
/// more after a retry or a handshake.</summary>
internal struct NonceList
{
    private Nonce96 _first;
    private List<Nonce96>? _more;

    public int Count { readonly get; private set; }

    public readonly Nonce96 this[int i] => (uint)i < (uint)Count ? (i == 0 ? _first : _more![i - 1]) : throw new ArgumentOutOfRangeException(nameof(i));

    public readonly Nonce96 Last => this[Count - 1];

    public void Add(Nonce96 nonce)
    {
        if (Count == 0) _first = nonce;
        else (_more ??= []).Add(nonce);
        Count++;
    }

    public void Clear()
    {
        Count = 0;
        _more?.Clear();
    }
}

internal enum RequestState
{
    /// <summary>Queued for its shard, not sent yet.</summary>
    New,
    /// <summary>Sent; its caller waits.</summary>
    Live,
    /// <summary>Timed out (its caller got <see cref="RequestFailure.Timeout"/>); kept for the grace window so a late
    /// answer is still taken, and handed to the next identical request.</summary>
    Expired,
    Done,
}

/// <summary>
/// One request of ours, owned by the handler shard of its remote's endpoint (only that shard's loop touches it after
/// it was queued). discv5-theory.md "Handshake Implementation Considerations": we keep every sent request until it is
/// answered, answered by WHOAREYOU (then re-sent as a handshake), or timed out.
/// </summary>
internal abstract class PendingRequest
{
    protected PendingRequest(HandlerShard owner, Enr node, NodeAddress address, Func<RequestId, Discv5Message> make, string? adoptKey, TimeSpan timeout, int maxAttempts, long started)
    {
        Owner = owner; Node = node; Address = address; Make = make; AdoptKey = adoptKey; Timeout = timeout; MaxAttempts = maxAttempts; Started = started;
    }

    /// <summary>The shard of the remote's endpoint: it owns the request and hands its outcome to the caller.</summary>
    public HandlerShard Owner { get; }

    public Enr Node { get; }
    public NodeAddress Address { get; }
    public Func<RequestId, Discv5Message> Make { get; }
    /// <summary>What makes two requests the same question (type and content, not the id): an expired request with the
    /// same key is taken up by a new one. Null: never taken up (TALKREQ: its payload may not be idempotent).</summary>
    public string? AdoptKey { get; }
    public TimeSpan Timeout { get; }
    public int MaxAttempts { get; }
    public long Started { get; set; }
    public RequestState State { get; set; } = RequestState.New;
    public Discv5Message Message { get; set; } = null!;
    public byte[] Plaintext { get; set; } = [];
    /// <summary>A field, not a property: the list is a struct changed in place.</summary>
    public NonceList Nonces;
    public int Attempts { get; set; }
    /// <summary>This request answered a challenge made for an earlier packet than its latest: its own earlier attempt's
    /// (late, or a copy its latest packet drew), or a given-up first contact's (see HandlerShard.HandleWhoAreYou).</summary>
    public bool AnsweredOldChallenge { get; set; }
    /// <summary>An attempt that ended on our unanswered handshake was not counted (at most once per request).</summary>
    public bool HandshakeRetried { get; set; }
    /// <summary>The bytes of this request's last handshake packet, for one resend (see HandlerShard.OnRequestTimeout).</summary>
    public byte[]? HandshakePacket { get; set; }
    /// <summary>That handshake packet was sent again after an attempt ended without its answer.</summary>
    public bool HandshakeResent { get; set; }
    /// <summary>This request took up an expired identical one (its id, so an answer may be for that one's packet).</summary>
    public bool TookUpExpired { get; set; }
    /// <summary>The request was asked once more, uncounted, after its last attempt brought part of a multi-message answer.</summary>
    public bool PartialRetried { get; set; }
    /// <summary>When the current attempt started (<c>Time.GetTimestamp()</c>): a datagram of the remote dropped by the
    /// handler since then may have been its answer.</summary>
    public long AttemptStarted { get; set; }
    /// <summary>Attempts not counted because the handler dropped a datagram of the remote while they waited
    /// (<see cref="Discv5Options.MaxRetriesAfterDrops"/>).</summary>
    public int RetriesAfterDrops { get; set; }
    /// <summary>The id of the current attempt's timeout in its shard's deadline queue; 0 when none is armed.</summary>
    public long TimeoutId { get; set; }
    /// <summary>How long the current attempt's timeout has been put off (see <see cref="Discv5Options.TimeoutDeferral"/>).</summary>
    public TimeSpan Deferred { get; set; }
    /// <summary><see cref="Transport.Discv5Socket.Drained"/> when the current attempt's timeout was first put off.</summary>
    public long DrainedAtDeferral { get; set; }
    public long ExpiresAt { get; set; }
    /// <summary>The last WHOAREYOU challenge this request answered with a handshake, and the session that made.</summary>
    public (byte[] Challenge, Session Session)? Handshake { get; set; }
    // NODES aggregation (discv5-wire.md NODES: one answer may span several messages)
    public int NodesTotal { get; set; }
    /// <summary>Distinct NODES messages of the answer taken so far, over every attempt: a message that brought nothing but
    /// records already taken is an earlier attempt's copy and is not counted (HandlerShard.HandleNodes).</summary>
    public int NodesReceived { get; set; }
    /// <summary>NODES messages that came during the current attempt (copies included).</summary>
    public int NodesThisAttempt { get; set; }
    public List<Enr>? Records { get; set; }
    /// <summary>Records taken so far per distance asked (in the order of the request's distances).</summary>
    public int[]? PerDistance { get; set; }
    public PongInfo? Pong { get; set; }
    public ReadOnlyMemory<byte> TalkResponse { get; set; }

    public abstract string Kind { get; }

    /// <summary>Tells the caller why there is no answer.</summary>
    public abstract void Fail(RequestFailure failure);

    /// <summary>The caller gave up (its token was cancelled, or its group).</summary>
    public abstract bool CallerGone { get; }

    /// <summary>The requests this one is cancelled with, if it was made with a sink (see <see cref="RequestGroup"/>).</summary>
    public abstract RequestGroup? Group { get; }

    /// <summary>On the owning shard's loop: the request was ended because its caller is gone; a sink is told.</summary>
    public abstract void CallerCancelled();

    /// <summary>An answer came after this request had timed out.</summary>
    public abstract bool HasLateAnswer { get; }

    /// <summary>Takes up an expired identical request: its id (so its answer, whenever it comes, answers this one), the
    /// records it gathered so far, and its late answer if one came (which completes this request).</summary>
    public abstract void TakeUp(PendingRequest expired);

    /// <summary>Hands the outcome to the caller: its continuation runs here, on the thread that delivers the owning
    /// shard's batch of outcomes (see <see cref="HandlerShard.FlushOutcomes"/>).</summary>
    public abstract void DeliverOutcome();
}

internal sealed class PendingRequest<T> : PendingRequest
{
    private T? _late;
    private bool _hasLate;

    public PendingRequest(HandlerShard owner, string kind, Enr node, NodeAddress address, Func<RequestId, Discv5Message> make, string? adoptKey, TimeSpan timeout, int maxAttempts, long started,
        IRequestSink<T>? sink = null, RequestGroup? group = null)
        : base(owner, node, address, make, adoptKey, timeout, maxAttempts, started)
    {
        Kind = kind;
        _sink = sink;
        Group = group;
        if (sink is null) _caller = new();
    }

    // the caller's sink (see IRequestSink), or null when the caller awaits Caller's task
    private readonly IRequestSink<T>? _sink;
    private readonly TaskCompletionSource<RequestResult<T>>? _caller;
    // the outcome queued is the group's cancellation (sink requests only)
    private bool _outcomeCancelled;

    /// <summary>The requests this one is cancelled with (sink requests only).</summary>
    public override RequestGroup? Group { get; }

    public override string Kind { get; }

    /// <summary>
    /// The caller's task. Its continuation runs where the task is completed, which is never a shard's loop: an outcome
    /// is queued on the shard (<see cref="Answered"/>) and the shard hands each batch of them to one thread-pool work
    /// item (<see cref="HandlerShard.FlushOutcomes"/>), where the callers go on one after the other. A task whose
    /// continuations ran asynchronously cost a work item per answer, each of which could wake a sleeping worker (~150,000
    /// in a crawl of 20,000 records).
    /// </summary>
    public TaskCompletionSource<RequestResult<T>> Caller => _caller ?? throw new InvalidOperationException("a request with a sink has no task");

    private RequestResult<T> _outcome;
    private bool _hasOutcome;
    private int _cancelled;

    public override bool CallerGone => _caller is null ? Group?.IsCancelled == true : Volatile.Read(ref _cancelled) != 0 || _caller.Task.IsCompleted;

    // the caller's token, watched until the caller has its answer (then unregistered: a crawl's requests share one
    // token, and a registration left behind per request would pile up on it)
    private CancellationTokenRegistration _registration;
    private bool _released;

    /// <summary>When <paramref name="ct"/> is cancelled before the answer: the caller's task is cancelled (by a
    /// thread-pool work item) and the shard is told to drop the request.</summary>
    public void WatchCaller(CancellationToken ct)
    {
        if (!ct.CanBeCanceled) return;
        var reg = ct.UnsafeRegister(static (s, token) =>
        {
            var r = (PendingRequest<T>)s!;
            // the caller's continuation goes to the pool, not onto the thread that cancels (which may hold its own
            // locks); an outcome queued meanwhile is not delivered (DeliverOutcome)
            Volatile.Write(ref r._cancelled, 1);
            ThreadPool.UnsafeQueueUserWorkItem(static c => c.Request.Caller.TrySetCanceled(c.Token), (Request: r, Token: token), preferLocal: false);
            r.Owner.TryPost(ShardItem.Cancel(r));
        }, this);
        lock (this)
        {
            if (!_released)
            {
                _registration = reg;
                return;
            }
        }
        reg.Unregister();   // answered before the registration was stored
    }

    /// <summary>On the owning shard's loop: the outcome is queued there, and given to the caller after the shard's
    /// current batch of work. Only the first outcome counts.</summary>
    private void Answered(RequestResult<T> result)
    {
        if (_hasOutcome) return;
        if (CallerGone)
        {
            // an awaiting caller's task was cancelled by its token's registration; a sink hears it here
            if (_sink is not null) QueueCancelled();
            return;
        }
        _hasOutcome = true;
        _outcome = result;
        Owner.QueueOutcome(this);
    }

    /// <summary>On the owning shard's loop: the request ends unanswered because its caller is gone (its group
    /// cancelled): a sink is told so; an awaiting caller already was (see <see cref="WatchCaller"/>).</summary>
    public override void CallerCancelled()
    {
        if (_sink is null || _hasOutcome) return;
        QueueCancelled();
    }

    private void QueueCancelled()
    {
        _hasOutcome = true;
        _outcomeCancelled = true;
        Owner.QueueOutcome(this);
    }

    public override void DeliverOutcome()
    {
        if (_sink is not null)
        {
            var outcome = _outcome;
            _outcome = default;
            _sink.OnOutcome(outcome, _outcomeCancelled);
            return;
        }
        if (Volatile.Read(ref _cancelled) != 0 || !Caller.TrySetResult(_outcome)) return;
        _outcome = default;
        CancellationTokenRegistration reg;
        lock (this)
        {
            _released = true;
            reg = _registration;
            _registration = default;
        }
        reg.Unregister();
    }

    /// <summary>The answer: to the caller while it waits, kept for a retry once the request has timed out.</summary>
    public void Succeed(T value)
    {
        if (State == RequestState.Expired)
        {
            _late = value;
            _hasLate = true;
            return;
        }
        Answered(RequestResult<T>.Ok(value));
    }

    public override bool HasLateAnswer => _hasLate;

    public override void Fail(RequestFailure failure) => Answered(RequestResult<T>.Failed(failure));

    public override void TakeUp(PendingRequest expired)
    {
        if (expired is not PendingRequest<T> old) throw new InvalidOperationException($"{Kind} cannot take up a {expired.Kind} request");
        TookUpExpired = true;
        Message = old.Message;
        Plaintext = old.Plaintext;
        NodesTotal = old.NodesTotal;
        NodesReceived = old.NodesReceived;
        Records = old.Records;
        PerDistance = old.PerDistance;
        if (old._hasLate) Answered(RequestResult<T>.Ok(old._late!, late: true));
    }
}

/// <summary>The request whose packet is to open a session with a node, and the requests waiting for it.</summary>
internal sealed class FirstContact(PendingRequest leader)
{
    public PendingRequest Leader { get; set; } = leader;
    public List<PendingRequest> Waiting { get; } = [];
}

/// <summary>A WHOAREYOU we sent: its challenge-data, its bytes (re-sent as they are), when, and the record we knew.</summary>
internal sealed record Challenge(byte[] ChallengeData, byte[] Packet, long Created, Enr? Known);
