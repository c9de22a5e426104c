using System.Net;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Packets;
using ClP2p.Discovery.Sessions;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Discovery.Tests;

/// <summary>Requests of the redesigned node: several in flight per peer, late answers, the record verification cache.</summary>
public sealed class RequestTests
{
    [Fact]
    public async Task Several_findnode_distances_in_flight_to_one_peer_are_all_answered()
    {
        // discv5-theory.md "Handshake Implementation Considerations": concurrent requests to one node are allowed;
        // the first opens the session, the others wait for its handshake, and later ones share the session
        await using var a = TestNodes.Create(requestTimeout: TimeSpan.FromSeconds(5), retries: 0);
        await using var b = TestNodes.Create();
        await a.StartAsync();
        await b.StartAsync();
        int[] distances = [256, 255, 254, 253];
        var tabled = new Dictionary<int, HashSet<NodeId>>();
        foreach (int d in distances)
        {
            var records = PitfallTests.RecordsAt(b.LocalId, d, 5);
            foreach (var e in records) Assert.True(b.AddToTable(e));
            tabled[d] = records.Select(e => e.NodeId).ToHashSet();
        }
        for (int round = 0; round < 2; round++)
        {
            var asks = distances.Select(d => a.FindNodeAsync(b.LocalEnr, [d])).ToArray();
            var ping = a.PingAsync(b.LocalEnr);
            for (int i = 0; i < distances.Length; i++)
                Assert.Equal(tabled[distances[i]], (await asks[i].Ok()).Select(e => e.NodeId).ToHashSet());
            await ping.Ok();
        }
        Assert.Equal(1, a.HandshakesOutbound);
        Assert.Equal(0, b.HandshakesOutbound);
        Assert.Empty(a.DropCounts);
        Assert.Empty(b.DropCounts);
        Assert.Equal(0, a.PendingRequestCount);
    }

    private static Task<Discv5Node> StartOnFakeClock(FakeTimeProvider time) =>
        TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0).StartedAsync();

    [Fact]
    public async Task Answer_after_the_timeout_is_kept_and_completes_the_retry_without_a_packet()
    {
        var time = new FakeTimeProvider();
        await using var n = await StartOnFakeClock(time);
        using var raw = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 256, 3);
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, fn) = await PitfallTests.ServeHandshake(n, raw);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(RequestFailure.Timeout, await req.Failure());
        // the slow peer answers now
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 1, [.. records.Select(e => e.Raw)])), n.LocalEndPoint);
        await n.UntilAsync(() => n.LateAnswers == 1);
        Assert.Equal(1, n.LateAnswers);
        long sent = n.PacketsSent;
        var retry = await n.FindNodeAsync(raw.Enr, [256]);
        Assert.True(retry.Late);
        Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), retry.Ok().Select(e => e.NodeId).ToHashSet());
        Assert.Equal(sent, n.PacketsSent);
        Assert.Empty(n.DropCounts);
        Assert.Equal(0, n.PendingRequestCount);
        hs.Session.Dispose();
    }

    [Fact]
    public async Task Retry_of_a_timed_out_request_keeps_its_id_so_the_answer_to_the_first_attempt_counts()
    {
        var time = new FakeTimeProvider();
        await using var n = await StartOnFakeClock(time);
        using var raw = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 255, 2);
        var req = n.FindNodeAsync(raw.Enr, [255]);
        var (hs, fn) = await PitfallTests.ServeHandshake(n, raw);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(RequestFailure.Timeout, await req.Failure());
        var retry = n.FindNodeAsync(raw.Enr, [255], new RequestOptions { Timeout = TimeSpan.FromSeconds(3) });
        var again = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, hs.Session));
        Assert.Equal(fn.RequestId.Value, again.RequestId.Value);
        Assert.Equal([255], again.Distances);
        // the peer answers the first attempt, late
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 1, [.. records.Select(e => e.Raw)])), n.LocalEndPoint);
        Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), (await retry.Ok()).Select(e => e.NodeId).ToHashSet());
        Assert.Empty(n.DropCounts);
        hs.Session.Dispose();
    }

    [Fact]
    public async Task A_record_seen_in_many_answers_is_verified_once()
    {
        await using var n = TestNodes.Create(requestTimeout: TimeSpan.FromSeconds(5));
        await n.StartAsync();
        using var raw = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 256, 4);
        var first = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, fn) = await PitfallTests.ServeHandshake(n, raw);
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 1, [.. records.Select(e => e.Raw)])), n.LocalEndPoint);
        Assert.Equal(4, (await first.Ok()).Count);
        Assert.Equal(4, n.RecordsVerified);
        for (int i = 0; i < 3; i++)
        {
            var ask = n.FindNodeAsync(raw.Enr, [256]);
            var m = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, hs.Session));
            raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(m.RequestId, 1, [.. records.Select(e => e.Raw)])), n.LocalEndPoint);
            Assert.Equal(4, (await ask.Ok()).Count);
        }
        Assert.Equal(4, n.RecordsVerified);
        Assert.Equal(12, n.RecordCacheHits);
        hs.Session.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_answer_waiting_unread_in_the_socket_when_the_timeout_fires_still_counts(bool deferral)
    {
        // A stalled process (a GC pause, a busy machine) reads late: the timeout waits until what arrived before it
        // has been read. Without the deferral the request is given up with its answer in the socket.
        var time = new FakeTimeProvider();
        // one receive loop: held at the gate, it is the socket's only reader, so the answer stays unread (a second loop
        // would read it at once)
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0,
            timeoutDeferral: deferral ? TimeSpan.FromMilliseconds(50) : TimeSpan.Zero, handlerShards: 1).StartedAsync();
        using var raw = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 256, 3);
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, fn) = await PitfallTests.ServeHandshake(n, raw);
        using var session = hs.Session;
        using var held = await HoldAnswerUnreadAsync(n, raw, raw.Encrypt(n.LocalId, session, new NodesMessage(fn.RequestId, 1, [.. records.Select(e => e.Raw)])));
        time.Advance(TimeSpan.FromSeconds(1));
        if (deferral)
        {
            await n.UntilAsync(() => n.TimeoutsDeferred >= 1);
            Assert.False(req.IsCompleted);
            long handled = n.PacketsProcessed + n.DropCounts.Values.Sum();
            held.Release();
            // both datagrams handled: the answer has completed the request, or it never will
            await n.UntilAsync(() => n.PacketsProcessed + n.DropCounts.Values.Sum() >= handled + 2);
            Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), (await req.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok()).Select(e => e.NodeId).ToHashSet());
        }
        else
        {
            Assert.Equal(RequestFailure.Timeout, await req.Failure());
            Assert.Equal(0, n.TimeoutsDeferred);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_answer_the_handler_dropped_over_its_bound_is_asked_for_again(bool retryAfterDrops)
    {
        // A stalled handler drops what arrives over its bound. An answer dropped by us is not the remote's fault: its
        // attempt is not counted and the request is asked again (with no retries left, a lost answer would end it).
        var time = new FakeTimeProvider();
        var sender = new HoldingSender();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0,
            timeoutDeferral: TimeSpan.Zero, handlerShards: 1, maxQueuedPackets: 1, sender: sender,
            maxRetriesAfterDrops: retryAfterDrops ? 3 : 0).StartedAsync();
        using var raw = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 255, 3);
        byte[] Answer(Session session, FindNodeMessage ask) =>
            raw.Encrypt(n.LocalId, session, new NodesMessage(ask.RequestId, 1, [.. records.Select(e => e.Raw)]));
        // a datagram of no consequence fills the bound; the answer behind it is dropped
        var (opened, ask, req) = await AskWithLoopHeldAsync(n, raw, sender, (session, ask) =>
        {
            raw.Send(RawPeer.Rand(80), n.LocalEndPoint);
            raw.Send(Answer(session, ask), n.LocalEndPoint);
        });
        using var session = opened;

        time.Advance(TimeSpan.FromSeconds(1));
        if (retryAfterDrops)
        {
            var again = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session));
            Assert.Equal(ask.RequestId, again.RequestId);
            raw.Send(Answer(session, ask), n.LocalEndPoint);
            Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), (await req.Ok()).Select(e => e.NodeId).ToHashSet());
            Assert.Equal(1, n.RetriesAfterDrops);
        }
        else
        {
            Assert.Equal(RequestFailure.Timeout, await req.Failure());
            Assert.Equal(0, n.RetriesAfterDrops);
        }
    }

    [Fact]
    public async Task A_multi_message_answer_with_a_message_the_handler_dropped_is_asked_for_again_whole()
    {
        // two NODES messages; the second dropped over the bound: the request is asked again, not ended with half the
        // records (as when a message is lost on the way, and no retry is left)
        var time = new FakeTimeProvider();
        var sender = new HoldingSender();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0,
            timeoutDeferral: TimeSpan.Zero, handlerShards: 1, maxQueuedPackets: 1, sender: sender).StartedAsync();
        using var raw = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 255, 6);
        void SendAnswer(Session session, FindNodeMessage ask, int part) =>
            raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(ask.RequestId, 2, [.. records.Skip(part * 3).Take(3).Select(e => e.Raw)])), n.LocalEndPoint);
        var (opened, ask, req) = await AskWithLoopHeldAsync(n, raw, sender, (session, ask) =>
        {
            SendAnswer(session, ask, 0);
            SendAnswer(session, ask, 1);
        });
        using var session = opened;
        await n.UntilAsync(() => n.PacketsProcessed + n.DropCounts.Values.Sum() >= n.PacketsReceived);

        time.Advance(TimeSpan.FromSeconds(1));
        var again = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session));
        Assert.Equal(ask.RequestId, again.RequestId);
        SendAnswer(session, ask, 0);
        SendAnswer(session, ask, 1);
        Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), (await req.Ok()).Select(e => e.NodeId).ToHashSet());
        Assert.Equal(1, n.RetriesAfterDrops);
    }

    /// <summary>
    /// Opens a session of <paramref name="n"/> with <paramref name="raw"/>, then asks FINDNODE [255] with the shard's
    /// loop held in the send of that request: what <paramref name="whileHeld"/> sends meanwhile queues, the first
    /// datagram filling a bound of 1 and the next dropped. Returns once one datagram was dropped and the loop released.
    /// </summary>
    private static async Task<(Session Session, FindNodeMessage Ask, Task<RequestResult<IReadOnlyList<Enr>>> Request)> AskWithLoopHeldAsync(
        Discv5Node n, RawPeer raw, HoldingSender sender, Action<Session, FindNodeMessage> whileHeld)
    {
        var opening = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, fn) = await PitfallTests.ServeHandshake(n, raw);
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 1, [])), n.LocalEndPoint);
        await opening.Ok();
        // held on the thread that asks: the shard is idle, and the thread that posts to an idle shard runs it (the loop
        // that delivered the first answer may still be finishing, and would then send the request and be held itself)
        Assert.True(SpinWait.SpinUntil(() => n.HandlersIdle, ClP2p.TestSupport.Waits.HangGuard));
        sender.HoldNextSend();
        var asking = Task.Factory.StartNew(() => n.FindNodeAsync(raw.Enr, [255]), CancellationToken.None, TaskCreationOptions.None, TaskScheduler.Default);
        await sender.Held.WaitAsync(ClP2p.TestSupport.Waits.HangGuard);
        var ask = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, hs.Session));
        whileHeld(hs.Session, ask);
        await n.UntilAsync(() => n.DropCounts.GetValueOrDefault("handler-overloaded") == 1);
        sender.Release();
        return (hs.Session, ask, await asking);
    }

    /// <summary>Sends on the node's socket; when told, holds the thread of the next send after sending, until released.</summary>
    private sealed class HoldingSender : IDatagramSender
    {
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEventSlim _release = new(true);
        private int _holdNext;

        public Task Held => _held.Task;

        public void HoldNextSend()
        {
            _release.Reset();
            Volatile.Write(ref _holdNext, 1);
        }

        public void Release() => _release.Set();

        public void Send(System.Net.Sockets.Socket socket, ReadOnlySpan<byte> datagram, System.Net.IPEndPoint to)
        {
            socket.SendTo(datagram, System.Net.Sockets.SocketFlags.None, to);
            if (Interlocked.Exchange(ref _holdNext, 0) == 0) return;
            _held.TrySetResult();
            _release.Wait(ClP2p.TestSupport.Waits.HangGuard);
        }
    }

    /// <summary>The node's receive loop, held at its gate (<see cref="Discv5Node.ReceiveDispatchGate"/>) with a datagram
    /// of no consequence, and <paramref name="answer"/> waiting unread in the socket behind it: the socket's only reader
    /// is held (the node must have one receive loop), as in a stalled process. Disposing it releases the loop (a failed
    /// assertion must not leave it held: disposing the node waits for it).</summary>
    private static async Task<HeldReceiveLoop> HoldAnswerUnreadAsync(Discv5Node n, RawPeer raw, byte[] answer)
    {
        var held = new HeldReceiveLoop(n);
        try
        {
            // the receive loop takes this datagram and is held with it; the answer behind it waits in the socket
            raw.Send(RawPeer.Rand(80), n.LocalEndPoint);
            await held.Entered.WaitAsync(ClP2p.TestSupport.Waits.HangGuard);
            raw.Send(answer, n.LocalEndPoint);
            // loopback delivery is normally done when the send returns; the kernel may defer it a moment under load
            Assert.True(SpinWait.SpinUntil(() => n.HasUnreadDatagram, ClP2p.TestSupport.Waits.HangGuard));
            return held;
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    private sealed class HeldReceiveLoop : IDisposable
    {
        private readonly Discv5Node _node;
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public HeldReceiveLoop(Discv5Node node)
        {
            _node = node;
            node.ReceiveDispatchGate = () => { _entered.TrySetResult(); return _release.Task; };
        }

        /// <summary>Completes when the receive loop is held at the gate.</summary>
        public Task Entered => _entered.Task;

        public void Release()
        {
            _node.ReceiveDispatchGate = null;
            _release.TrySetResult();
        }

        public void Dispose() => Release();
    }

    [Fact]
    public async Task A_pass_of_timeouts_asks_the_socket_once_whether_a_datagram_waits_unread()
    {
        // three requests come due in one pass while an answer waits unread: each is put off, and the kernel is asked
        // once (FIONREAD is a system call; a crawl's first contacts to gone nodes time out by the dozen)
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0,
            timeoutDeferral: TimeSpan.FromMilliseconds(50), handlerShards: 1).StartedAsync();
        using var raw = new RawPeer();
        using var gone1 = new RawPeer();
        using var gone2 = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 256, 3);
        var silent = new[] { n.FindNodeAsync(gone1.Enr, [256]), n.FindNodeAsync(gone2.Enr, [256]) };
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, fn) = await PitfallTests.ServeHandshake(n, raw);
        using var session = hs.Session;
        using var held = await HoldAnswerUnreadAsync(n, raw, raw.Encrypt(n.LocalId, session, new NodesMessage(fn.RequestId, 1, [.. records.Select(e => e.Raw)])));
        long asked = n.UnreadQueries;
        time.Advance(TimeSpan.FromSeconds(1));
        await n.UntilAsync(() => n.TimeoutsDeferred >= 3);
        Assert.Equal(3, n.TimeoutsDeferred);
        Assert.Equal(asked + 1, n.UnreadQueries);
        Assert.False(req.IsCompleted);
        Assert.All(silent, t => Assert.False(t.IsCompleted));
        held.Release();
        Assert.Equal(3, (await req.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok()).Count);
    }

    /// <summary>A slow node's first contact is given up; the next request's packet draws a copy of the challenge the
    /// node made for the given-up one, and the request answers it (the late path). The node had replaced that challenge
    /// meanwhile, so it drops our handshake without a word.</summary>
    private static async Task<(Task<RequestResult<IReadOnlyList<Enr>>> Next, byte[] Handshake)> AnswerALateChallengeAsync(Discv5Node n, RawPeer slow, FakeTimeProvider time)
    {
        var first = n.FindNodeAsync(slow.Enr, [256]);
        var firstPacket = (await slow.ReceiveAsync())!;
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False((await first.WaitAsync(ClP2p.TestSupport.Waits.HangGuard)).IsOk);
        var next = n.FindNodeAsync(slow.Enr, [256]);
        Assert.NotNull(await slow.ReceiveAsync());
        return (next, await ChallengeAndDropHandshakeAsync(n, slow, firstPacket));
    }

    /// <summary>The peer sends a WHOAREYOU for <paramref name="packet"/> and drops the handshake that answers it,
    /// which is returned.</summary>
    private static async Task<byte[]> ChallengeAndDropHandshakeAsync(Discv5Node n, RawPeer peer, byte[] packet)
    {
        var (way, _) = peer.WhoAreYouFor(packet, n.LocalId, 0);
        peer.Send(way, n.LocalEndPoint);
        var handshake = (await peer.ReceiveAsync())!;
        Assert.True(peer.TryDecode(handshake, out var flag, out _, out _, out _));
        Assert.Equal(PacketFlag.Handshake, flag);
        return handshake;
    }

    /// <summary>The attempt of an unanswered handshake times out: the same handshake packet comes again.</summary>
    private static async Task ExpectHandshakeAgainAsync(RawPeer peer, FakeTimeProvider time, byte[] handshake)
    {
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(handshake, (await peer.ReceiveAsync())!);
    }

    /// <summary>The peer takes the request's next first contact properly and answers it with three records: the
    /// request must end with them.</summary>
    private static async Task ServeAndAnswerAsync(Discv5Node n, RawPeer peer, Task<RequestResult<IReadOnlyList<Enr>>> request)
    {
        var (hs, fn) = await PitfallTests.ServeHandshake(n, peer);
        using var session = hs.Session;
        var records = PitfallTests.RecordsAt(peer.Id, 256, 3);
        peer.Send(peer.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 1, [.. records.Select(e => e.Raw)])), n.LocalEndPoint);
        Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), (await request.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok()).Select(e => e.NodeId).ToHashSet());
    }

    [Fact]
    public async Task An_unanswered_handshake_to_a_given_up_first_contacts_challenge_is_not_counted()
    {
        // one attempt per request: the attempt spent on the stale challenge is not counted, and the request's fresh
        // first contact draws a new challenge whose handshake carries the answer
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0).StartedAsync();
        using var slow = new RawPeer();
        var (next, handshake) = await AnswerALateChallengeAsync(n, slow, time);
        // the handshake once more (lost on the way, it would still find its challenge), then the fresh first contact
        await ExpectHandshakeAgainAsync(slow, time, handshake);
        time.Advance(TimeSpan.FromSeconds(1));

        await ServeAndAnswerAsync(n, slow, next);
        Assert.Equal(2, n.HandshakesOutbound);
    }

    [Fact]
    public async Task An_unanswered_handshake_to_the_challenge_of_an_earlier_attempt_is_not_counted()
    {
        // two attempts: the challenge for the first attempt's packet comes during the second (late, or a copy the
        // second drew), and the remote, whose challenge expired meanwhile, drops our handshake; the second attempt
        // is not counted, and a third, fresh first contact gets the answer
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 1).StartedAsync();
        using var raw = new RawPeer();
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var firstPacket = (await raw.ReceiveAsync())!;
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.NotNull(await raw.ReceiveAsync());   // the second attempt's packet
        var handshake = await ChallengeAndDropHandshakeAsync(n, raw, firstPacket);
        await ExpectHandshakeAgainAsync(raw, time, handshake);
        time.Advance(TimeSpan.FromSeconds(1));

        await ServeAndAnswerAsync(n, raw, req);
    }

    [Fact]
    public async Task Only_one_attempt_per_request_goes_uncounted()
    {
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0).StartedAsync();
        using var slow = new RawPeer();
        var (next, handshake) = await AnswerALateChallengeAsync(n, slow, time);
        await ExpectHandshakeAgainAsync(slow, time, handshake);
        time.Advance(TimeSpan.FromSeconds(1));
        // the fresh first contact's handshake is dropped too: the request ends
        await ChallengeAndDropHandshakeAsync(n, slow, (await slow.ReceiveAsync())!);
        Assert.False(next.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(RequestFailure.Timeout, await next.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Failure());
    }

    [Fact]
    public async Task An_unanswered_handshake_to_a_challenge_of_the_requests_own_packet_counts_as_an_attempt()
    {
        // the rule is for old challenges only: a handshake answering the WHOAREYOU to the request's latest packet that
        // gets no answer ends a one-attempt request (the node may just be slow; its late answer is kept)
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0).StartedAsync();
        using var raw = new RawPeer();
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, _) = await PitfallTests.ServeHandshake(n, raw);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(RequestFailure.Timeout, await req.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Failure());
        hs.Session.Dispose();
    }

    [Fact]
    public async Task A_handshake_answered_after_its_timeout_brings_its_session_back()
    {
        // The remote took our handshake but answered after two attempts timed out. The first retry sends the handshake
        // again, the second starts over without the session (the handshake might have been lost), but the remote's
        // answer under the handshake's keys is read.
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 2).StartedAsync();
        using var raw = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 256, 3);
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, fn) = await PitfallTests.ServeHandshake(n, raw);
        await ExpectHandshakeAgainAsync(raw, time, hs.Packet);
        time.Advance(TimeSpan.FromSeconds(1));
        // the retry: a fresh first contact, a packet the remote cannot read
        var retry = (await raw.ReceiveAsync())!;
        Assert.True(raw.TryDecode(retry, out var flag, out var header, out var nonce, out var message));
        Assert.Equal(PacketFlag.Message, flag);
        Assert.False(PacketCodec.TryDecrypt(hs.Session.ReadKey, nonce, message, header, new byte[message.Length - 16]));
        // the remote answers the request its handshake carried
        long handled = n.PacketsProcessed + n.DropCounts.Values.Sum();
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 1, [.. records.Select(e => e.Raw)])), n.LocalEndPoint);
        await n.UntilAsync(() => n.PacketsProcessed + n.DropCounts.Values.Sum() > handled);
        Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), (await req.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok()).Select(e => e.NodeId).ToHashSet());
        Assert.Equal(1, n.SessionCount);
        // and the session serves the next request
        var next = n.FindNodeAsync(raw.Enr, [255]);
        var m = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, hs.Session));
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(m.RequestId, 1, [])), n.LocalEndPoint);
        Assert.Empty(await next.Ok());
        Assert.Empty(n.DropCounts);
        hs.Session.Dispose();
    }

    [Fact]
    public async Task A_copy_of_a_challenge_already_answered_puts_that_handshakes_session_back_in_use()
    {
        // Our handshake (session 1) went unanswered in time, twice, and was set aside; the retry's fresh first contact drew a
        // second challenge, answered by a second handshake (session 2), which the remote takes. Then a late answer to
        // another request under session 1 brings session 1 back in use, and a copy of the second challenge comes (the
        // remote sends one for every packet of ours it could not read while the challenge was pending). The remote
        // holds session 2 and has no challenge left: a third handshake would go nowhere and replace session 2. The
        // request is re-sent under session 2 instead.
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 2).StartedAsync();
        using var raw = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 255, 2);
        var a = n.FindNodeAsync(raw.Enr, [256]);
        var (hs1, fnA) = await PitfallTests.ServeHandshake(n, raw);
        var b = n.FindNodeAsync(raw.Enr, [255]);
        var fnB = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, hs1.Session));
        // A's first retry sends its handshake again (B's goes under session 1); the second opens a fresh first contact
        time.Advance(TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromSeconds(1));
        byte[] opener;
        while (true)
        {
            var p = (await raw.ReceiveAsync())!;
            Assert.True(raw.TryDecode(p, out var flag, out var header, out var nonce, out var message));
            if (flag == PacketFlag.Handshake) continue;
            Assert.Equal(PacketFlag.Message, flag);
            if (!PacketCodec.TryDecrypt(hs1.Session.ReadKey, nonce, message, header, new byte[message.Length - 16])) { opener = p; break; }
        }
        var (way2, challenge2) = raw.WhoAreYouFor(opener, n.LocalId, 0);
        raw.Send(way2, n.LocalEndPoint);
        byte[] h2;
        while (true)
        {
            h2 = (await raw.ReceiveAsync())!;
            if (raw.TryDecode(h2, out var f, out _, out _, out _) && f == PacketFlag.Handshake) break;
        }
        var (m2, session2) = raw.AcceptHandshake(h2, challenge2);
        Assert.Equal(fnA.RequestId, Assert.IsType<FindNodeMessage>(m2).RequestId);
        // B's answer under session 1, sent before the remote took the second handshake
        raw.Send(raw.Encrypt(n.LocalId, hs1.Session, new NodesMessage(fnB.RequestId, 1, [.. records.Select(e => e.Raw)])), n.LocalEndPoint);
        Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), (await b.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok()).Select(e => e.NodeId).ToHashSet());
        // the copy of the second challenge
        raw.Send(way2, n.LocalEndPoint);
        // A comes again under session 2, not in a third handshake
        FindNodeMessage? again = null;
        while (again is null)
        {
            var p = (await raw.ReceiveAsync())!;
            Assert.True(raw.TryDecode(p, out var flag, out var header, out var nonce, out var message));
            Assert.Equal(PacketFlag.Message, flag);
            // B's retry may have left under session 2 before B's answer came
            if (raw.Decrypt(p, session2) is FindNodeMessage f && f.RequestId == fnA.RequestId) again = f;
        }
        raw.Send(raw.Encrypt(n.LocalId, session2, new NodesMessage(again.RequestId, 1, [])), n.LocalEndPoint);
        Assert.Empty(await a.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok());
        // and session 2 serves the next request
        var next = n.FindNodeAsync(raw.Enr, [254]);
        var m = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session2));
        raw.Send(raw.Encrypt(n.LocalId, session2, new NodesMessage(m.RequestId, 1, [])), n.LocalEndPoint);
        Assert.Empty(await next.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok());
        hs1.Session.Dispose();
        session2.Dispose();
    }

    [Fact]
    public async Task An_unanswered_handshake_goes_again_as_it_was_and_a_copy_of_its_challenge_draws_no_other()
    {
        // A slow remote took our handshake and answers late. The attempt's timeout sends the same handshake packet
        // again, not a fresh first contact: that would draw a new challenge, and a copy of the first one still on its
        // way, answered by a second handshake, would make the remote drop the new one. The copy is taken as answered,
        // and the late answer is read under the keys both sides hold.
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 1).StartedAsync();
        using var raw = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 256, 3);
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, fn) = await PitfallTests.ServeHandshake(n, raw);
        using var session = hs.Session;
        await ExpectHandshakeAgainAsync(raw, time, hs.Packet);
        // a copy of the challenge (the remote sends one for each packet of ours it could not read while it was pending)
        raw.Send(hs.WhoAreYou, n.LocalEndPoint);
        await n.UntilAsync(() => n.DropCounts.GetValueOrDefault("who-are-you-duplicate") == 1);
        raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(fn.RequestId, 1, [.. records.Select(e => e.Raw)])), n.LocalEndPoint);
        Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), (await req.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok()).Select(e => e.NodeId).ToHashSet());
        Assert.Equal(1, n.HandshakesOutbound);
        // the next request goes under the same keys
        var next = n.FindNodeAsync(raw.Enr, [255]);
        var f = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session));
        raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(f.RequestId, 1, [])), n.LocalEndPoint);
        Assert.Empty(await next.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok());
    }

    [Fact]
    public async Task A_challenge_to_a_given_up_requests_packet_under_our_session_is_answered_by_the_next_request()
    {
        // The remote no longer holds our session (it dropped it, or never took a handshake we think it has). It
        // challenges a request's packet under that session, but slowly: the request was given up first. Every later
        // packet under the same keys draws a copy of that challenge, which names the given-up packet. The next
        // request answers it, and the remote takes the handshake.
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0).StartedAsync();
        using var raw = new RawPeer();
        using var old = await SessionAnsweredOnceAsync(n, raw);
        // the remote forgets the session; a request under it is given up before the challenge comes
        var given = n.FindNodeAsync(raw.Enr, [255]);
        var givenPacket = (await raw.ReceiveAsync())!;
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(RequestFailure.Timeout, await given.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Failure());
        var (way, challenge) = raw.WhoAreYouFor(givenPacket, n.LocalId, 0);
        raw.Send(way, n.LocalEndPoint);
        await n.UntilAsync(() => n.DropCounts.GetValueOrDefault("who-are-you-unsolicited") == 1);
        // the next request's packet under the same keys draws a copy of that challenge
        await NextRequestAnswersTheChallengeAsync(n, raw, way, challenge);
    }

    /// <summary>A first request, its handshake served and its answer (empty) sent: the session, which the caller disposes.</summary>
    private static async Task<Session> SessionAnsweredOnceAsync(Discv5Node n, RawPeer raw)
    {
        var first = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, fn) = await PitfallTests.ServeHandshake(n, raw);
        raw.Send(raw.Encrypt(n.LocalId, hs.Session, new NodesMessage(fn.RequestId, 1, [])), n.LocalEndPoint);
        Assert.Empty(await first.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok());
        return hs.Session;
    }

    /// <summary>The next request's packet (under the session the remote no longer holds) draws the copy
    /// <paramref name="way"/> of the remote's pending challenge; that request must answer it with a handshake, and get
    /// its answer under the new session.</summary>
    private static async Task NextRequestAnswersTheChallengeAsync(Discv5Node n, RawPeer raw, byte[] way, byte[] challenge)
    {
        var records = PitfallTests.RecordsAt(raw.Id, 254, 2);
        var next = n.FindNodeAsync(raw.Enr, [254]);
        Assert.True(raw.TryDecode((await raw.ReceiveAsync())!, out var flag, out _, out _, out _));
        Assert.Equal(PacketFlag.Message, flag);
        raw.Send(way, n.LocalEndPoint);
        var handshake = (await raw.ReceiveAsync())!;
        var (m, session) = raw.AcceptHandshake(handshake, challenge);
        using var held = session;
        var f = Assert.IsType<FindNodeMessage>(m);
        Assert.Equal([254], f.Distances);
        raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(f.RequestId, 1, [.. records.Select(e => e.Raw)])), n.LocalEndPoint);
        Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), (await next.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok()).Select(e => e.NodeId).ToHashSet());
    }

    [Fact]
    public async Task A_challenge_repeated_for_a_packet_of_an_ended_request_is_answered_by_the_next_request()
    {
        // The remote no longer holds our session and challenges a request's packet under it; that request has ended
        // by then without being kept among the given-up ones (here its caller gave up). The remote repeats its pending
        // challenge to every later packet it cannot read: the first copy is dropped, its repeat shows the remote holds
        // it, and the request waiting for the node answers it. Before, every copy was dropped and the node was left
        // unanswered (docs/performance.md, "The slow node left at one answer").
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0).StartedAsync();
        using var raw = new RawPeer();
        using var old = await SessionAnsweredOnceAsync(n, raw);
        // the remote forgets the session; the request whose packet it challenges ends before the challenge comes
        using var gone = new CancellationTokenSource();
        var ended = n.FindNodeAsync(raw.Enr, [255], gone.Token);
        var endedPacket = (await raw.ReceiveAsync())!;
        await gone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ended.WaitAsync(ClP2p.TestSupport.Waits.HangGuard));
        var (way, challenge) = raw.WhoAreYouFor(endedPacket, n.LocalId, 0);
        raw.Send(way, n.LocalEndPoint);
        await n.UntilAsync(() => n.DropCounts.GetValueOrDefault("who-are-you-unsolicited") == 1);
        // the next request's packet under the same keys draws the same challenge again
        await NextRequestAnswersTheChallengeAsync(n, raw, way, challenge);
        Assert.Equal(1, n.DropCounts.GetValueOrDefault("who-are-you-unsolicited"));
    }

    [Fact]
    public async Task A_late_challenge_to_a_first_contact_sent_after_an_unanswered_handshake_is_answered_by_the_next_request()
    {
        // The remote drops our handshake (it answered a challenge the remote had replaced), the handshake goes again,
        // then the request starts over with a fresh first contact, and gives up before the remote's challenge to it
        // comes. The next request's packet draws a copy of that challenge, which names the given-up packet: the next
        // request answers it, and the remote takes the handshake.
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 2).StartedAsync();
        using var raw = new RawPeer();
        var given = n.FindNodeAsync(raw.Enr, [256]);
        var handshake = await ChallengeAndDropHandshakeAsync(n, raw, (await raw.ReceiveAsync())!);
        await ExpectHandshakeAgainAsync(raw, time, handshake);
        time.Advance(TimeSpan.FromSeconds(1));
        var freshPacket = (await raw.ReceiveAsync(ClP2p.TestSupport.Waits.HangGuard))!;
        Assert.True(raw.TryDecode(freshPacket, out var freshFlag, out _, out _, out _));
        Assert.Equal(PacketFlag.Message, freshFlag);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(RequestFailure.Timeout, await given.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Failure());

        var records = PitfallTests.RecordsAt(raw.Id, 255, 2);
        var next = n.FindNodeAsync(raw.Enr, [255]);
        Assert.NotNull(await raw.ReceiveAsync(ClP2p.TestSupport.Waits.HangGuard));   // the next request's first contact
        var (way, challenge) = raw.WhoAreYouFor(freshPacket, n.LocalId, 0);
        raw.Send(way, n.LocalEndPoint);
        // the challenge is handled one way or the other: answered by a second handshake, or dropped as unsolicited
        await n.UntilAsync(() => n.HandshakesOutbound == 2 || n.DropCounts.GetValueOrDefault("who-are-you-unsolicited") > 0);
        Assert.True(n.HandshakesOutbound == 2, $"no handshake answered the challenge; drops: {string.Join(",", n.DropCounts.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key}={kv.Value}"))}");
        var answer = (await raw.ReceiveAsync(ClP2p.TestSupport.Waits.HangGuard))!;
        var (m, session) = raw.AcceptHandshake(answer, challenge);
        using var held = session;
        var f = Assert.IsType<FindNodeMessage>(m);
        Assert.Equal([255], f.Distances);
        raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(f.RequestId, 1, [.. records.Select(e => e.Raw)])), n.LocalEndPoint);
        Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), (await next.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok()).Select(e => e.NodeId).ToHashSet());
    }

    [Fact]
    public async Task A_multi_message_answer_with_a_message_lost_is_asked_again_while_attempts_remain()
    {
        // The remote answers in two NODES messages and the second is lost. With an attempt left, the request is asked
        // again at its timeout, and ends with the whole answer; with none left, once more, then with what came.
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 1).StartedAsync();
        using var raw = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 256, 6);
        ReadOnlyMemory<byte> R(Enr e) => e.Raw;
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, fn) = await PitfallTests.ServeHandshake(n, raw);
        using var session = hs.Session;
        long handled = n.PacketsProcessed;
        raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(fn.RequestId, 2, [.. records.Take(3).Select(R)])), n.LocalEndPoint);
        await n.UntilAsync(() => n.PacketsProcessed > handled);
        time.Advance(TimeSpan.FromSeconds(1));
        var again = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session));
        Assert.Equal(fn.RequestId, again.RequestId);
        Assert.False(req.IsCompleted);
        raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(fn.RequestId, 2, [.. records.Take(3).Select(R)])), n.LocalEndPoint);
        raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(fn.RequestId, 2, [.. records.Skip(3).Select(R)])), n.LocalEndPoint);
        var got = await req.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok();
        Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), got.Select(e => e.NodeId).ToHashSet());
        Assert.Equal(6, got.Count);

        // every answer short by a message: asked once more after the last attempt, then what came is the result
        var last = n.FindNodeAsync(raw.Enr, [255]);
        var f = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session));
        var others = PitfallTests.RecordsAt(raw.Id, 255, 4);
        for (int sent = 1; sent <= 3; sent++)
        {
            if (sent > 1) Assert.Equal(f.RequestId, Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session)).RequestId);
            Assert.False(last.IsCompleted);
            handled = n.PacketsProcessed;
            raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(f.RequestId, 2, [.. others.Take(2).Select(R)])), n.LocalEndPoint);
            await n.UntilAsync(() => n.PacketsProcessed > handled);
            time.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Equal(others.Take(2).Select(e => e.NodeId).ToHashSet(), (await last.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok()).Select(e => e.NodeId).ToHashSet());

        // a long timeout (a crawl's second pass): once part of the answer is here, the rest is awaited for the node's
        // request timeout (1 s here), not the whole 8 s, before the request is asked again
        var slow = n.FindNodeAsync(raw.Enr, [254], new RequestOptions { Timeout = TimeSpan.FromSeconds(8), Retries = 0 });
        var g = Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session));
        var third = PitfallTests.RecordsAt(raw.Id, 254, 4);
        handled = n.PacketsProcessed;
        raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(g.RequestId, 2, [.. third.Take(2).Select(R)])), n.LocalEndPoint);
        await n.UntilAsync(() => n.PacketsProcessed > handled);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(g.RequestId, Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session)).RequestId);
        raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(g.RequestId, 2, [.. third.Take(2).Select(R)])), n.LocalEndPoint);
        raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(g.RequestId, 2, [.. third.Skip(2).Select(R)])), n.LocalEndPoint);
        Assert.Equal(4, (await slow.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok()).Count);
    }

    [Fact]
    public Task A_late_message_of_an_earlier_attempt_and_the_copies_of_the_next_do_not_end_an_answer_short() =>
        // An answer of three NODES messages: the first comes, the other two not in time, and the request is asked again.
        // The second then comes late, followed by the new attempt's copies of the first two. Counted afresh, the three
        // messages made the total and ended the request without the third message's records; copies count once.
        AnsweredAgainAsync(firstTotal: 3, then: [(3, 1), (3, 0), (3, 1)]);

    [Fact]
    public Task An_answer_asked_again_of_a_table_that_grew_is_awaited_to_its_new_total() =>
        // The first answer says two messages and its second is lost; asked again, the table has grown and the answer
        // says three. Its first message repeats what was taken, its second brings new records: the request waits for
        // the third rather than ending at the first answer's total of two.
        AnsweredAgainAsync(firstTotal: 2, then: [(3, 0), (3, 1)]);

    /// <summary>
    /// A FINDNODE [256] to a remote whose nine records go three to a NODES message (message i holds records 3i..3i+2).
    /// The first attempt gets only message 0 (saying <paramref name="firstTotal"/> messages) and times out; the request
    /// is asked again, <paramref name="then"/> arrive (total, message), and the request must still wait; message 2 of a
    /// three-message answer then ends it with all nine records.
    /// </summary>
    private static async Task AnsweredAgainAsync(int firstTotal, (int Total, int Message)[] then)
    {
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 1).StartedAsync();
        using var raw = new RawPeer();
        var records = PitfallTests.RecordsAt(raw.Id, 256, 9);
        var req = n.FindNodeAsync(raw.Enr, [256]);
        var (hs, fn) = await PitfallTests.ServeHandshake(n, raw);
        using var session = hs.Session;
        void Send(int total, int i) => raw.Send(raw.Encrypt(n.LocalId, session, new NodesMessage(fn.RequestId, total, [.. records.Skip(3 * i).Take(3).Select(e => (ReadOnlyMemory<byte>)e.Raw)])), n.LocalEndPoint);
        long handled = n.PacketsProcessed;
        Send(firstTotal, 0);
        await n.UntilAsync(() => n.PacketsProcessed > handled);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(fn.RequestId, Assert.IsType<FindNodeMessage>(raw.Decrypt((await raw.ReceiveAsync())!, session)).RequestId);
        handled = n.PacketsProcessed;
        foreach (var (total, message) in then) Send(total, message);
        await n.UntilAsync(() => n.PacketsProcessed >= handled + then.Length);
        Assert.False(req.IsCompleted);
        Send(3, 2);
        var got = await req.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok();
        Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), got.Select(e => e.NodeId).ToHashSet());
    }

    [Fact]
    public async Task A_slow_nodes_late_challenge_is_answered_after_many_other_first_contacts_were_given_up()
    {
        // A crawl gives up on thousands of first contacts within seconds (nearly all records of gone nodes); a slow
        // node's WHOAREYOU to its given-up first packet arrives among them, and the node repeats that same challenge
        // for the first packet of our next pass. Its nonce must still be known then: the oldest given-up nonces make
        // room, not the newest (with the table full of gone nodes' nonces, such a node was lost to the crawl).
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 0,
            maxPendingRequests: 2, maxGivenUpNonces: 2).StartedAsync();
        var gone = Enumerable.Range(0, 3).Select(_ => new RawPeer()).ToList();
        try
        {
            foreach (var g in gone)
            {
                var lost = n.FindNodeAsync(g.Enr, [256]);
                Assert.NotNull(await g.ReceiveAsync()); // the first contact's packet, never answered
                time.Advance(TimeSpan.FromSeconds(1));
                Assert.False((await lost.WaitAsync(ClP2p.TestSupport.Waits.HangGuard)).IsOk);
            }
            using var slow = new RawPeer();
            var first = n.FindNodeAsync(slow.Enr, [256]);
            var firstPacket = (await slow.ReceiveAsync())!;
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.False((await first.WaitAsync(ClP2p.TestSupport.Waits.HangGuard)).IsOk);

            // the next pass: its packet draws the challenge the node made for the first one
            var next = n.FindNodeAsync(slow.Enr, [256]);
            Assert.NotNull(await slow.ReceiveAsync());
            var (way, challenge) = slow.WhoAreYouFor(firstPacket, n.LocalId, 0);
            slow.Send(way, n.LocalEndPoint);
            var p = (await slow.ReceiveAsync())!;
            Assert.True(slow.TryDecode(p, out var flag, out _, out _, out _));
            Assert.Equal(PacketFlag.Handshake, flag);
            var (m, s) = slow.AcceptHandshake(p, challenge);
            var fn = Assert.IsType<FindNodeMessage>(m);
            using var session = s;
            var records = PitfallTests.RecordsAt(slow.Id, 256, 2);
            slow.Send(slow.Encrypt(n.LocalId, s, new NodesMessage(fn.RequestId, 1, [.. records.Select(e => e.Raw)])), n.LocalEndPoint);
            Assert.Equal(records.Select(e => e.NodeId).ToHashSet(), (await next.WaitAsync(ClP2p.TestSupport.Waits.HangGuard).Ok()).Select(e => e.NodeId).ToHashSet());
            Assert.False(n.DropCounts.ContainsKey("who-are-you-unsolicited"));
        }
        finally
        {
            foreach (var g in gone) g.Dispose();
        }
    }

    [Fact]
    public async Task The_packet_of_a_request_answered_on_it_is_not_kept_among_the_ended_ones_and_an_unanswered_ones_is()
    {
        // Nonces of ended requests' packets are kept for a challenge that names one of them (see
        // A_challenge_repeated_for_a_packet_of_an_ended_request_is_answered_by_the_next_request). A packet the remote
        // answered it read under a session, so it never challenged it: most of a crawl's requests, not worth keeping.
        // Ten-minute timeouts and memory, so that no retry or purge comes between the counts.
        await using var peer = await TestNodes.Create().StartedAsync();
        await using var me = await TestNodes.Create(requestTimeout: TimeSpan.FromMinutes(10), retries: 0, lateAnswerGrace: TimeSpan.FromMinutes(10)).StartedAsync();
        int Kept() => me.Shards.Sum(s => s.EndedNonceCount);

        // the first contact: a random packet, the peer's challenge, our handshake; the random packet is kept
        Assert.True((await me.PingAsync(peer.LocalEnr)).IsOk);
        Assert.Equal(1, Kept());
        // requests under the session, each answered on its one packet: none kept
        for (int i = 0; i < 5; i++) Assert.True((await me.FindNodeAsync(peer.LocalEnr, [256])).IsOk);
        Assert.True((await me.PingAsync(peer.LocalEnr)).IsOk);
        Assert.Equal(1, Kept());

        // a request nobody answers: its packet is kept
        using var silent = new SilentEndpoint();
        var gone = silent.NewRecord();
        var res = await me.FindNodeAsync(gone, [256], new RequestOptions { Timeout = TimeSpan.FromMilliseconds(200), Retries = 0 });
        Assert.Equal(RequestFailure.Timeout, res.Failure);
        Assert.Equal(2, Kept());
    }
}
