using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.ReqResp;
using ClP2p.Eth2.Ssz;
using ClP2p.Libp2p;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Eth2.Dialing;

/// <summary>
/// The whole per-node dial the crawler runs: TCP connect → libp2p upgrade (Noise, yamux/mplex) → identify alongside
/// Status (v2 then v1) → MetaData (v3 then v2) → Ping → Goodbye(1), while answering the remote's own Status,
/// MetaData, Ping and Goodbye on the same connection. Never throws for remote misbehaviour: every failure is a
/// <see cref="BeaconDialResult"/> with an outcome class, the failed step and the raw error text.
/// </summary>
/// <remarks>
/// Status we send: fork_digest = the digest in the target's ENR (mirrored, so the peer does not answer Goodbye(2)),
/// or its network's current digest when the ENR's is a past or pre-genesis one, or the default network's current digest
/// when the ENR has none; after a Goodbye(2) the other choice once (<see cref="ChooseDigests"/>). The checkpoint is, in order of preference:
/// <see cref="BeaconDialerOptions.StatusProvider"/>; the newest Status another peer with the same digest gave us
/// (a real checkpoint of that chain, so clients that check finalized roots against their chain accept it); else
/// finalized (zero root, epoch 0) and head (zero root, slot 0), which every client treats as "genesis / far behind".
/// Once the remote has told us its Status (as a request or a response), we answer its requests by echoing its own
/// Status back: same digest, a finalized checkpoint that is in its chain, and the same head, so it has no reason to
/// disconnect us or to try to sync from us.
/// </remarks>
public sealed class BeaconDialer : IDisposable
{
    private static readonly Meter Meter = new("ClP2p.Eth2.Dialer");
    private static readonly Counter<long> Dials = Meter.CreateCounter<long>("clp2p.eth2.dials", description: "eth2 dials by outcome");
    private static readonly Counter<long> GoodbyeTimeouts = Meter.CreateCounter<long>("clp2p.eth2.goodbye_timeouts", description: "Our Goodbye(1) not written within GoodbyeTimeout (the dial is still Ok)");

    private readonly BeaconDialerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Libp2pDialer _dialer;
    private readonly ReqRespServer _server;
    private readonly ReqRespOptions _reqResp;
    private readonly ConcurrentDictionary<IPEndPoint, PeerSession> _sessions = new();
    private readonly ConcurrentDictionary<ForkDigest, StatusMessage> _learned = new();

    public BeaconDialer(BeaconDialerOptions options, ILoggerFactory? lf = null, TimeProvider? time = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        var factory = lf ?? NullLoggerFactory.Instance;
        _logger = factory.CreateLogger<BeaconDialer>();
        _time = time ?? TimeProvider.System;
        _dialer = new Libp2pDialer(options.Libp2p, factory, _time);
        _reqResp = new ReqRespOptions { RequestTimeout = options.RequestTimeout, EndOfStreamGrace = options.EndOfStreamGrace };
        _server = new ReqRespServer(
            c => _sessions.TryGetValue(c.RemoteEndPoint, out var s) ? s : null,
            () => new PeerSession(StatusFor(DefaultDigest()), options.LocalMetaData),
            _reqResp,
            factory.CreateLogger<ReqRespServer>(),
            _time);
        foreach (var p in ReqRespServer.Protocols) _dialer.Handle(p, _server.HandleAsync);
    }

    public PeerId LocalPeerId => _dialer.LocalPeerId;

    /// <summary>Dials ended by another record's failed connect to the same endpoint (<see cref="Libp2pDialer.ConnectsShared"/>).</summary>
    public long ConnectsShared => _dialer.ConnectsShared;

    /// <summary>
    /// Dials <paramref name="target"/> with the Status digest <see cref="ChooseDigests"/> picks; when the node answers
    /// Goodbye(2, irrelevant network) and there is another choice, dials once more with that one. The result says which
    /// digest the answered Status carried (<see cref="BeaconDialResult.StatusSent"/>) and whether it was the second try.
    /// </summary>
    public async Task<BeaconDialResult> DialAsync(BeaconDialTarget target, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(target);
        (ForkDigest first, ForkDigest? other) = ChooseDigests(target.EnrForkDigest);
        var result = await DialOnceAsync(target, first, ct).ConfigureAwait(false);
        if (result.GoodbyeReason == GoodbyeReasons.IrrelevantNetwork && other is { } second && !ct.IsCancellationRequested)
        {
            var retry = await DialOnceAsync(target, second, ct).ConfigureAwait(false);
            result = retry with { StatusRetried = true, Duration = result.Duration + retry.Duration };
        }
        return result;
    }

    /// <summary>
    /// The Status digests to try for a node whose record carries <paramref name="enrDigest"/>, first and (after a
    /// Goodbye(2)) second. A past or pre-genesis digest of a known network (an old record, a bootnode still on
    /// pre-genesis <c>f5a5fd42</c>) → that network's current digest first, the record's second. A current, coming or
    /// unknown digest → the record's first (the node says that is where it is), the network's current one second when
    /// it differs. No record digest → the default network's current digest, nothing second.
    /// </summary>
    public (ForkDigest First, ForkDigest? Second) ChooseDigests(ForkDigest? enrDigest)
    {
        if (enrDigest is not { } d) return (DefaultDigest(), null);
        var now = _time.GetUtcNow();
        var (name, age) = _options.Registry.Classify(d, now);
        if (name is not { } n || !_options.Registry.TryGet(n.Network, out var network)) return (d, null);
        var current = network.GetCurrentDigest(now);
        if (current == d) return (d, null);
        return age is DigestAge.Past or DigestAge.PreGenesis or DigestAge.NeverActive ? (current, d) : (d, current);
    }

    private async Task<BeaconDialResult> DialOnceAsync(BeaconDialTarget target, ForkDigest digest, CancellationToken ct)
    {
        long started = _time.GetTimestamp();
        using var total = new StepTimer(_options.TotalTimeout, _time, ct);
        var session = new PeerSession(StatusFor(digest), _options.LocalMetaData);
        bool registered = _sessions.TryAdd(target.Endpoint, session);
        var result = new BeaconDialResult { Outcome = DialOutcome.Other };
        var progress = new DialProgress();
        try
        {
            result = await DialCoreAsync(target, session, result, progress, total.Token, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            result = progress.Step == BeaconDialStep.Goodbye && progress.Partial is { } done
                ? done with { Outcome = DialOutcome.Ok } // everything was learned; only our farewell was cut short
                : (progress.Partial ?? result) with { Outcome = DialOutcome.Timeout, FailedStep = progress.Step, Error = $"total dial timeout ({_options.TotalTimeout})" };
        }
        catch (Exception e) when (e is not OperationCanceledException && e is not OutOfMemoryException)
        {
            // Remote misbehaviour that escaped a step's own handling: classify, never throw.
            _logger.LogDebug(e, "dial {Endpoint} failed unexpectedly", target.Endpoint);
            result = result with { Outcome = DialOutcome.Other, Error = e.Message };
        }
        finally
        {
            if (registered) _sessions.TryRemove(new KeyValuePair<IPEndPoint, PeerSession>(target.Endpoint, session));
        }
        result = result with { Duration = _time.GetElapsedTime(started), GoodbyeReason = result.GoodbyeReason ?? session.GoodbyeReason, RemoteStatusRequest = session.RemoteStatusRequest };
        Dials.Add(1, new KeyValuePair<string, object?>("outcome", result.Outcome.ToStorageString()));
        // guarded: the arguments are boxed into a new array on every call, logged or not (once per dial)
        if (_logger.IsEnabled(LogLevel.Debug)) _logger.LogDebug("dial {Endpoint}: {Outcome} {Step} {Error} agent={Agent}", target.Endpoint, result.Outcome, result.FailedStep, result.Error, result.AgentVersion);
        return result;
    }

    /// <summary>Where a dial is, for a total-timeout verdict.</summary>
    private sealed class DialProgress
    {
        public BeaconDialStep Step { get; set; } = BeaconDialStep.Connect;

        public BeaconDialResult? Partial { get; set; }
    }

    private async Task<BeaconDialResult> DialCoreAsync(BeaconDialTarget target, PeerSession session, BeaconDialResult result, DialProgress progress, CancellationToken ct, CancellationToken outer)
    {
        PeerId? expected = null;
        if (target.Secp256k1PublicKey.Length == PublicKey.Secp256k1Size)
        {
            try
            {
                expected = target.KeyFromVerifiedRecord
                    ? PeerId.FromVerifiedSecp256k1PublicKey(target.Secp256k1PublicKey.Span)
                    : PeerId.FromSecp256k1PublicKey(target.Secp256k1PublicKey.Span);
            }
            catch (ArgumentException)
            {
                return result with { Outcome = DialOutcome.Malformed, FailedStep = BeaconDialStep.Connect, Error = "ENR secp256k1 key is not a valid public key" };
            }
        }

        // 1. TCP connect (timed: the latency we report).
        long connectStart = _time.GetTimestamp();
        // Not ConnectAsync: a gone or refusing node (half of a network's records) is an ordinary outcome, not a throw.
        var connected = await _dialer.TryConnectAsync(target.Endpoint, ct).ConfigureAwait(false);
        if (connected.Value is not { } raw)
        {
            var e = connected.Error!;
            return result with { Outcome = FromDialClass(e.Class), FailedStep = BeaconDialStep.Connect, Error = e.Detail };
        }
        // The connect's round trip as the kernel measured it (the SYN's, Linux): the time until this process saw the
        // connect complete also holds its own queueing, up to seconds in a busy crawl of thousands of dials at once.
        var rtt = raw is NetworkStream { Socket: var socket } ? TcpInfo.RoundTrip(socket) : null;
        result = result with { Latency = rtt ?? _time.GetElapsedTime(connectStart) };
        progress.Step = BeaconDialStep.NoiseHandshake;
        progress.Partial = result;

        // 2. Upgrade.
        Libp2pConnection connection;
        try
        {
            connection = await _dialer.UpgradeOutboundAsync(raw, target.Endpoint, expected, ct).ConfigureAwait(false);
        }
        catch (DialException e)
        {
            await raw.DisposeAsync().ConfigureAwait(false);
            return result with { Outcome = FromDialClass(e.Class), FailedStep = FromDialStep(e.Step), Error = e.Detail };
        }
        catch (Exception e) when (e is not OperationCanceledException || !outer.IsCancellationRequested)
        {
            await raw.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        await using (connection.ConfigureAwait(false))
        {
            result = result with { PeerId = connection.RemotePeerId.ToString(), Muxer = connection.Muxer };
            progress.Step = BeaconDialStep.Status;
            progress.Partial = result;
            var client = new ReqRespClient(
                OpenedStream.Over(connection),
                _reqResp, _logger, _time);

            // 3. Identify alongside Status (Status must be our first eth2 request; identify is libp2p's own).
            // Both requests leave in one write (one Noise frame, one TCP segment): the hold ends before any answer is awaited.
            var enrDigest = session.LocalStatus.ForkDigest;
            StatusMessage? sentStatus = null;
            Task<(IdentifyInfo? Info, string? Error, bool TimedOut)> identifyTask;
            Task<ReqRespResult<StatusMessage>> statusTask;
            var hold = await connection.HoldWritesAsync(ct).ConfigureAwait(false);
            await using (hold.ConfigureAwait(false))
            {
                identifyTask = IdentifyAsync(connection, IdentifyLimit(connectStart), ct);
                statusTask = client.StatusAsync(v => sentStatus = session.LocalStatus, ct);
            }
            var status = await statusTask.ConfigureAwait(false);
            if (sentStatus is not null) result = result with { StatusSent = sentStatus };

            if (!status.Ok)
            {
                result = await WithIdentifyAsync(result, identifyTask, connection, connectStart, ct).ConfigureAwait(false);
                var goodbye = await WaitForGoodbyeAsync(session, ct).ConfigureAwait(false);
                if (goodbye is { } reason) return WithGoodbye(result, reason, BeaconDialStep.Status);
                return result with { Outcome = FromReqResp(status.Failure), FailedStep = BeaconDialStep.Status, Error = Describe(status) };
            }
            session.LearnRemoteStatus(status.Value!);
            if (_options.LearnStatusFromPeers) Learn(status.Value!, enrDigest);
            result = result with { Status = status.Value, StatusVersion = Eth2Protocols.StatusVersion(status.Protocol!) };

            // 4. MetaData and Ping, on two streams at once: each is a round trip (the proposal and the request leave
            // together), and a peer whose answers take seconds would spend two of them one after the other.
            progress.Step = BeaconDialStep.MetaData;
            progress.Partial = result;
            Task<ReqRespResult<ulong?>>? pingTask;
            Task<ReqRespResult<MetaDataMessage>>? mdTask;
            hold = await connection.HoldWritesAsync(ct).ConfigureAwait(false);
            await using (hold.ConfigureAwait(false))
            {
                pingTask = _options.SendPing && session.GoodbyeReason is null && !connection.IsClosed
                    ? client.PingAsync(_options.LocalMetaData.SeqNumber, ct)
                    : null;
                mdTask = session.GoodbyeReason is null ? client.MetaDataAsync(ct) : null;
            }
            if (mdTask is not null)
            {
                var md = await mdTask.ConfigureAwait(false);
                result = md.Ok
                    ? result with { MetaData = md.Value, MetaDataVersion = Eth2Protocols.MetaDataVersion(md.Protocol!) }
                    : result with { MetaDataError = Describe(md) };
            }
            progress.Step = BeaconDialStep.Ping;
            progress.Partial = result;
            if (pingTask is not null)
            {
                var ping = await pingTask.ConfigureAwait(false);
                if (ping.Ok) result = result with { PingSeqNumber = ping.Value };
            }

            // identify went on alongside Status, MetaData and Ping: a peer whose every reply takes seconds has had all
            // of their round trips to answer it, not only Status's
            result = await WithIdentifyAsync(result, identifyTask, connection, connectStart, ct).ConfigureAwait(false);

            // A Goodbye from the remote before we said ours decides the outcome (the data above is kept).
            if (session.GoodbyeReason is null && (result.MetaData is null || connection.IsClosed)) await WaitForGoodbyeAsync(session, ct).ConfigureAwait(false);
            if (session.GoodbyeReason is { } early) return WithGoodbye(result, early, result.MetaData is null ? BeaconDialStep.MetaData : BeaconDialStep.Ping);

            // 5. Goodbye(1): we are done.
            progress.Step = BeaconDialStep.Goodbye;
            progress.Partial = result;
            if (_options.SendGoodbye && !connection.IsClosed)
            {
                using var byeCts = new StepTimer(_options.GoodbyeTimeout, _time, ct);
                try
                {
                    await client.GoodbyeAsync(GoodbyeReasons.ClientShutdown, byeCts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    GoodbyeTimeouts.Add(1);
                    _logger.LogDebug("goodbye to {Peer} not written within {Timeout}", connection.RemotePeerId, _options.GoodbyeTimeout);
                }
            }
            return result with { Outcome = DialOutcome.Ok };
        }
    }

    /// <summary>The identify exchange's outcome on the result (retried once when it failed other than by its timeout).</summary>
    private async Task<BeaconDialResult> WithIdentifyAsync(BeaconDialResult result, Task<(IdentifyInfo? Info, string? Error, bool TimedOut)> identifyTask, Libp2pConnection connection, long dialStart, CancellationToken ct)
    {
        var (identify, identifyError, identifyTimedOut) = await identifyTask.ConfigureAwait(false);
        if (identify is null && !connection.IsClosed && identifyError is not null && !identifyTimedOut)
        {
            _logger.LogDebug("identify with {Peer} failed ({Error}); retrying once", connection.RemotePeerId, identifyError);
            (identify, identifyError, _) = await IdentifyAsync(connection, IdentifyLimit(dialStart), ct).ConfigureAwait(false);
        }
        if (identify is null) return result with { IdentifyError = identifyError };
        return result with
        {
            AgentVersion = identify.AgentVersion,
            ProtocolVersion = identify.ProtocolVersion,
            Protocols = identify.Protocols,
            ListenAddrs = identify.ListenAddrs,
            ObservedAddr = identify.ObservedAddr,
        };
    }

    /// <summary>
    /// <see cref="BeaconDialerOptions.IdentifyTimeout"/>, or less: what the dial's deadline leaves after our Goodbye's
    /// own and a second to spare (at least a second), so that a late identify ends the dial ok without an agent, never in
    /// the dial's timeout.
    /// </summary>
    private TimeSpan IdentifyLimit(long dialStart)
    {
        var left = _options.TotalTimeout - _time.GetElapsedTime(dialStart) - _options.GoodbyeTimeout - TimeSpan.FromSeconds(1);
        if (left >= _options.IdentifyTimeout) return _options.IdentifyTimeout;
        return left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);
    }

    /// <summary>Identify under <paramref name="limit"/>: the info, or why there is none and whether it was the timeout.</summary>
    private async Task<(IdentifyInfo? Info, string? Error, bool TimedOut)> IdentifyAsync(Libp2pConnection connection, TimeSpan limit, CancellationToken ct)
    {
        using var linked = new StepTimer(limit, _time, ct);
        try
        {
            return (await connection.IdentifyAsync(linked.Token).ConfigureAwait(false), null, false);
        }
        catch (DialException e)
        {
            return (null, $"{e.Class}: {e.Detail}", e.Class == DialErrorClass.Timeout);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, "identify timed out", true);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidDataException)
        {
            return (null, e.Message, false);
        }
    }

    private async Task<ulong?> WaitForGoodbyeAsync(PeerSession session, CancellationToken ct)
    {
        if (session.GoodbyeReason is { } r) return r;
        using var wait = new StepTimer(_options.GoodbyeWait, _time, ct);
        await Task.WhenAny(session.Goodbye, wait.Expired).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        return session.GoodbyeReason;
    }

    private static BeaconDialResult WithGoodbye(BeaconDialResult result, ulong reason, BeaconDialStep step) => result with
    {
        Outcome = reason == GoodbyeReasons.TooManyPeers ? DialOutcome.TooManyPeers : DialOutcome.RemoteGoodbye,
        FailedStep = step,
        GoodbyeReason = reason,
        Error = $"remote goodbye {reason} ({GoodbyeReasons.Describe(reason)})",
    };

    private ForkDigest DefaultDigest()
    {
        if (_options.DefaultNetwork is { } name && _options.Registry.TryGet(name, out var network))
            return network.GetCurrentDigest(_time.GetUtcNow());
        return ForkDigest.Zero;
    }

    private StatusMessage StatusFor(ForkDigest digest)
    {
        if (_options.StatusProvider?.Invoke(digest) is { } provided) return provided with { ForkDigest = digest };
        if (_options.LearnStatusFromPeers && _learned.TryGetValue(digest, out var learned)) return learned;
        return new StatusMessage(digest, Root.Zero, 0, Root.Zero, 0, 0);
    }

    /// <summary>Digests whose learned Status we keep at most (one entry per digest).</summary>
    internal const int MaxLearnedDigests = 1024;

    /// <summary>
    /// Remembers a remote's Status for the next peers of the same digest. Only a Status that answers the digest we
    /// sent is learned, and for a named network only a plausible one (finalized epoch and head slot not ahead of the
    /// wall clock); the most recent one wins, so a single liar cannot pin a bogus checkpoint for long.
    /// </summary>
    private void Learn(StatusMessage remote, ForkDigest sent)
    {
        if (remote.ForkDigest != sent) return;
        if (_options.Registry.TryGetNetworkByDigest(remote.ForkDigest, out var network))
        {
            var now = _time.GetUtcNow();
            ulong slot = network.GetSlot(now);
            if (remote.FinalizedEpoch > network.GetEpoch(now) || remote.HeadSlot > slot + network.SlotsPerEpoch) return;
        }
        if (_learned.Count >= MaxLearnedDigests && !_learned.ContainsKey(remote.ForkDigest)) return;
        _learned[remote.ForkDigest] = remote.AsV2();
    }

    private static string Describe<T>(ReqRespResult<T> r) => r.Failure switch
    {
        ReqRespFailure.ErrorResponse => $"error response {r.ResultCode}: {r.ErrorMessage}",
        ReqRespFailure.Malformed => $"malformed response: {r.DecodeError}",
        _ => $"{r.Failure}: {r.Detail}",
    };

    private static DialOutcome FromReqResp(ReqRespFailure f) => f switch
    {
        ReqRespFailure.ProtocolNotSupported => DialOutcome.ProtocolNotSupported,
        ReqRespFailure.Timeout => DialOutcome.Timeout,
        ReqRespFailure.Reset => DialOutcome.Reset,
        ReqRespFailure.Eof => DialOutcome.Eof,
        ReqRespFailure.Malformed => DialOutcome.Malformed,
        _ => DialOutcome.Other,
    };

    private static DialOutcome FromDialClass(DialErrorClass c) => c switch
    {
        DialErrorClass.Refused => DialOutcome.Refused,
        DialErrorClass.Timeout => DialOutcome.Timeout,
        DialErrorClass.Reset or DialErrorClass.GoAway => DialOutcome.Reset,
        DialErrorClass.Unreachable => DialOutcome.Unreachable,
        DialErrorClass.NoiseFailure => DialOutcome.NoiseFailure,
        DialErrorClass.SecurityNegotiation => DialOutcome.SecurityNegotiation,
        DialErrorClass.MuxerNegotiation => DialOutcome.MuxerNegotiation,
        DialErrorClass.ProtocolNotSupported => DialOutcome.ProtocolNotSupported,
        DialErrorClass.PeerIdMismatch => DialOutcome.PeerIdMismatch,
        DialErrorClass.Eof => DialOutcome.Eof,
        DialErrorClass.Malformed => DialOutcome.Malformed,
        _ => DialOutcome.Other,
    };

    private static BeaconDialStep FromDialStep(DialStep s) => s switch
    {
        DialStep.Connect => BeaconDialStep.Connect,
        DialStep.SecurityNegotiation => BeaconDialStep.SecurityNegotiation,
        DialStep.NoiseHandshake => BeaconDialStep.NoiseHandshake,
        DialStep.MuxerNegotiation => BeaconDialStep.MuxerNegotiation,
        DialStep.Identify => BeaconDialStep.Identify,
        _ => BeaconDialStep.Status,
    };

    public void Dispose() => _dialer.Dispose();
}
