using System.Net;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Packets;
using ClP2p.Discovery.Sessions;
using ClP2p.Discovery.Table;

namespace ClP2p.Discovery.Handler;

internal sealed partial class HandlerShard
{
    /// <summary>discv5-wire.md NODES: a FINDNODE answer holds at most 16 records per distance (one k-bucket).</summary>
    public const int MaxRecordsPerDistance = RoutingTable.BucketSize;
    /// <summary>We return at most 16 records per FINDNODE in total (nim-eth #857, as the JS node).</summary>
    public const int MaxRecordsPerResponse = 16;
    /// <summary>Cap on the NODES `total` we accept (sigp MAX_NODES_RESPONSES).</summary>
    public const int MaxNodesMessages = 16;
    /// <summary>Plaintext budget of one message packet: 1280 - iv(16) - static header(23) - authdata(32) - tag(16).</summary>
    private const int MaxMessagePlaintext = PacketCodec.MaxPacketSize - 16 - 23 - 32 - 16;
    /// <summary>Values of _armedFor: the deadline timer is off; a pass runs (and re-arms it when it ends).</summary>
    private const long NotArmed = long.MaxValue, InPass = long.MinValue;

    private void StartRequest(PendingRequest req)
    {
        if (_stopping || req.CallerGone)
        {
            Finish(req, _stopping ? RequestFailure.Disposed : null, countOutcome: "cancelled");
            if (!_stopping) req.CallerCancelled();
            return;
        }
        req.State = RequestState.Live;
        if (req.AdoptKey is { } key && _expired.Remove((req.Address, key), out var old))
        {
            // an identical request timed out a moment ago: this one takes it up, keeping its id so that the answer to
            // either, however late, answers this one; a late answer that already came completes it right away
            _pending.Remove(old.Message.RequestId.Value);
            old.State = RequestState.Done;
            if (old.HasLateAnswer)
            {
                // the bookkeeping first: the caller may read the node's counters as soon as it has the answer
                req.State = RequestState.Done;
                Interlocked.Decrement(ref Counters.LiveRequests);
                Discv5Metrics.Requests.Add(1, new KeyValuePair<string, object?>("type", req.Kind), new KeyValuePair<string, object?>("outcome", "ok-late"));
                req.TakeUp(old);
                return;
            }
            req.TakeUp(old);
            _pending[req.Message.RequestId.Value] = req;
        }
        else
        {
            RequestId id;
            Span<byte> rid = stackalloc byte[8];
            // no leading zero byte: ChainSafe discv5 answers with the id re-encoded as a minimal integer
            do { _ctx.Random.Fill(rid); rid[0] |= 1; id = RequestId.From(rid); } while (_pending.ContainsKey(id.Value));
            req.Message = req.Make(id);
            req.Plaintext = MessageCodec.Encode(req.Message);
            _pending[id.Value] = req;
        }
        _ctx.Service.Remember(req.Node);
        // the timer first: whoever sees the packet (a test on a fake clock) may advance time at once
        ArmTimer(req);
        SendRequestPacket(req);
    }

    /// <summary>Ends every request still waiting whose group was cancelled (see <see cref="RequestGroup"/>); each tells
    /// its sink. A scan of this shard's requests: once per cancelled group.</summary>
    private void CancelGroupRequests()
    {
        List<PendingRequest>? gone = null;
        foreach (var req in _pending.Values)
            if (req.State is RequestState.Live or RequestState.New && req.Group is { IsCancelled: true }) (gone ??= []).Add(req);
        if (gone is null) return;
        foreach (var req in gone) Finish(req, RequestFailure.Disposed, countOutcome: "cancelled");
    }

    /// <summary>Arms the timeout of a new attempt.</summary>
    private void ArmTimer(PendingRequest req)
    {
        req.Deferred = TimeSpan.Zero;
        req.AttemptStarted = Time.GetTimestamp();
        ArmTimer(req, req.Timeout);
    }

    /// <summary>
    /// Sets <paramref name="req"/>'s timeout <paramref name="due"/> from now, in place of the one it had (whose entry
    /// stays in the queue, stale: its id is no longer armed). Only this shard's processing calls it, as it does
    /// everything else that touches the deadline queue, so the queue needs no lock.
    /// </summary>
    private void ArmTimer(PendingRequest req, TimeSpan due)
    {
        long now = Time.GetTimestamp();
        // rounded up: a timeout never fires before its time
        long ticks = Math.Max(0, (long)Math.Ceiling(due.Ticks * (double)Time.TimestampFrequency / TimeSpan.TicksPerSecond));
        long deadline = ticks >= NotArmed - now ? NotArmed - 1 : now + ticks;
        DisarmTimer(req);
        long id = ++_lastTimeoutId;
        req.TimeoutId = id;
        _armed[id] = req;
        _deadlines.Enqueue(id, deadline);
        if (deadline < _armedFor) ArmDeadlineTimer(deadline, now);
    }

    private void DisarmTimer(PendingRequest req)
    {
        if (req.TimeoutId == 0) return;
        _armed.Remove(req.TimeoutId);
        req.TimeoutId = 0;
    }

    private void ArmDeadlineTimer(long deadline, long now)
    {
        _armedFor = deadline;
        TimerDue.Arm(_deadlineTimer, Time, deadline, now);
    }

    /// <summary>The deadline timer fired (on a timer thread): one <see cref="ShardItem.DeadlinesDue"/> for the shard,
    /// unless one waits already (its pass re-arms the timer when it ends).</summary>
    private void OnDeadlineTimer()
    {
        if (Interlocked.Exchange(ref _deadlinesQueued, 1) != 0) return;
        Volatile.Write(ref _deadlinesFiredAt, Time.GetTimestamp());
        if (!TryPost(ShardItem.DeadlinesDue)) Volatile.Write(ref _deadlinesQueued, 0);
    }

    /// <summary>
    /// Times out the requests whose deadline had come when the timer fired, no later ones. As when each request had a
    /// timer of its own, a timeout is handled after the datagrams queued before its deadline came: a deadline reached
    /// since the timer fired gets a pass of its own (the timer re-armed at once), behind what arrived meanwhile.
    /// </summary>
    private void TimeOutDueRequests()
    {
        long firedAt = Volatile.Read(ref _deadlinesFiredAt);
        Volatile.Write(ref _deadlinesQueued, 0);
        _armedFor = InPass;
        // taken out first: a request re-armed while this pass runs (a retry, a deferral) waits for a pass of its own
        while (_deadlines.TryPeek(out long id, out long deadline) && deadline <= firedAt)
        {
            _deadlines.Dequeue();
            if (_armed.ContainsKey(id)) _due.Add(id);
        }
        _unreadThisPass = UnreadUnknown;
        foreach (long id in _due)
        {
            // no longer armed when what an earlier timeout of this pass did ended it
            if (!_armed.Remove(id, out var req)) continue;
            req.TimeoutId = 0;
            try
            {
                OnRequestTimeout(req);
            }
            catch (Exception e)
            {
                // a bug of ours: the other requests of this pass still time out
                LogInternalError(_ctx.Log, e, ShardItemKind.DeadlinesDue);
            }
        }
        _due.Clear();
        _unreadThisPass = UnreadUnknown;
        _armedFor = NotArmed;
        if (_deadlines.TryPeek(out _, out long next)) ArmDeadlineTimer(next, Time.GetTimestamp());
    }

    private void SendRequestPacket(PendingRequest req, bool countAttempt = true)
    {
        if (countAttempt) req.Attempts++;
        Span<byte> maskingIv = stackalloc byte[16];
        _ctx.Random.Fill(maskingIv);
        Span<byte> messageNonce = stackalloc byte[12];
        int n;
        if (_sessions.TryGetValue(req.Address, out var s))
        {
            s.NextNonce(messageNonce, _ctx.Random);
            n = PacketCodec.EncodeMessage(_sendBuffer, req.Address.Id, maskingIv, messageNonce, _ctx.LocalId, s.WriteKey, req.Plaintext);
        }
        else
        {
            // discv5-theory.md "Handshake Implementation Considerations": while another request is opening the
            // session, wait for its handshake. Several random packets at once draw several copies of one challenge,
            // and each handshake answering one would make its own keys.
            if (_firstContacts.TryGetValue(req.Address, out var first) && first.Leader != req)
            {
                if (!first.Waiting.Contains(req)) first.Waiting.Add(req);
                return;
            }
            if (first is null) _firstContacts[req.Address] = new FirstContact(req);
            // no session: random content provokes a WHOAREYOU (discv5-theory.md "Sessions")
            _ctx.Random.Fill(messageNonce);
            Span<byte> body = stackalloc byte[44];
            _ctx.Random.Fill(body);
            n = PacketCodec.EncodeRandomMessage(_sendBuffer, req.Address.Id, maskingIv, messageNonce, _ctx.LocalId, body);
        }
        var key = Nonce96.From(messageNonce);
        _byNonce[key] = (req, false, s);
        req.Nonces.Add(key);
        Send(_sendBuffer.AsSpan(0, n), req.Address.EndPoint);
    }

    private void OnRequestTimeout(PendingRequest req)
    {
        if (req.State != RequestState.Live) return;
        if (PutOffTimeout(req)) return;
        // This shard dropped a datagram of the remote over its bound while the attempt waited (a stalled process, a
        // burst of answers): the answer may have been dropped by us, not lost on the way, so the attempt is not
        // counted. Crawls that overloaded the handler at their start gave up live nodes whose every answer came in
        // such a burst (docs/performance.md, "The larger miss traced: answers dropped by our own handler").
        bool afterDrop = req.RetriesAfterDrops < Options.MaxRetriesAfterDrops && DroppedSince(req.Address.EndPoint, req.AttemptStarted);
        if (afterDrop)
        {
            req.RetriesAfterDrops++;
            Interlocked.Increment(ref Counters.RetriesAfterDrops);
        }
        if (req.Records is { Count: > 0 })
        {
            // once more when no attempt is left (the second pass of a crawl asks each distance in one attempt)
            bool extra = !afterDrop && req.Attempts >= req.MaxAttempts && !req.PartialRetried;
            if (afterDrop || req.Attempts < req.MaxAttempts || extra)
            {
                if (extra) req.PartialRetried = true;
                // Part of a multi-message answer came, the rest was lost on the way (or dropped by us, then the attempt
                // is not counted): asked again, the whole answer is awaited (records already taken stay, and are not
                // taken twice). Taken as it was, a lost NODES message cost the records it carried: with 1 % loss and
                // three messages per answer, simulated crawls left 29-32 % of the live nodes' tables short by a
                // message's records, with nothing to say so (docs/performance.md, "Answers short of a message").
                // The messages counted so far stay counted: the answer asked again repeats them, and their copies are
                // not counted again (HandleNodes), so a late message of the earlier attempt and the new attempt's
                // copies cannot add up to the total while a message is still missing.
                req.NodesThisAttempt = 0;
                ArmTimer(req);
                SendRequestPacket(req, countAttempt: !afterDrop && !extra);
                return;
            }
            // some NODES messages of a multi-message answer arrived, and no attempt is left: return what we have
            Complete(req);
            return;
        }
        bool handshakeUnanswered = req.Nonces.Count > 0 && _byNonce.TryGetValue(req.Nonces.Last, out var last) && last.WasHandshake;
        // An attempt that ended on our unanswered handshake is not counted, once per request, when that handshake may
        // have answered a challenge the remote no longer holds: one made for an earlier packet than the request's latest
        // (its own earlier attempt's, or a given-up first contact's, see HandleWhoAreYou). A remote repeats one challenge
        // for every packet of ours while it lives (discv5-theory.md "Handshake Implementation Considerations"), and a
        // copy or a late original can come after the remote replaced or dropped it. Our handshake is then one the
        // remote cannot verify: it gets no answer, and at a remote that takes its challenge out before it verifies (as
        // this node does, HandleHandshake) it spends the new challenge too, so the new challenge's WHOAREYOU, when it
        // comes, cannot be answered either. Slow nodes whose second pass went this way were never enumerated
        // (docs/performance.md, "The rare miss, found"); the retry's fresh first contact draws a new challenge.
        bool oldChallengeRetry = handshakeUnanswered && req.AnsweredOldChallenge && !req.HandshakeRetried;
        bool uncounted = oldChallengeRetry;
        if (uncounted) req.HandshakeRetried = true;
        // nor one after which we may have dropped the answer ourselves (above)
        uncounted |= afterDrop;
        if (req.Attempts < req.MaxAttempts || uncounted)
        {
            if (handshakeUnanswered && !req.HandshakeResent && req.HandshakePacket is { } again && req.Handshake is { } hs
                && _sessions.TryGetValue(req.Address, out var current) && current == hs.Session)
            {
                // The handshake itself goes again, the same bytes under the same keys, before anything else is tried.
                // Lost, it reaches the remote while the challenge it answers is still pending there; taken and only
                // answered late (a slow remote), the copy finds no challenge and is dropped, and the session both sides
                // hold stays in use. A fresh first contact instead would draw a new challenge from a remote that holds
                // our keys, and a copy of the old challenge, still on its way and answered by a new handshake, would
                // make the remote drop the new one (its signature is over the old): in simulated crawls slow nodes
                // whose later requests all went unread, their challenges naming requests already given up.
                // An uncounted attempt keeps its allowance: when the remote had dropped the challenge our handshake
                // answered, the next timeout still brings the fresh first contact that draws a new one.
                req.HandshakeResent = true;
                if (oldChallengeRetry) req.HandshakeRetried = false;
                if (!uncounted) req.Attempts++;
                ArmTimer(req);
                Send(again, req.Address.EndPoint);
                return;
            }
            // a lost handshake leaves a session the remote does not have: start over without it
            if (handshakeUnanswered) SetAsideSession(req.Address);
            ArmTimer(req);
            SendRequestPacket(req, countAttempt: !uncounted);
            return;
        }
        RememberGivenUp(req);
        var grace = Options.LateAnswerGrace;
        if (req.AdoptKey is null || grace <= TimeSpan.Zero)
        {
            Finish(req, RequestFailure.Timeout);
            return;
        }
        // the caller gets its timeout now; the request stays answerable for the grace window
        Release(req);
        req.State = RequestState.Expired;
        req.ExpiresAt = Time.GetTimestamp() + (long)(grace.TotalSeconds * Time.TimestampFrequency);
        _pending[req.Message.RequestId.Value] = req;
        if (_expired.Remove((req.Address, req.AdoptKey), out var older)) _pending.Remove(older.Message.RequestId.Value);
        _expired[(req.Address, req.AdoptKey)] = req;
        Discv5Metrics.Requests.Add(1, new KeyValuePair<string, object?>("type", req.Kind), new KeyValuePair<string, object?>("outcome", nameof(RequestFailure.Timeout)));
        req.Fail(RequestFailure.Timeout);
    }

    /// <summary>
    /// Whether the timeout of <paramref name="req"/>'s attempt waits a little (<see cref="Discv5Options.TimeoutDeferral"/>):
    /// datagrams that arrived before it fired may still wait in the socket, unread, when the process was stalled. The
    /// first time, if the socket holds anything; after that, until a receive loop has found the socket empty since the
    /// first time (what arrived before the deadline has then been read, and this shard handles its datagrams in order),
    /// at most <see cref="Discv5Options.MaxTimeoutDeferral"/> in all. Datagrams already in this shard's queue were
    /// queued before the timeout was, and are handled before it.
    /// </summary>
    private bool PutOffTimeout(PendingRequest req)
    {
        var step = Options.TimeoutDeferral;
        if (step <= TimeSpan.Zero || req.Deferred + step > Options.MaxTimeoutDeferral) return false;
        if (req.Deferred == TimeSpan.Zero)
        {
            if (!SocketHasUnread()) return false;
            req.DrainedAtDeferral = _ctx.Socket.Drained;
        }
        else if (_ctx.Socket.Drained != req.DrainedAtDeferral)
        {
            return false;
        }
        req.Deferred += step;
        ArmTimer(req, step);
        Interlocked.Increment(ref Counters.TimeoutsDeferred);
        return true;
    }

    private const int UnreadUnknown = -1;
    // whether the socket held an unread datagram when last asked in this pass of timeouts (-1: not asked yet), and
    // how many timeouts have used that answer
    private int _unreadThisPass = UnreadUnknown;
    private int _unreadUses;

    /// <summary>The timeouts of one pass that share an answer of <see cref="SocketHasUnread"/>.</summary>
    internal const int UnreadAnswerUses = 32;

    /// <summary>
    /// <see cref="Transport.Discv5Socket.HasUnread"/> (a system call, FIONREAD), shared by up to
    /// <see cref="UnreadAnswerUses"/> timeouts of one pass: they came due together, and what waited unread when the
    /// first of them fired waited for the others. A crawl's thousands of first contacts to records of gone nodes time
    /// out in passes of dozens: one call each was ~41,000 calls per crawl of 20,000 records. Asked again after that
    /// many, so that in a long pass (thousands due at once after a stall) what arrived meanwhile is still seen.
    /// </summary>
    private bool SocketHasUnread()
    {
        if (_armedFor != InPass) return _ctx.Socket.HasUnread;
        if (_unreadThisPass == UnreadUnknown || _unreadUses >= UnreadAnswerUses)
        {
            _unreadThisPass = _ctx.Socket.HasUnread ? 1 : 0;
            _unreadUses = 0;
        }
        _unreadUses++;
        return _unreadThisPass == 1;
    }

    /// <summary>Keeps a while the nonces of a timed-out first contact's random packets, and of a timed-out request's
    /// packets under the session still in use (see _givenUp).</summary>
    private void RememberGivenUp(PendingRequest req)
    {
        if (Options.MaxGivenUpNonces <= 0) return;
        long now = Time.GetTimestamp();
        _sessions.TryGetValue(req.Address, out var current);
        // the request's packets are in the order sent: its last handshake's comes after the packets it may answer
        int lastHandshake = -1;
        for (int i = 0; i < req.Nonces.Count; i++)
            if (_byNonce.TryGetValue(req.Nonces[i], out var h) && h.WasHandshake) lastHandshake = i;
        for (int i = 0; i < req.Nonces.Count; i++)
        {
            var n = req.Nonces[i];
            if (!_byNonce.TryGetValue(n, out var e) || e.WasHandshake) continue;
            // a first contact's packet, while no session is in use and none was made by a handshake sent after it; or a
            // packet under the session still in use. A first contact sent after an unanswered handshake of the same
            // request (its session set aside) counts: a slow node whose handshake the remote dropped (it answered a
            // challenge the remote had replaced) starts over with such a packet, and its challenge, late, names it. Not
            // kept, that challenge was dropped as unsolicited when the next pass's packet drew a copy of it, and the
            // node was left unanswered (docs/performance.md, "Slow nodes' lost answers").
            if (e.Under is null ? i < lastHandshake || current is not null : e.Under != current) continue;
            _givenUp.Add(n, (req.Address, e.Under), now);
        }
    }

    /// <summary>A request to <paramref name="addr"/> still waiting for its answer, if any. A scan of this shard's requests:
    /// only a WHOAREYOU to a given-up request's packet under a session comes here, a few times in a crawl.</summary>
    private PendingRequest? LiveRequestTo(NodeAddress addr)
    {
        foreach (var req in _pending.Values)
            if (req.State == RequestState.Live && req.Address.Equals(addr)) return req;
        return null;
    }

    private void PurgeGivenUp(long now)
    {
        var lifetime = Options.LateAnswerGrace > TimeSpan.Zero ? Options.LateAnswerGrace : TimeSpan.FromSeconds(10);
        long cutoff = now - (long)(lifetime.TotalSeconds * Time.TimestampFrequency);
        _givenUp.Purge(cutoff);
        _ended.Purge(cutoff);
    }

    /// <summary>
    /// The request that answers a challenge naming a packet of an ended request (one not kept among the given-up ones,
    /// see <see cref="RememberGivenUp"/>), or null to drop it. discv5-theory.md "Handshake Implementation
    /// Considerations": while its challenge is pending, a remote answers every packet of ours it cannot read with the
    /// same WHOAREYOU, which names the packet that drew it first. The first such challenge is dropped, as it may be a
    /// late copy of one the remote has replaced (answered, a remote that drops a challenge after a handshake with a bad
    /// signature, as go-ethereum's does, would lose the one it holds); when the same bytes come again, the remote holds
    /// it, and a request waiting for that node answers it. Unanswered, a slow node that had taken one handshake and then
    /// lost our session challenged every later packet, and was left with one answer (docs/performance.md, "The slow
    /// node left at one answer").
    /// </summary>
    private PendingRequest? RepeatedChallengeCarrier(Nonce96 nonce, ReadOnlySpan<byte> challenge, IPEndPoint from)
    {
        if (!_ended.TryGetValue(nonce, out var ended) || !ended.EndPoint.Equals(from)) return null;
        if (!_unansweredChallenges.TryGetValue(ended, out var seen) || !challenge.SequenceEqual(seen))
        {
            // bounded: one entry per remote whose challenge went unanswered, cleared when many have piled up
            if (_unansweredChallenges.Count >= Options.MaxGivenUpNonces) _unansweredChallenges.Clear();
            _unansweredChallenges[ended] = challenge.ToArray();
            return null;
        }
        if (LiveRequestTo(ended) is not { } carrier) return null;
        _unansweredChallenges.Remove(ended);
        LogRepeatedChallengeAnswered(_ctx.Log, from);
        return carrier;
    }

    private void PurgeExpiredRequests(long now)
    {
        List<(NodeAddress, string)>? gone = null;
        foreach (var (k, req) in _expired)
            if (now >= req.ExpiresAt) (gone ??= []).Add(k);
        if (gone is null) return;
        foreach (var k in gone)
        {
            _expired.Remove(k, out var req);
            if (_pending.TryGetValue(req!.Message.RequestId.Value, out var cur) && cur == req) _pending.Remove(req.Message.RequestId.Value);
            req.State = RequestState.Done;
        }
    }

    /// <summary>
    /// Forgets a request's packets and timeout, and hands its first-contact role on. Leaves it in _pending. The nonces of
    /// its packets (not its handshakes) are kept a while, however it ended: an answered request's too (its answer may
    /// have come for another of its attempts, while the remote challenged this one), and those to a remote that had not
    /// answered yet (a slow node's challenge comes seconds after its first contacts ended); only for
    /// <see cref="RepeatedChallengeCarrier"/>, which takes a challenge naming one of them only when the remote repeats it.
    /// Not kept (<paramref name="answeredOnItsOnlyPacket"/>): the packet of a request answered on the one packet it sent,
    /// most of a crawl's (~150,000 of ~190,000).
    /// The remote read that packet under a session, so it did not challenge it (discv5-wire.md: a WHOAREYOU answers a
    /// packet the recipient cannot decrypt), and a challenge of a later packet names that one.
    /// </summary>
    private void Release(PendingRequest req, bool answeredOnItsOnlyPacket = false)
    {
        if (req.State is RequestState.Live or RequestState.New) Interlocked.Decrement(ref Counters.LiveRequests);
        bool keep = !answeredOnItsOnlyPacket;
        long now = keep && req.Nonces.Count > 0 ? Time.GetTimestamp() : 0;
        for (int i = 0; i < req.Nonces.Count; i++)
            if (_byNonce.Remove(req.Nonces[i], out var e) && !e.WasHandshake && keep) _ended.Add(req.Nonces[i], req.Address, now);
        req.Nonces.Clear();
        DisarmTimer(req);
        if (_firstContacts.TryGetValue(req.Address, out var first))
        {
            if (first.Leader != req)
            {
                first.Waiting.Remove(req);
            }
            else if (first.Waiting.Count == 0 || _stopping)
            {
                _firstContacts.Remove(req.Address);
            }
            else
            {
                // the opener is gone without a session: the next waiting request opens it
                first.Leader = first.Waiting[0];
                first.Waiting.RemoveAt(0);
                SendRequestPacket(first.Leader, countAttempt: false);
            }
        }
    }

    /// <summary>Ends a request: removes it everywhere; with a failure, tells the caller. <paramref name="answeredOnItsOnlyPacket"/>:
    /// see <see cref="Release"/>.</summary>
    private void Finish(PendingRequest req, RequestFailure? failure, string? countOutcome = null, bool answeredOnItsOnlyPacket = false)
    {
        if (req.State == RequestState.Done) return;
        if (req.State == RequestState.Expired)
        {
            if (req.AdoptKey is { } key && _expired.TryGetValue((req.Address, key), out var cur) && cur == req) _expired.Remove((req.Address, key));
        }
        else
        {
            Release(req, answeredOnItsOnlyPacket);
        }
        if (req.Message is not null && _pending.TryGetValue(req.Message.RequestId.Value, out var p) && p == req) _pending.Remove(req.Message.RequestId.Value);
        req.State = RequestState.Done;
        if (countOutcome is not null || failure is not null)
            Discv5Metrics.Requests.Add(1, new KeyValuePair<string, object?>("type", req.Kind), new KeyValuePair<string, object?>("outcome", countOutcome ?? failure.ToString()));
        if (failure is { } f) req.Fail(f);
    }

    /// <summary>An answer: the node is alive at the endpoint its record names, table it; then the caller gets it
    /// (or, for a request that already timed out, it is kept for the next identical request).</summary>
    private void Complete(PendingRequest req)
    {
        if (req.Address.EndPoint.Equals(_ctx.Socket.EndpointFor(req.Node))) _ctx.Service.Contacted(req.Node);
        if (req.State == RequestState.Expired)
        {
            // kept in _expired for the retry; further messages for its id are unknown from now on
            Deliver(req);
            _pending.Remove(req.Message.RequestId.Value);
            Interlocked.Increment(ref Counters.LateAnswers);
            Discv5Metrics.LateAnswers.Add(1, new KeyValuePair<string, object?>("type", req.Kind));
            return;
        }
        // the bookkeeping first: the caller may read the node's counters as soon as it has the answer
        Finish(req, null, countOutcome: "ok", answeredOnItsOnlyPacket: req.Nonces.Count == 1 && !req.TookUpExpired);
        Deliver(req);
    }

    private static void Deliver(PendingRequest req)
    {
        switch (req)
        {
            case PendingRequest<IReadOnlyList<Enr>> fn: fn.Succeed(fn.Records ?? []); break;
            case PendingRequest<PongInfo> ping: ping.Succeed(ping.Pong!); break;
            case PendingRequest<ReadOnlyMemory<byte>> talk: talk.Succeed(talk.TalkResponse); break;
        }
    }

    /// <param name="limited">The packet already took its place in the unsolicited budget (a handshake carrying it).</param>
    private DropReason HandleMessage(NodeAddress addr, Session s, ReadOnlySpan<byte> plaintext, bool limited = false)
    {
        if (MessageCodec.TryReadNodes(plaintext, out var nodesId, out int nodesTotal, out int recordsAt, out int recordsLength))
        {
            // the bulk of a crawl's packets: read in place, records copied only when first seen
            if (!_pending.TryGetValue(nodesId.Value, out var answered)) return DropReason.ResponseUnknownRequest;
            if (!answered.Address.Equals(addr)) return DropReason.ResponseWrongSender;
            if (answered.Message is not FindNodeMessage asked) return DropReason.ResponseTypeMismatch;
            return HandleNodes(answered, asked, nodesTotal, plaintext.Slice(recordsAt, recordsLength), addr);
        }
        if (!MessageCodec.TryDecode(plaintext, out var m, out _)) return DropReason.MessageInvalid;
        switch (m)
        {
            case PingMessage or FindNodeMessage or TalkReqMessage:
                if (!limited && !_ctx.UnsolicitedLimiter.Allow(addr.EndPoint.Address, Time.GetTimestamp())) return DropReason.UnsolicitedRateLimited;
                ReportInbound(addr, s, handshake: false);
                break;
        }
        switch (m)
        {
            case PingMessage ping:
                SendMessage(addr, s, new PongMessage(ping.RequestId, _ctx.LocalEnr.Seq, addr.EndPoint.Address, addr.EndPoint.Port));
                Discv5Metrics.RequestsServed.Add(1, new KeyValuePair<string, object?>("type", "ping"));
                if (s.Remote is { } r && ping.EnrSeq > r.Seq) _ctx.Service.ScheduleRefresh(r);
                return DropReason.None;
            case FindNodeMessage fn:
                ServeFindNode(addr, s, fn);
                Discv5Metrics.RequestsServed.Add(1, new KeyValuePair<string, object?>("type", "findnode"));
                return DropReason.None;
            case TalkReqMessage talk:
                // no TALK protocols: answer with an empty response (discv5-wire.md TALKRESP)
                SendMessage(addr, s, new TalkRespMessage(talk.RequestId, ReadOnlyMemory<byte>.Empty));
                Discv5Metrics.RequestsServed.Add(1, new KeyValuePair<string, object?>("type", "talkreq"));
                return DropReason.None;
        }
        if (!_pending.TryGetValue(m!.RequestId.Value, out var req)) return DropReason.ResponseUnknownRequest;
        if (!req.Address.Equals(addr)) return DropReason.ResponseWrongSender;
        switch (m)
        {
            case PongMessage pong when req is PendingRequest<PongInfo> ping:
                {
                    ping.Pong = new PongInfo(pong.EnrSeq, new IPEndPoint(pong.RecipientIp, pong.RecipientPort), Time.GetElapsedTime(req.Started));
                    // the vote is counted before the caller hears the answer, so that its next look at our record sees it
                    if (_ctx.Votes.Add(addr.Id, ping.Pong.ObservedEndPoint) is { } adopted) _ctx.AddressAdopted(adopted);
                    Complete(req);
                    // a higher seq in a PONG means the record changed: fetch it with FINDNODE [0] (discv5-wire.md PONG)
                    var known = _ctx.Service.KnownRecord(addr.Id) ?? req.Node;
                    if (pong.EnrSeq > known.Seq) _ctx.Service.ScheduleRefresh(known);
                    return DropReason.None;
                }
            case TalkRespMessage talk when req is PendingRequest<ReadOnlyMemory<byte>> t:
                t.TalkResponse = talk.Response;
                Complete(req);
                return DropReason.None;
            default:
                return DropReason.ResponseTypeMismatch;
        }
    }

    /// <summary>Tells the node's owner that a remote contacted us (see <see cref="Discv5Options.InboundContact"/>).</summary>
    private void ReportInbound(NodeAddress addr, Session s, bool handshake)
    {
        if (_ctx.Options.InboundContact is not { } report) return;
        long now = Time.GetTimestamp();
        if (s.LastInboundReportTicks != 0 && Time.GetElapsedTime(s.LastInboundReportTicks, now) < _ctx.Options.InboundReportInterval) return;
        s.LastInboundReportTicks = now;
        report(new InboundContact(addr.Id, s.Remote ?? _ctx.Service.KnownRecord(addr.Id), addr.EndPoint, handshake));
    }

    /// <param name="records">The payload of the NODES message's record list (each item checked to be a list).</param>
    private DropReason HandleNodes(PendingRequest req, FindNodeMessage fn, int nodesTotal, ReadOnlySpan<byte> records, NodeAddress addr)
    {
        // discv5-wire.md NODES: total is the number of NODES messages of the answer; some stacks send 0 for an empty one
        int total = Math.Max(1, nodesTotal);
        if (total > MaxNodesMessages) return DropReason.NodesBadTotal;
        // the largest total any attempt's answer gave: an answer asked again of a table that grew meanwhile has more
        req.NodesTotal = Math.Max(req.NodesTotal, total);
        if (req.NodesThisAttempt++ == 0)
        {
            // the remote sends an answer's messages together: once the first is here, the others are due soon after,
            // and the rest of a long timeout (a crawl's second pass waits 8 s for slow nodes) would only delay asking
            // again for a lost one
            if (req.NodesTotal > 1 && req.State == RequestState.Live && req.TimeoutId != 0)
            {
                var rest = req.Timeout - Time.GetElapsedTime(req.AttemptStarted);
                if (rest > Options.RequestTimeout) ArmTimer(req, Options.RequestTimeout);
            }
        }
        req.Records ??= new List<Enr>(MaxRecordsPerDistance);
        // the distances asked, looked up for every record below: our requests' lists are arrays (FindNodeAsync), read
        // as a span rather than through the list's interface
        ReadOnlySpan<int> distances = fn.Distances as int[] ?? [.. fn.Distances];
        req.PerDistance ??= new int[distances.Length];
        int maxRecords = Math.Min(distances.Length * MaxRecordsPerDistance, MaxNodesMessages * MaxRecordsPerDistance);
        // the records' table slots, then the records in them, hinted to the processor before the lookups one by one
        // (VerifiedRecords.Prefetch)
        for (int level = 0; level < 2; level++)
        {
            var ahead = new RlpReader(records);
            while (!ahead.IsEnd && ahead.TryReadRaw(out var r, out _, out _)) _ctx.Records.Prefetch(r, level);
        }
        var list = new RlpReader(records);
        int added = 0, taken = 0;
        while (!list.IsEnd)
        {
            if (!list.TryReadRaw(out var raw, out _, out _)) break;   // checked by MessageCodec.TryReadNodes
            if (!_ctx.Records.TryDecode(raw, out var enr)) { Counters.RecordDropped(RecordDropReason.Invalid, addr.Id); continue; }
            int d = NodeId.LogDistance(enr!.NodeId, addr.Id);
            int slot = distances.IndexOf(d);
            if (slot < 0) { Counters.RecordDropped(RecordDropReason.WrongDistance, addr.Id); continue; }
            if (Contains(req.Records, enr.NodeId)) { taken++; Counters.RecordDropped(RecordDropReason.Duplicate, addr.Id); continue; }
            int c = req.PerDistance[slot];
            // discv5-wire.md FINDNODE: distance 0 is the node's own record, exactly one; any other distance is one
            // k-bucket at most (sigp rejects larger answers too)
            if ((d == 0 && c >= 1) || c >= MaxRecordsPerDistance) { Counters.RecordDropped(RecordDropReason.BucketOverflow, addr.Id); continue; }
            if (req.Records.Count >= maxRecords) { Counters.RecordDropped(RecordDropReason.TooMany, addr.Id); continue; }
            req.PerDistance[slot] = c + 1;
            req.Records.Add(enr);
            added++;
            if (d == 0) _ctx.Service.OwnRecord(enr); else _ctx.Service.Remember(enr);
        }
        // a message that brought no record but records taken already is a copy: the same message of an earlier attempt's
        // answer (the request asked again after part of it was lost, see OnRequestTimeout), or a repeat by the remote
        if (added > 0 || taken == 0) req.NodesReceived++;
        if (req.NodesReceived >= req.NodesTotal) Complete(req);
        return DropReason.None;
    }

    private static int IndexOf(IReadOnlyList<int> distances, int d)
    {
        for (int i = 0; i < distances.Count; i++) if (distances[i] == d) return i;
        return -1;
    }

    /// <summary>An answer holds at most 16 records per distance asked: a scan is cheaper than a set per request (over
    /// the list's array: its enumerator cost more than the comparisons).</summary>
    private static bool Contains(List<Enr> records, NodeId id)
    {
        foreach (var e in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(records)) if (e.NodeId == id) return true;
        return false;
    }

    private void ServeFindNode(NodeAddress addr, Session s, FindNodeMessage fn)
    {
        var records = new ReadOnlyMemory<byte>[MaxRecordsPerResponse];
        int count = 0;
        for (int i = 0; i < fn.Distances.Count && count < MaxRecordsPerResponse; i++)
        {
            int d = fn.Distances[i];
            if (IndexOf(fn.Distances, d) != i) continue;   // asked twice
            if (d == 0) { records[count++] = _ctx.LocalEnr.Raw; continue; }
            foreach (var e in _ctx.Service.Bucket(d))
            {
                if (count >= MaxRecordsPerResponse) break;
                if (e.NodeId == addr.Id) continue;
                records[count++] = e.Raw;
            }
        }
        // pack by encoded size: each NODES message must fit one 1280-byte packet (discv5-wire.md "Packet Encoding"),
        // and records are up to 300 bytes, so 16 of them take several messages
        const int overhead = 1 + 3 + 9 + 2 + 3;
        Span<int> starts = stackalloc int[MaxRecordsPerResponse + 1];
        int chunks = 0, size = 0;
        starts[0] = 0;
        for (int i = 0; i < count; i++)
        {
            if (i > starts[chunks] && size + records[i].Length + overhead > MaxMessagePlaintext)
            {
                starts[++chunks] = i;
                size = 0;
            }
            size += records[i].Length;
        }
        starts[++chunks] = count;   // an empty answer is one message with no records
        for (int c = 0; c < chunks; c++)
            SendMessage(addr, s, new NodesMessage(fn.RequestId, chunks, new ArraySegment<ReadOnlyMemory<byte>>(records, starts[c], starts[c + 1] - starts[c])));
    }
}
