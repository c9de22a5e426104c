using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Multistream;
using ClP2p.Libp2p.Mplex;
using ClP2p.Libp2p.Noise;
using ClP2p.Libp2p.Protocols;
using ClP2p.Libp2p.Transport;
using ClP2p.Libp2p.Yamux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Libp2p;

/// <summary>
/// What dialer and listener share: our identity and Noise key, stream handlers, and the connection upgrade
/// (multistream → Noise → multistream → yamux/mplex), each step under its own timeout.
/// </summary>
internal sealed class Libp2pHost : IDisposable
{
    private readonly ConcurrentDictionary<string, StreamHandler> _handlers = new(StringComparer.Ordinal);

    public Libp2pHost(Libp2pOptions options, ILoggerFactory? loggerFactory, TimeProvider? time, Libp2pMetrics? metrics)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Identity);
        if (options.Muxers.Count == 0 || options.Muxers.Any(m => m is not (YamuxSession.ProtocolId or MplexSession.ProtocolId)))
        {
            throw new ArgumentException($"muxers must be a non-empty subset of {YamuxSession.ProtocolId}, {MplexSession.ProtocolId}", nameof(options));
        }
        Options = options;
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        Logger = LoggerFactory.CreateLogger("ClP2p.Libp2p");
        Time = time ?? TimeProvider.System;
        Metrics = metrics ?? Libp2pMetrics.Shared;
        Noise = new NoiseLocalIdentity(options.Identity);
        _handlers[Identify.ProtocolId] = Identify.HandleAsync;
        _handlers[Ping.ProtocolId] = Ping.HandleAsync;
    }

    public Libp2pOptions Options { get; }

    public ILoggerFactory LoggerFactory { get; }

    // one per muxer for the host's lifetime: a factory's CreateLogger takes a lock and formats the type's name, once per
    // connection it was ~0.2 % of a simulated crawl's CPU (a benign race may create one twice)
    private ILogger? _yamuxLogger, _mplexLogger;

    public ILogger Logger { get; }

    public TimeProvider Time { get; }

    public Libp2pMetrics Metrics { get; }

    public NoiseLocalIdentity Noise { get; }

    /// <summary>Addresses we announce in identify (the listener sets its own).</summary>
    public IReadOnlyList<byte[]> ListenAddrs { get; set; } = [];

    /// <summary>Test hook: replaces the Noise ephemeral key generator.</summary>
    internal Func<X25519KeyPair>? EphemeralFactory { get; set; }

    public ICollection<string> Protocols => _handlers.Keys;

    public void Handle(string protocol, StreamHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(protocol);
        ArgumentNullException.ThrowIfNull(handler);
        _handlers[protocol] = handler;
    }

    public bool TryGetHandler(string protocol, out StreamHandler? handler) => _handlers.TryGetValue(protocol, out handler);

    /// <summary>A token cancelled after <paramref name="timeout"/> on <see cref="Time"/> or when <paramref name="ct"/> is.</summary>
    public StepTimer StepTimeout(TimeSpan timeout, CancellationToken ct) => new(timeout, Time, ct);

    /// <summary>Our multistream header and <c>/noise</c> proposal: a dialer's first write, with Noise message 1.</summary>
    private static readonly byte[] NoiseProposal = MultistreamSelect.EncodeProposal(NoiseSecurity.ProtocolId);

    /// <summary>Upgrades a raw byte stream to a libp2p connection. Throws <see cref="DialException"/>.</summary>
    /// <remarks>
    /// As dialer, <c>/noise</c> is selected lazily: the multistream header, the proposal and Noise message 1 leave in one
    /// write, and the echo is read before message 2 (rust-libp2p #1212, its <c>V1Lazy</c>; libp2p/specs #643). A remote
    /// that refuses <c>/noise</c> costs the connection either way (there is no other security protocol to propose), and
    /// is still told apart (<see cref="DialErrorClass.SecurityNegotiation"/>). It saved a TCP write and a round trip per
    /// dial. Negotiation and handshake read the transport through a <see cref="ReadAheadStream"/>: one read takes what
    /// has arrived, instead of a read per varint, message and length prefix.
    /// </remarks>
    public async Task<Libp2pConnection> UpgradeAsync(Stream raw, bool initiator, IPEndPoint remote, PeerId? expectedPeer, CancellationToken ct)
    {
        var step = DialStep.SecurityNegotiation;
        var ahead = new ReadAheadStream(raw);
        try
        {
            NoiseStream secure;
            PublicKey remoteKey;
            if (initiator)
            {
                // the echo under the negotiation's timeout, then the handshake under its own, as when they were apart
                using var cts = StepTimeout(Options.HandshakeTimeout, ct);
                // Our message 3 leaves with the muxer proposal, in one TCP write (the proposal follows it at once anyway).
                (secure, remoteKey) = await NoiseSecurity.HandshakeAsync(ahead, initiator, Noise, cts.Token, EphemeralFactory, holdLastMessage: true,
                    firstWritePrefix: NoiseProposal,
                    beforeFirstRead: async t =>
                    {
                        await ExpectNoiseEchoAsync(ahead, t).ConfigureAwait(false);
                        step = DialStep.NoiseHandshake;
                        cts.TryRestart(Options.HandshakeTimeout);
                    }).ConfigureAwait(false);
            }
            else
            {
                using (var cts = StepTimeout(Options.HandshakeTimeout, ct))
                {
                    try
                    {
                        // our header at once, before the dialer's (a raw client learns it reached a libp2p listener)
                        await MultistreamSelect.HandleAsync(ahead, p => p == NoiseSecurity.ProtocolId, cts.Token).ConfigureAwait(false);
                    }
                    catch (NegotiationException e)
                    {
                        throw new DialException(e.Failure == NegotiationFailure.Malformed ? DialErrorClass.Malformed : DialErrorClass.SecurityNegotiation, step, e.Message);
                    }
                }
                step = DialStep.NoiseHandshake;
                using (var cts = StepTimeout(Options.HandshakeTimeout, ct))
                {
                    (secure, remoteKey) = await NoiseSecurity.HandshakeAsync(ahead, initiator, Noise, cts.Token, EphemeralFactory).ConfigureAwait(false);
                }
            }
            var remotePeer = PeerId.FromPublicKey(remoteKey);
            if (expectedPeer is { IsEmpty: false } expected && expected != remotePeer)
            {
                throw new DialException(DialErrorClass.PeerIdMismatch, step, $"expected {expected}, remote is {remotePeer}");
            }

            step = DialStep.MuxerNegotiation;
            string muxer;
            using (var cts = StepTimeout(Options.HandshakeTimeout, ct))
            {
                try
                {
                    muxer = initiator
                        ? await MultistreamSelect.SelectAsync(secure, Options.Muxers, cts.Token).ConfigureAwait(false)
                        // inside Noise our header leaves with the answer to the dialer's first proposal, in one write,
                        // as our listener does on streams and rust-libp2p's does (rust-libp2p #1212; a dialer sends its
                        // header and proposal without waiting for ours): one TCP segment fewer for the dialer to take
                        : await MultistreamSelect.HandleAsync(secure, Options.Muxers.Contains, cts.Token, headerWithAnswer: true).ConfigureAwait(false);
                }
                catch (NegotiationException e)
                {
                    throw new DialException(e.Failure == NegotiationFailure.Malformed ? DialErrorClass.Malformed : DialErrorClass.MuxerNegotiation, step, e.Message);
                }
            }
            var logger = muxer == YamuxSession.ProtocolId
                ? _yamuxLogger ??= LoggerFactory.CreateLogger(typeof(YamuxSession))
                : _mplexLogger ??= LoggerFactory.CreateLogger(typeof(MplexSession));
            MuxerSession session = muxer == YamuxSession.ProtocolId
                ? new YamuxSession(secure, initiator, logger, Metrics, Time)
                : new MplexSession(secure, initiator, logger, Metrics, Time);
            var connection = new Libp2pConnection(this, session, remoteKey, remote, initiator);
            session.Start(connection.HandleInboundAsync);
            Metrics.Dial("ok", "done");
            return connection;
        }
        catch (Exception e) when (e is not DialException && !(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            var de = MapException(e, step);
            RecordFailure(de, remote);
            throw de;
        }
        catch (DialException e)
        {
            RecordFailure(e, remote);
            throw;
        }
        finally
        {
            ahead.Dispose();   // its buffer; the transport is the secure stream's, or the caller's on a failure
        }
    }

    /// <summary>The remote's answer to our lazy <c>/noise</c> proposal: the echo, or a <see cref="DialException"/> at
    /// <see cref="DialStep.SecurityNegotiation"/>.</summary>
    private static async Task ExpectNoiseEchoAsync(Stream stream, CancellationToken ct)
    {
        bool accepted;
        try
        {
            accepted = await MultistreamSelect.ReadLazyAnswerAsync(stream, NoiseSecurity.ProtocolId, ct).ConfigureAwait(false);
        }
        catch (NegotiationException e)
        {
            throw new DialException(e.Failure == NegotiationFailure.Malformed ? DialErrorClass.Malformed : DialErrorClass.SecurityNegotiation, DialStep.SecurityNegotiation, e.Message);
        }
        if (!accepted) throw new DialException(DialErrorClass.SecurityNegotiation, DialStep.SecurityNegotiation, $"remote refused {NoiseSecurity.ProtocolId}");
    }

    private void RecordFailure(DialException e, IPEndPoint remote)
    {
        Metrics.Dial(e.Class.ToString(), e.Step.ToString());
        if (e.Class is DialErrorClass.Malformed or DialErrorClass.NoiseFailure)
        {
            Metrics.MalformedFrame(e.Step.ToString(), e.Class.ToString());
        }
        Logger.LogDebug("upgrade with {Remote} failed at {Step}: {Class}: {Reason}", remote, e.Step, e.Class, e.Detail);
    }

    /// <summary>Maps transport exceptions to a dial error class.</summary>
    public static DialException MapException(Exception e, DialStep step)
    {
        switch (e)
        {
            case DialException de:
                return de;
            case OperationCanceledException:
                return new DialException(DialErrorClass.Timeout, step, "timed out", e);
            case NegotiationException ne:
                return new DialException(
                    ne.Failure switch
                    {
                        NegotiationFailure.NotSupported => DialErrorClass.ProtocolNotSupported,
                        NegotiationFailure.Malformed => DialErrorClass.Malformed,
                        _ => DialErrorClass.Other,
                    }, step, ne.Message, e);
            case EndOfStreamException:
                return new DialException(DialErrorClass.Eof, step, "remote closed the connection", e);
            case InvalidDataException:
                return new DialException(DialErrorClass.NoiseFailure, step, e.Message, e);
            case SocketException se:
                return FromSocket(se, step);
            case IOException { InnerException: SocketException se }:
                return FromSocket(se, step);
            case IOException:
            case ObjectDisposedException:
                return new DialException(DialErrorClass.Reset, step, e.Message, e);
            default:
                return new DialException(DialErrorClass.Other, step, e.Message, e);
        }
    }

    /// <summary>Maps a socket error that was reported, not thrown (a connect's completion), as <see cref="MapException"/> maps the exception.</summary>
    public static DialException FromSocketError(SocketError error, DialStep step) => FromSocket(new SocketException((int)error), step);

    private static DialException FromSocket(SocketException se, DialStep step) => new(
        se.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => DialErrorClass.Refused,
            SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown => DialErrorClass.Reset,
            SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostDown or SocketError.NetworkDown
                or SocketError.AddressNotAvailable => DialErrorClass.Unreachable,
            SocketError.TimedOut => DialErrorClass.Timeout,
            _ => DialErrorClass.Other,
        }, step, se.Message, se);

    public void Dispose() => Noise.Dispose();
}
