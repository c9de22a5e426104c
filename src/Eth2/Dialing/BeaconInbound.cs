using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.ReqResp;
using ClP2p.Eth2.Ssz;
using ClP2p.Libp2p;
using ClP2p.Libp2p.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Eth2.Dialing;

/// <summary>A peer that connected to us, and what we learned on its connection (the same fields a dial learns).</summary>
/// <param name="Remote">Where the connection came from.</param>
/// <param name="PublicKey">The remote's libp2p public key bytes (33 bytes for secp256k1, the key of its ENR).</param>
/// <param name="Result">Peer id, muxer, identify, its Status and MetaData (Outcome ok when Status was answered).</param>
/// <param name="At">When the exchange ended.</param>
public sealed record InboundPeer(IPEndPoint Remote, byte[] PublicKey, BeaconDialResult Result, DateTimeOffset At);

/// <summary>Settings of <see cref="BeaconInbound"/>.</summary>
public sealed record BeaconInboundOptions
{
    /// <summary>Connections held at once, per IP and new per IP per second.</summary>
    public InboundLimits Limits { get; init; } = new();

    /// <summary>Inbound streams one peer may hold open at once on its connection (phase0/p2p-interface.md lets a
    /// peer run several requests at once; a few are enough for Status, MetaData, Ping, Goodbye and identify).</summary>
    public int MaxStreamsPerConnection { get; init; } = 8;

    /// <summary>Longest we hold an inbound connection, exchange included: then it is closed whatever it does.</summary>
    public TimeSpan MaxConnectionLifetime { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long we wait for the remote's own Status request before asking for it (clients that dial send
    /// theirs first; echoing it keeps them from answering Goodbye(irrelevant network)).</summary>
    public TimeSpan RemoteStatusWait { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>After the exchange, the connection stays up this long for the remote's own requests, unless it closes first.</summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// The listening side of the crawler: accepts libp2p connections (TCP, Noise, yamux/mplex: the dialer's stack) under
/// <see cref="InboundLimits"/>, serves the remote's Status, MetaData, Ping and Goodbye, asks it for identify, Status and
/// MetaData on that same connection, reports each peer on <see cref="Peers"/>, and closes the connection. It never dials.
/// </summary>
public sealed partial class BeaconInbound : IAsyncDisposable
{
    /// <summary>Reported peers waiting to be read; the oldest are dropped beyond this (counted in <see cref="PeersDropped"/>).</summary>
    public const int MaxQueuedPeers = 4_096;

    private readonly BeaconDialerOptions _dial;
    private readonly BeaconInboundOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Libp2pListener _listener;
    private readonly ReqRespServer _server;
    private readonly ReqRespOptions _reqResp;
    private readonly ConcurrentDictionary<Libp2pConnection, PeerSession> _sessions = new();
    private readonly Channel<InboundPeer> _peers = Channel.CreateBounded<InboundPeer>(new BoundedChannelOptions(MaxQueuedPeers) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource _cts = new();
    private readonly List<Task> _serving = [];
    private Task _acceptLoop = Task.CompletedTask;
    private long _served, _failed, _dropped;

    public BeaconInbound(BeaconDialerOptions dial, BeaconInboundOptions? options = null, ILoggerFactory? lf = null, TimeProvider? time = null)
    {
        _dial = dial ?? throw new ArgumentNullException(nameof(dial));
        _options = options ?? new BeaconInboundOptions();
        var factory = lf ?? NullLoggerFactory.Instance;
        _logger = factory.CreateLogger<BeaconInbound>();
        _time = time ?? TimeProvider.System;
        var libp2p = new Libp2pOptions
        {
            Identity = dial.Libp2p.Identity,
            AgentVersion = dial.Libp2p.AgentVersion,
            ProtocolVersion = dial.Libp2p.ProtocolVersion,
            HandshakeTimeout = dial.Libp2p.HandshakeTimeout,
            StreamTimeout = dial.Libp2p.StreamTimeout,
            Muxers = dial.Libp2p.Muxers,
            MaxInboundStreamsPerConnection = _options.MaxStreamsPerConnection,
        };
        _listener = new Libp2pListener(libp2p, factory, _time, limits: _options.Limits);
        _reqResp = new ReqRespOptions { RequestTimeout = dial.RequestTimeout, EndOfStreamGrace = dial.EndOfStreamGrace };
        _server = new ReqRespServer(c => _sessions.TryGetValue(c, out var s) ? s : null, NewSession, _reqResp, factory.CreateLogger<ReqRespServer>(), _time);
        foreach (var p in ReqRespServer.Protocols) _listener.Handle(p, _server.HandleAsync);
    }

    /// <summary>The bound TCP endpoint (after <see cref="Start"/>).</summary>
    public IPEndPoint? LocalEndPoint => _listener.LocalEndPoint;

    /// <summary>The listener's counters (refusals by bound, failed upgrades, connections held).</summary>
    public Libp2pListener Listener => _listener;

    /// <summary>Peers whose exchange ended (whatever it learned).</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Connections that ended without a Status from the remote.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Peers dropped from <see cref="Peers"/> because nobody read them in time.</summary>
    public long PeersDropped => Interlocked.Read(ref _dropped);

    /// <summary>Every peer that connected, once its exchange ended.</summary>
    public ChannelReader<InboundPeer> Peers => _peers.Reader;

    public void Start(IPEndPoint bind)
    {
        _listener.Start(bind);
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    private PeerSession NewSession() => new(new StatusMessage(DefaultDigest(), Root.Zero, 0, Root.Zero, 0, 0), _dial.LocalMetaData);

    private ForkDigest DefaultDigest() =>
        _dial.DefaultNetwork is { } name && _dial.Registry.TryGet(name, out var network) ? network.GetCurrentDigest(_time.GetUtcNow()) : ForkDigest.Zero;

    private async Task AcceptLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            Libp2pConnection connection;
            try
            {
                connection = await _listener.AcceptAsync(_cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
            {
                return;
            }
            var task = Task.Run(() => ServeAsync(connection));
            lock (_serving)
            {
                _serving.RemoveAll(t => t.IsCompleted);
                _serving.Add(task);
            }
        }
    }

    private async Task ServeAsync(Libp2pConnection connection)
    {
        var session = NewSession();
        _sessions[connection] = session;
        long started = _time.GetTimestamp();
        var result = new BeaconDialResult { Outcome = DialOutcome.Other, PeerId = connection.RemotePeerId.ToString(), Muxer = connection.Muxer };
        using var lifetime = new StepTimer(_options.MaxConnectionLifetime, _time, _cts.Token);
        var ct = lifetime.Token;
        try
        {
            var identifyTask = IdentifyAsync(connection, ct);
            using (var wait = new StepTimer(_options.RemoteStatusWait, _time, ct))
                await Task.WhenAny(session.RemoteStatusRequested, wait.Expired).ConfigureAwait(false);
            var client = new ReqRespClient(
                OpenedStream.Over(connection), _reqResp, _logger, _time);
            var status = await client.StatusAsync(_ => session.LocalStatus, ct).ConfigureAwait(false);
            if (status.Ok)
            {
                result = result with { Outcome = DialOutcome.Ok, Status = status.Value, StatusVersion = Eth2Protocols.StatusVersion(status.Protocol!) };
                var md = await client.MetaDataAsync(ct).ConfigureAwait(false);
                result = md.Ok ? result with { MetaData = md.Value, MetaDataVersion = Eth2Protocols.MetaDataVersion(md.Protocol!) } : result with { MetaDataError = md.Detail ?? md.Failure.ToString() };
            }
            else
            {
                result = result with { Outcome = DialOutcome.Other, FailedStep = BeaconDialStep.Status, Error = $"{status.Failure}: {status.Detail}" };
            }
            var (identify, identifyError) = await identifyTask.ConfigureAwait(false);
            result = identify is null ? result with { IdentifyError = identifyError } : result with
            {
                AgentVersion = identify.AgentVersion,
                ProtocolVersion = identify.ProtocolVersion,
                Protocols = identify.Protocols,
                ListenAddrs = identify.ListenAddrs,
                ObservedAddr = identify.ObservedAddr,
            };
            using var linger = new StepTimer(_options.Linger, _time, ct);
            await Task.WhenAny(connection.Completion, linger.Expired).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            result = result with { Outcome = DialOutcome.Timeout, Error = result.Error ?? $"connection lifetime ({_options.MaxConnectionLifetime}) or shutdown" };
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // remote misbehaviour that escaped a step's own handling: the peer is still reported with what we learned
            LogServeFailed(_logger, connection.RemoteEndPoint, e.Message);
            result = result with { Outcome = DialOutcome.Other, Error = e.Message };
        }
        finally
        {
            _sessions.TryRemove(connection, out _);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        result = result with { Duration = _time.GetElapsedTime(started), GoodbyeReason = session.GoodbyeReason, RemoteStatusRequest = session.RemoteStatusRequest };
        Interlocked.Increment(ref _served);
        if (result.Status is null) Interlocked.Increment(ref _failed);
        if (!_peers.Writer.TryWrite(new InboundPeer(connection.RemoteEndPoint, connection.RemotePublicKey.Data.ToArray(), result, _time.GetUtcNow())))
            Interlocked.Increment(ref _dropped);
        else if (_peers.Reader.Count >= MaxQueuedPeers) Interlocked.Increment(ref _dropped);
    }

    private async Task<(Libp2p.IdentifyInfo? Info, string? Error)> IdentifyAsync(Libp2pConnection connection, CancellationToken ct)
    {
        using var linked = new StepTimer(_dial.IdentifyTimeout, _time, ct);
        try
        {
            return (await connection.IdentifyAsync(linked.Token).ConfigureAwait(false), null);
        }
        catch (DialException e)
        {
            return (null, $"{e.Class}: {e.Detail}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, "identify timed out");
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidDataException or OperationCanceledException)
        {
            return (null, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        Task[] serving;
        lock (_serving) serving = [.. _serving];
        await Task.WhenAll(serving).ConfigureAwait(false);
        await _listener.DisposeAsync().ConfigureAwait(false);
        _peers.Writer.TryComplete();
        _cts.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "inbound connection from {Remote} failed: {Error}")]
    private static partial void LogServeFailed(ILogger logger, IPEndPoint remote, string error);
}
