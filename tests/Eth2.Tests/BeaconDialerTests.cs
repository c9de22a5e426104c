using ClP2p.Libp2p.Codecs;
using System.Net;
using System.Net.Sockets;
using ClP2p.Eth2.Dialing;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.ReqResp;
using ClP2p.Eth2.Ssz;
using ClP2p.Libp2p;
using ClP2p.Libp2p.Crypto;
using ClP2p.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Eth2.Tests;

/// <summary>BeaconDialer against in-process peers on loopback: a C# libp2p listener serving eth2, and misbehaving sockets.</summary>
public sealed class BeaconDialerTests : IAsyncDisposable
{
    private static readonly StatusMessage PeerStatus = new(
        ForkDigest.Parse("8c9f62fe"), Root.Parse("d62a74ae0f933224133c5e6e1827baf6d7b0c2bfcb8b0d80f6ec8bb9dbaa2f7b"), 437120,
        Root.Parse("4f0e5b8f3f6d4a1c2b3a49587766554433221100ffeeddccbbaa998877665544"), 13988100, 13500000);

    private static readonly MetaDataMessage PeerMetaData = new(7, AttestationSubnets.FromSubnets([3, 40]), new SyncCommitteeSubnets(1), 8);

    private readonly List<IAsyncDisposable> _disposables = [];
    private readonly List<Socket> _sockets = [];

    internal static BeaconDialerOptions FastOptions(Identity? identity = null, TimeSpan? streamTimeout = null, TimeSpan? identifyTimeout = null, TimeSpan? totalTimeout = null) => new()
    {
        Libp2p = new Libp2pOptions
        {
            Identity = identity ?? Identity.GenerateSecp256k1(),
            AgentVersion = "clp2p-test/0.1",
            ConnectTimeout = TimeSpan.FromSeconds(2),
            HandshakeTimeout = TimeSpan.FromSeconds(2),
            StreamTimeout = streamTimeout ?? TimeSpan.FromSeconds(2),
        },
        IdentifyTimeout = identifyTimeout ?? TimeSpan.FromSeconds(3),
        RequestTimeout = TimeSpan.FromSeconds(3),
        GoodbyeTimeout = TimeSpan.FromSeconds(1),
        EndOfStreamGrace = TimeSpan.FromMilliseconds(300),
        GoodbyeWait = TimeSpan.FromMilliseconds(300),
        TotalTimeout = totalTimeout ?? TimeSpan.FromSeconds(15),
    };

    /// <param name="beforeIdentify">Awaited by the peer's identify handler before it answers (a late or mute peer).</param>
    /// <param name="pinged">Completed once the peer has answered a Ping.</param>
    private async Task<(IPEndPoint Endpoint, Identity Identity, PeerSession Session)> StartEth2ListenerAsync(
        bool serveEth2 = true, Func<CancellationToken, Task>? beforeIdentify = null, TaskCompletionSource? pinged = null)
    {
        var identity = Identity.GenerateSecp256k1();
        var listener = new Libp2pListener(new Libp2pOptions { Identity = identity, AgentVersion = "cs-peer/v1.2.3/x86_64-linux" });
        _disposables.Add(listener);
        var session = new PeerSession(PeerStatus, PeerMetaData) { EchoRemoteStatus = false };
        if (serveEth2)
        {
            var server = new ReqRespServer(_ => session, () => session);
            foreach (var p in ReqRespServer.Protocols)
            {
                listener.Handle(p, p == Eth2Protocols.PingV1 && pinged is not null
                    ? async (stream, connection, ct) => { await server.HandleAsync(stream, connection, ct); pinged.TrySetResult(); }
                    : server.HandleAsync);
            }
        }
        // Identify that waits for the dialer's EOF before the stream is disposed (the built-in one may reset first).
        listener.Handle("/ipfs/id/1.0.0", async (stream, connection, ct) =>
        {
            if (beforeIdentify is not null) await beforeIdentify(ct);
            var msg = ClP2p.Libp2p.Protocols.IdentifyMessage.Encode("cs-peer/v1.2.3/x86_64-linux", "ipfs/0.1.0",
                ["/ipfs/id/1.0.0", .. (serveEth2 ? ReqRespServer.Protocols : [])], [], null, identity.PublicKey);
            await stream.WriteAsync(Varint.Encode((ulong)msg.Length), ct);
            await stream.WriteAsync(msg, ct);
            await stream.CloseWriteAsync(ct);
            var sink = new byte[64];
            while (await stream.ReadAsync(sink, ct) > 0)
            {
            }
        });
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        await Task.Yield();
        return (listener.LocalEndPoint!, identity, session);
    }

    [Fact]
    public async Task Dial_gets_agent_status_metadata_and_says_goodbye()
    {
        var (ep, identity, session) = await StartEth2ListenerAsync();
        using var dialer = new BeaconDialer(FastOptions());
        var target = new BeaconDialTarget(ep, identity.PublicKey.Data.ToArray(), ForkDigest.Parse("8c9f62fe"));
        var r = await dialer.DialAsync(target, CancellationToken.None);
        Assert.True(r.Success, $"{r.Outcome} {r.FailedStep} {r.Error}");
        Assert.Equal(identity.PeerId.ToString(), r.PeerId);
        Assert.True(r.IdentifyError is null, r.IdentifyError);
        Assert.Equal("cs-peer/v1.2.3/x86_64-linux", r.AgentVersion);
        Assert.Equal(PeerStatus, r.Status);
        Assert.Equal(2, r.StatusVersion);
        Assert.Equal(PeerMetaData, r.MetaData);
        Assert.Equal(3, r.MetaDataVersion);
        Assert.Equal(7UL, r.PingSeqNumber);
        Assert.NotNull(r.Latency);
        Assert.Equal("/yamux/1.0.0", r.Muxer);
        // The peer got our Status with the ENR's digest, and our Goodbye(1).
        Assert.Equal(ForkDigest.Parse("8c9f62fe"), session.RemoteStatusRequest?.ForkDigest);
        Assert.Equal(GoodbyeReasons.ClientShutdown, await session.Goodbye.WaitAsync(HangGuard));
        Assert.Null(r.GoodbyeReason);
    }

    [Fact]
    public async Task A_peer_that_answers_identify_only_after_its_metadata_and_ping_still_has_its_agent_recorded()
    {
        // identify leaves with Status; a slow peer's answer may come after everything else it answered
        var pinged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (ep, identity, session) = await StartEth2ListenerAsync(beforeIdentify: ct => pinged.Task.WaitAsync(ct), pinged: pinged);
        using var dialer = new BeaconDialer(FastOptions());
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, identity.PublicKey.Data.ToArray(), ForkDigest.Parse("8c9f62fe")), CancellationToken.None);
        Assert.True(r.Success, $"{r.Outcome} {r.FailedStep} {r.Error}");
        Assert.True(pinged.Task.IsCompleted);
        Assert.True(r.IdentifyError is null, r.IdentifyError);
        Assert.Equal("cs-peer/v1.2.3/x86_64-linux", r.AgentVersion);
        Assert.Equal(PeerMetaData, r.MetaData);
        Assert.Equal(7UL, r.PingSeqNumber);
        Assert.Equal(GoodbyeReasons.ClientShutdown, await session.Goodbye.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Identify_never_answered_ends_within_what_the_dial_deadline_leaves_and_the_dial_is_ok_without_an_agent()
    {
        // identify's own limit (20 s) is longer than the whole dial's (6 s): it is cut to what the dial leaves after
        // Goodbye, so the dial ends ok with everything else instead of in its own timeout. The peer accepts the stream
        // and never answers it (nor closes it) until the connection ends; streams get 30 s, so only that cut ends it.
        var (ep, identity, _) = await StartEth2ListenerAsync(beforeIdentify: ct => Task.Delay(Timeout.Infinite, ct));
        using var dialer = new BeaconDialer(FastOptions(streamTimeout: TimeSpan.FromSeconds(30), identifyTimeout: TimeSpan.FromSeconds(20), totalTimeout: TimeSpan.FromSeconds(6)));
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, identity.PublicKey.Data.ToArray(), ForkDigest.Parse("8c9f62fe")), CancellationToken.None);
        Assert.Equal(DialOutcome.Ok, r.Outcome);
        Assert.Equal("identify timed out", r.IdentifyError);
        Assert.Null(r.AgentVersion);
        Assert.Equal(PeerStatus, r.Status);
        Assert.Equal(PeerMetaData, r.MetaData);
    }

    [Fact]
    public async Task Peer_refusing_status_v2_and_metadata_v3_is_asked_again_on_new_streams_and_answers_v1_and_v2()
    {
        // Our requests go out lazily (proposal, request and FIN in one write): the refused proposal's stream carries a
        // v2 request the peer reads as garbage and resets, and the retry on a new stream carries the v1 request.
        var (ep, identity, session) = await StartEth2ListenerAsync(serveEth2: false);
        var listener = (Libp2pListener)_disposables[^1];
        var server = new ReqRespServer(_ => session, () => session);
        foreach (var p in new[] { Eth2Protocols.StatusV1, Eth2Protocols.MetaDataV2, Eth2Protocols.PingV1, Eth2Protocols.GoodbyeV1 }) listener.Handle(p, server.HandleAsync);
        using var dialer = new BeaconDialer(FastOptions());
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, identity.PublicKey.Data.ToArray(), ForkDigest.Parse("8c9f62fe")), CancellationToken.None);
        Assert.True(r.Success, $"{r.Outcome} {r.FailedStep} {r.Error}");
        Assert.Equal(1, r.StatusVersion);
        Assert.Equal(PeerStatus.AsV1(), r.Status);
        Assert.Equal(2, r.MetaDataVersion);
        Assert.Null(r.MetaData!.CustodyGroupCount);
        Assert.Equal(7UL, r.PingSeqNumber);
        // the peer read a v1 Status (84 bytes, no earliest_available_slot): the request built for the protocol accepted
        Assert.NotNull(session.RemoteStatusRequest);
        Assert.Null(session.RemoteStatusRequest.EarliestAvailableSlot);
        Assert.Equal(GoodbyeReasons.ClientShutdown, await session.Goodbye.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Status_learned_from_one_peer_is_offered_to_the_next_peer_of_the_same_digest()
    {
        var (ep1, id1, _) = await StartEth2ListenerAsync();
        var (ep2, id2, session2) = await StartEth2ListenerAsync();
        var (ep3, id3, session3) = await StartEth2ListenerAsync();
        using var dialer = new BeaconDialer(FastOptions());
        var first = await dialer.DialAsync(new BeaconDialTarget(ep1, id1.PublicKey.Data.ToArray(), ForkDigest.Parse("8c9f62fe")), CancellationToken.None);
        Assert.True(first.Success, first.Error);
        Assert.True(first.StatusSent!.FinalizedRoot.IsZero); // nothing known yet: genesis-like
        var second = await dialer.DialAsync(new BeaconDialTarget(ep2, id2.PublicKey.Data.ToArray(), ForkDigest.Parse("8c9f62fe")), CancellationToken.None);
        Assert.True(second.Success, second.Error);
        Assert.Equal(PeerStatus, session2.RemoteStatusRequest); // a real checkpoint of that chain
        // Another digest (one no network names, so it is sent as the record has it) gets no borrowed checkpoint.
        var third = await dialer.DialAsync(new BeaconDialTarget(ep3, id3.PublicKey.Data.ToArray(), ForkDigest.Parse("deadbeef")), CancellationToken.None);
        Assert.True(third.Success, third.Error);
        Assert.Equal(ForkDigest.Parse("deadbeef"), session3.RemoteStatusRequest!.ForkDigest);
        Assert.True(session3.RemoteStatusRequest.FinalizedRoot.IsZero);
    }

    [Fact]
    public async Task Implausible_status_from_the_future_is_not_learned()
    {
        var (ep1, id1, _) = await StartEth2ListenerAsync();
        var (ep2, id2, s2) = await StartEth2ListenerAsync();
        // A liar on mainnet's current digest claims a finalized epoch far beyond the wall clock.
        var now = NetworkRegistry.Builtin.Get("mainnet").GetCurrentDigest(FixedNow.Date);
        var liar = new PeerSession(PeerStatus with { ForkDigest = now, FinalizedEpoch = 1UL << 40 }, PeerMetaData) { EchoRemoteStatus = false };
        var server = new ReqRespServer(_ => liar, () => liar);
        var listener = (Libp2pListener)_disposables[^2];
        foreach (var p in ReqRespServer.Protocols) listener.Handle(p, server.HandleAsync);
        using var dialer = new BeaconDialer(FastOptions(), time: new FixedNow());
        var r1 = await dialer.DialAsync(new BeaconDialTarget(ep1, id1.PublicKey.Data.ToArray(), now), CancellationToken.None);
        Assert.True(r1.Success, r1.Error);
        Assert.Equal(1UL << 40, r1.Status!.FinalizedEpoch); // recorded as the remote said it
        var r2 = await dialer.DialAsync(new BeaconDialTarget(ep2, id2.PublicKey.Data.ToArray(), now), CancellationToken.None);
        Assert.True(r2.Success, r2.Error);
        Assert.Equal(0UL, s2.RemoteStatusRequest!.FinalizedEpoch); // not offered to the next peer
        Assert.Equal(r2.StatusSent, s2.RemoteStatusRequest);
    }

    [Fact]
    public async Task Target_without_enr_digest_gets_the_default_networks_current_digest()
    {
        var (ep, id, session) = await StartEth2ListenerAsync();
        using var dialer = new BeaconDialer(FastOptions() is var o ? new BeaconDialerOptions
        {
            Libp2p = o.Libp2p, RequestTimeout = o.RequestTimeout, EndOfStreamGrace = o.EndOfStreamGrace, GoodbyeWait = o.GoodbyeWait,
            DefaultNetwork = "hoodi", StatusProvider = d => new StatusMessage(d, Root.Parse("0x" + new string('a', 64)), 77, Root.Zero, 2500, 0),
        } : null!, time: new FixedNow());
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, id.PublicKey.Data.ToArray(), null), CancellationToken.None);
        Assert.True(r.Success, r.Error);
        var expected = NetworkRegistry.Builtin.Get("hoodi").GetCurrentDigest(FixedNow.Date);
        Assert.Equal(expected, session.RemoteStatusRequest!.ForkDigest);
        Assert.Equal(77UL, session.RemoteStatusRequest.FinalizedEpoch); // from the StatusProvider
    }

    [Fact]
    public async Task Silent_status_handler_times_out_at_the_status_step_when_fake_time_reaches_the_total_timeout()
    {
        var (ep, id, _) = await StartEth2ListenerAsync(serveEth2: false);
        var listener = (Libp2pListener)_disposables[^1];
        var statusAsked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var p in Eth2Protocols.Status)
        {
            listener.Handle(p, (_, _, ct) =>
            {
                statusAsked.TrySetResult();
                return Task.Delay(Timeout.Infinite, ct);
            });
        }
        var o = FastOptions();
        var time = new FakeTimeProvider();
        using var dialer = new BeaconDialer(new BeaconDialerOptions
        {
            Libp2p = o.Libp2p, RequestTimeout = TimeSpan.FromSeconds(20), TotalTimeout = TimeSpan.FromSeconds(2), GoodbyeWait = o.GoodbyeWait,
        }, time: time);
        var dial = dialer.DialAsync(new BeaconDialTarget(ep, id.PublicKey.Data.ToArray(), null), CancellationToken.None);
        await statusAsked.Task.WaitAsync(HangGuard);
        time.Advance(TimeSpan.FromSeconds(2)); // the total timeout; the 20 s request timeout is far off
        var r = await dial;
        Assert.Equal(DialOutcome.Timeout, r.Outcome);
        Assert.Equal(BeaconDialStep.Status, r.FailedStep);
        Assert.Equal(id.PeerId.ToString(), r.PeerId); // what was learned before the timeout is kept
        Assert.Equal(TimeSpan.FromSeconds(2), r.Duration); // measured on the dialer's clock
    }

    [Fact]
    public async Task Wrong_enr_key_is_a_peer_id_mismatch()
    {
        var (ep, _, _) = await StartEth2ListenerAsync();
        using var dialer = new BeaconDialer(FastOptions());
        var other = Identity.GenerateSecp256k1();
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, other.PublicKey.Data.ToArray(), null), CancellationToken.None);
        Assert.Equal(DialOutcome.PeerIdMismatch, r.Outcome);
        Assert.Equal("peer_id_mismatch", r.Outcome.ToStorageString());
    }

    [Fact]
    public async Task Peer_without_eth2_protocols_is_protocol_not_supported_but_keeps_identify()
    {
        var (ep, _, _) = await StartEth2ListenerAsync(serveEth2: false);
        using var dialer = new BeaconDialer(FastOptions());
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, ReadOnlyMemory<byte>.Empty, null), CancellationToken.None);
        Assert.Equal(DialOutcome.ProtocolNotSupported, r.Outcome);
        Assert.Equal(BeaconDialStep.Status, r.FailedStep);
        Assert.True(r.IdentifyError is null, r.IdentifyError);
        Assert.Equal("cs-peer/v1.2.3/x86_64-linux", r.AgentVersion);
    }

    [Fact]
    public async Task Closed_port_is_refused()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var ep = (IPEndPoint)probe.LocalEndpoint;
        probe.Stop();
        using var dialer = new BeaconDialer(FastOptions());
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, ReadOnlyMemory<byte>.Empty, null), CancellationToken.None);
        Assert.Equal(DialOutcome.Refused, r.Outcome);
        Assert.Equal(BeaconDialStep.Connect, r.FailedStep);
    }

    private static readonly Type[] DialPathExceptions =
        [typeof(OperationCanceledException), typeof(DialException), typeof(SocketException), typeof(IOException), typeof(ObjectDisposedException)];

    private static void AssertNothingThrown(FirstChanceProbe probe)
    {
        // and the multistream refusal (internal to ClP2p.Libp2p, so by name)
        var thrown = probe.Seen().Where(e => DialPathExceptions.Any(k => k.IsInstanceOfType(e)) || e.GetType().Name == "NegotiationException").ToList();
        Assert.True(thrown.Count == 0, FirstChanceProbe.Describe(thrown));
    }

    [Fact]
    public async Task Closed_port_is_refused_without_an_exception()
    {
        var ep = LoopbackEndpoints.ClosedPort();
        using var dialer = new BeaconDialer(FastOptions());
        using var probe = FirstChanceProbe.Start();
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, ReadOnlyMemory<byte>.Empty, null), CancellationToken.None);
        AssertNothingThrown(probe);
        Assert.Equal(DialOutcome.Refused, r.Outcome);
        Assert.Equal(BeaconDialStep.Connect, r.FailedStep);
        Assert.Equal(new SocketException((int)SocketError.ConnectionRefused).Message, r.Error);
    }

    [Fact]
    public async Task Host_that_never_answers_times_out_at_connect_without_an_exception()
    {
        using var silent = await LoopbackEndpoints.SilentAsync();
        var time = new FakeTimeProvider(FixedNow.Date);
        using var dialer = new BeaconDialer(FastOptions(), time: time);
        using var probe = FirstChanceProbe.Start();
        var dial = dialer.DialAsync(new BeaconDialTarget(silent.EndPoint, ReadOnlyMemory<byte>.Empty, null), CancellationToken.None);
        time.Advance(FastOptions().Libp2p.ConnectTimeout);
        var r = await dial.WaitAsync(HangGuard);
        AssertNothingThrown(probe);
        Assert.Equal(DialOutcome.Timeout, r.Outcome);
        Assert.Equal(BeaconDialStep.Connect, r.FailedStep);
        Assert.Equal("timed out", r.Error);
    }

    [Fact]
    public async Task Peer_without_eth2_protocols_is_protocol_not_supported_without_an_exception()
    {
        var (ep, identity, _) = await StartEth2ListenerAsync(serveEth2: false); // before the probe: the remote side is not watched
        using var dialer = new BeaconDialer(FastOptions());
        using var probe = FirstChanceProbe.Start();
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, identity.PublicKey.Data.ToArray(), null), CancellationToken.None);
        AssertNothingThrown(probe);
        Assert.Equal(DialOutcome.ProtocolNotSupported, r.Outcome);
        Assert.Equal(BeaconDialStep.Status, r.FailedStep);
        Assert.Equal($"ProtocolNotSupported: remote refused {Eth2Protocols.StatusV2}, {Eth2Protocols.StatusV1}", r.Error);
    }

    [Fact]
    public async Task Ordinary_dial_of_a_live_node_throws_nothing_on_our_side()
    {
        var (ep, identity, session) = await StartEth2ListenerAsync(); // before the probe: the remote side is not watched
        using var dialer = new BeaconDialer(FastOptions());
        using var probe = FirstChanceProbe.Start();
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, identity.PublicKey.Data.ToArray(), ForkDigest.Parse("8c9f62fe")), CancellationToken.None);
        Assert.True(r.Success, $"{r.Outcome} {r.FailedStep} {r.Error}");
        Assert.Equal(GoodbyeReasons.ClientShutdown, await session.Goodbye.WaitAsync(HangGuard));
        AssertNothingThrown(probe);
    }

    private IPEndPoint StartRawServer(Func<Socket, Task> behave)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        server.Listen(16);
        _sockets.Add(server);
        _ = Task.Run(async () =>
        {
            while (true)
            {
                Socket s;
                try { s = await server.AcceptAsync(); } catch (Exception) { return; }
                _sockets.Add(s);
                _ = Task.Run(() => behave(s));
            }
        });
        return (IPEndPoint)server.LocalEndPoint!;
    }

    [Fact]
    public async Task Accept_then_silence_times_out_in_security_negotiation()
    {
        var ep = StartRawServer(_ => Task.Delay(Timeout.Infinite));
        using var dialer = new BeaconDialer(FastOptions());
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, ReadOnlyMemory<byte>.Empty, null), CancellationToken.None);
        Assert.Equal(DialOutcome.Timeout, r.Outcome);
        Assert.Equal(BeaconDialStep.SecurityNegotiation, r.FailedStep);
    }

    [Fact]
    public async Task Garbage_bytes_fail_security_negotiation_and_the_dialer_keeps_working()
    {
        var rng = new Random(3);
        var ep = StartRawServer(async s =>
        {
            var junk = new byte[256];
            rng.NextBytes(junk);
            await s.SendAsync(junk);
            var sink = new byte[256];
            while (await s.ReceiveAsync(sink) > 0)
            {
                // hold the connection until the dialer drops it
            }
        });
        using var dialer = new BeaconDialer(FastOptions());
        var r = await dialer.DialAsync(new BeaconDialTarget(ep, ReadOnlyMemory<byte>.Empty, null), CancellationToken.None);
        Assert.Contains(r.Outcome, new[] { DialOutcome.SecurityNegotiation, DialOutcome.Malformed });
        Assert.NotNull(r.Error);

        // Same dialer, healthy peer afterwards.
        var (good, identity, _) = await StartEth2ListenerAsync();
        var ok = await dialer.DialAsync(new BeaconDialTarget(good, identity.PublicKey.Data.ToArray(), null), CancellationToken.None);
        Assert.True(ok.Success, $"{ok.Outcome} {ok.Error}");
    }

    [Fact]
    public void Outcome_storage_strings_are_stable_and_round_trip()
    {
        foreach (var o in Enum.GetValues<DialOutcome>())
        {
            var s = o.ToStorageString();
            Assert.Matches("^[a-z_]+$", s);
            Assert.True(DialOutcomeExtensions.TryParseStorageString(s, out var back));
            Assert.Equal(o, back);
        }
        Assert.Equal("too_many_peers", DialOutcome.TooManyPeers.ToStorageString());
        Assert.Equal("noise_failure", DialOutcome.NoiseFailure.ToStorageString());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var s in _sockets) s.Dispose();
        foreach (var d in _disposables) await d.DisposeAsync();
    }
}

/// <summary>A clock whose date stands still (the fork schedule is what matters) while its timers run in real time.</summary>
internal sealed class FixedNow : TimeProvider
{
    public static readonly DateTimeOffset Date = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => Date;
}
