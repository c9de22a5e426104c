using System.Net;
using System.Security.Cryptography;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Multistream;
using ClP2p.Libp2p.Protocols;
using ClP2p.Libp2p.Transport;
using Microsoft.Extensions.Logging;

namespace ClP2p.Libp2p;

/// <summary>An upgraded libp2p connection (secured by Noise, multiplexed by yamux or mplex).</summary>
public sealed class Libp2pConnection : IAsyncDisposable
{
    private readonly MuxerSession _session;
    private readonly CancellationTokenSource _closing = new();
    private int _disposed;

    internal Libp2pConnection(Libp2pHost host, MuxerSession session, PublicKey remoteKey, IPEndPoint remote, bool isInitiator)
    {
        Host = host;
        _session = session;
        RemotePublicKey = remoteKey;
        RemotePeerId = PeerId.FromPublicKey(remoteKey);
        RemoteEndPoint = remote;
        IsInitiator = isInitiator;
    }

    internal Libp2pHost Host { get; }

    public PeerId RemotePeerId { get; }

    public PublicKey RemotePublicKey { get; }

    /// <summary>The negotiated muxer protocol id ("/yamux/1.0.0" or "/mplex/6.7.0").</summary>
    public string Muxer => _session.Protocol;

    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>True when we dialled.</summary>
    public bool IsInitiator { get; }

    public PeerId LocalPeerId => Host.Options.Identity.PeerId;

    /// <summary>Completes when the connection closes (remote close, reset, GoAway, or our dispose).</summary>
    public Task Completion => _session.Completion;

    public bool IsClosed => _session.IsClosed;

    /// <summary>
    /// Opens a stream and negotiates the first protocol the remote accepts, in order. Throws <see cref="DialException"/>
    /// (<see cref="DialErrorClass.ProtocolNotSupported"/> when all are refused; Timeout after <see cref="Libp2pOptions.StreamTimeout"/>).
    /// </summary>
    public Task<Libp2pStream> OpenStreamAsync(IReadOnlyList<string> protocols, CancellationToken ct) => OpenStreamAsync(protocols, DialStep.Stream, ct);

    internal async Task<Libp2pStream> OpenStreamAsync(IReadOnlyList<string> protocols, DialStep step, CancellationToken ct) =>
        (await TryOpenStreamAsync(protocols, step, ct).ConfigureAwait(false)).GetValueOrThrow();

    /// <summary>
    /// <see cref="OpenStreamAsync(IReadOnlyList{string}, CancellationToken)"/> without throwing for a failure: the
    /// stream, or the <see cref="DialException"/> it would have thrown. A remote that refuses every protocol (a node
    /// without them) is answered without any exception thrown. Cancelling <paramref name="ct"/> still throws.
    /// </summary>
    public Task<DialResult<Libp2pStream>> TryOpenStreamAsync(IReadOnlyList<string> protocols, CancellationToken ct) => TryOpenStreamAsync(protocols, DialStep.Stream, ct);

    internal async Task<DialResult<Libp2pStream>> TryOpenStreamAsync(IReadOnlyList<string> protocols, DialStep step, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(protocols);
        using var cts = Host.StepTimeout(Host.Options.StreamTimeout, ct);
        MuxedStream? stream = null;
        try
        {
            stream = await _session.OpenStreamAsync(cts.Token).ConfigureAwait(false);
            var (accepted, refused) = await MultistreamSelect.TrySelectAsync(stream, protocols, cts.Token).ConfigureAwait(false);
            if (accepted is null)
            {
                stream.Reset();
                return new DialResult<Libp2pStream>(Libp2pHost.MapException(refused!, step));
            }
            stream.Protocol = accepted;
            return new DialResult<Libp2pStream>(stream);
        }
        catch (Exception e) when (!(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            return StreamFailed(stream, e, step);
        }
    }

    /// <summary>Resets a stream whose opening failed and maps the failure (a reset because the connection closed says so).</summary>
    private DialResult<Libp2pStream> StreamFailed(MuxedStream? stream, Exception e, DialStep step)
    {
        stream?.Reset();
        var mapped = Libp2pHost.MapException(e, step);
        if (mapped.Class == DialErrorClass.Reset && _session.IsClosed)
        {
            mapped = new DialException(DialErrorClass.Reset, step, "connection closed: " + _session.CloseReason, e);
        }
        return new DialResult<Libp2pStream>(mapped);
    }

    /// <summary>
    /// Sends a whole request on a new stream for the first of <paramref name="protocols"/> the remote accepts, by lazy
    /// multistream-select: header, proposal, <paramref name="request"/> (built for the protocol proposed) and our FIN
    /// leave in one write, and the echo is read before the stream is returned, its write side closed and the response
    /// next to read. A protocol refused ("na") costs its stream (reset) and the next one is proposed on a new stream
    /// (counted as a fallback). The stream, or the <see cref="DialException"/> it would have thrown
    /// (<see cref="DialErrorClass.ProtocolNotSupported"/> when all are refused). Cancelling <paramref name="ct"/> throws.
    /// </summary>
    public Task<DialResult<Libp2pStream>> TryOpenRequestStreamAsync(IReadOnlyList<string> protocols, Func<string, ReadOnlyMemory<byte>> request, CancellationToken ct) =>
        TryOpenRequestStreamAsync(protocols, request, DialStep.Stream, ct);

    internal async Task<DialResult<Libp2pStream>> TryOpenRequestStreamAsync(IReadOnlyList<string> protocols, Func<string, ReadOnlyMemory<byte>> request, DialStep step, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(protocols);
        ArgumentNullException.ThrowIfNull(request);
        if (protocols.Count == 0)
        {
            throw new ArgumentException("no protocols to propose", nameof(protocols));
        }
        using var cts = Host.StepTimeout(Host.Options.StreamTimeout, ct);
        for (int i = 0; ; i++)
        {
            MuxedStream? stream = null;
            try
            {
                stream = await _session.OpenStreamAsync(cts.Token).ConfigureAwait(false);
                if (await MultistreamSelect.TrySelectLazyAsync(stream, protocols[i], request(protocols[i]), cts.Token).ConfigureAwait(false))
                {
                    stream.Protocol = protocols[i];
                    return new DialResult<Libp2pStream>(stream);
                }
            }
            catch (Exception e) when (!(e is OperationCanceledException && ct.IsCancellationRequested))
            {
                return StreamFailed(stream, e, step);
            }
            stream.Reset();
            if (i + 1 == protocols.Count)
            {
                var refused = new NegotiationException(NegotiationFailure.NotSupported, $"remote refused {string.Join(", ", protocols)}");
                return new DialResult<Libp2pStream>(Libp2pHost.MapException(refused, step));
            }
            Host.Metrics.LazySelectFallback(protocols[i]);
        }
    }

    /// <summary>
    /// Holds this connection's writes in memory until the returned handle is disposed, which sends them in one write:
    /// requests started together (identify and Status, MetaData and Ping) then share one Noise frame and one TCP write.
    /// Dispose it before waiting for any answer: nothing written under the hold leaves before.
    /// </summary>
    public async ValueTask<IAsyncDisposable> HoldWritesAsync(CancellationToken ct) =>
        await _session.HoldWritesAsync(ct).ConfigureAwait(false) ? new WriteHold(_session) : WriteHold.None;

    private sealed class WriteHold(MuxerSession? session) : IAsyncDisposable
    {
        public static readonly WriteHold None = new(null);

        private int _released;

        public ValueTask DisposeAsync() =>
            session is null || Interlocked.Exchange(ref _released, 1) != 0 ? ValueTask.CompletedTask : session.ReleaseWritesAsync();
    }

    /// <summary>Asks the remote for its identify record (/ipfs/id/1.0.0).</summary>
    public async Task<IdentifyInfo> IdentifyAsync(CancellationToken ct)
    {
        using var cts = Host.StepTimeout(Host.Options.StreamTimeout, ct);
        // The request is empty: proposal and FIN in one write (lazy multistream-select).
        var stream = (await TryOpenRequestStreamAsync([Identify.ProtocolId], _ => ReadOnlyMemory<byte>.Empty, DialStep.Identify, cts.Token).ConfigureAwait(false)).GetValueOrThrow();
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                return await Identify.ReadAsync(stream, cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (!(e is OperationCanceledException && ct.IsCancellationRequested))
            {
                var mapped = Libp2pHost.MapException(e, DialStep.Identify);
                if (mapped.Class == DialErrorClass.Malformed)
                {
                    Host.Metrics.MalformedFrame(Identify.ProtocolId, mapped.Detail);
                    Host.Logger.LogDebug("malformed identify from {Peer}: {Reason}", RemotePeerId, mapped.Detail);
                }
                throw mapped;
            }
        }
    }

    /// <summary>Sends one /ipfs/ping/1.0.0 round trip and returns its duration.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken ct)
    {
        using var cts = Host.StepTimeout(Host.Options.StreamTimeout, ct);
        var stream = await OpenStreamAsync([Ping.ProtocolId], DialStep.Stream, cts.Token).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                byte[] payload = RandomNumberGenerator.GetBytes(Ping.PayloadSize);
                byte[] echo = new byte[Ping.PayloadSize];
                long start = Host.Time.GetTimestamp();
                await stream.WriteAsync(payload, cts.Token).ConfigureAwait(false);
                await stream.ReadExactlyAsync(echo, cts.Token).ConfigureAwait(false);
                var elapsed = Host.Time.GetElapsedTime(start);
                await stream.CloseWriteAsync(cts.Token).ConfigureAwait(false);
                if (!payload.AsSpan().SequenceEqual(echo))
                {
                    throw new DialException(DialErrorClass.Malformed, DialStep.Stream, "ping echo differs");
                }
                return elapsed;
            }
            catch (Exception e) when (!(e is OperationCanceledException && ct.IsCancellationRequested))
            {
                throw Libp2pHost.MapException(e, DialStep.Stream);
            }
        }
    }

    private int _inboundStreams;
    private long _inboundStreamsRefused;

    /// <summary>Inbound streams reset because the remote already had <see cref="Libp2pOptions.MaxInboundStreamsPerConnection"/> open.</summary>
    public long InboundStreamsRefused => Interlocked.Read(ref _inboundStreamsRefused);

    internal async Task HandleInboundAsync(MuxedStream stream)
    {
        if (Interlocked.Increment(ref _inboundStreams) > Host.Options.MaxInboundStreamsPerConnection)
        {
            Interlocked.Decrement(ref _inboundStreams);
            Interlocked.Increment(ref _inboundStreamsRefused);
            Host.Metrics.MalformedFrame("inbound", "too_many_streams");
            stream.Reset();
            await stream.DisposeAsync().ConfigureAwait(false);
            return;
        }
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                await HandleInboundCoreAsync(stream).ConfigureAwait(false);
            }
            finally
            {
                // the place is free before the stream closes: a remote that sees its stream end may open the next one
                Interlocked.Decrement(ref _inboundStreams);
            }
        }
    }

    private async Task HandleInboundCoreAsync(MuxedStream stream)
    {
        var ct = _closing.Token;
        StreamHandler? handler;
        try
        {
            using var cts = Host.StepTimeout(Host.Options.StreamTimeout, ct);
            stream.Protocol = await MultistreamSelect.HandleAsync(stream, p => Host.TryGetHandler(p, out _), cts.Token, headerWithAnswer: true).ConfigureAwait(false);
            Host.TryGetHandler(stream.Protocol, out handler);
        }
        catch (Exception e) when (e is NegotiationException or IOException or OperationCanceledException or EndOfStreamException)
        {
            Host.Logger.LogDebug("inbound stream negotiation with {Peer} failed: {Reason}", RemotePeerId, e.Message);
            stream.Reset();
            return;
        }
        Host.Metrics.InboundStream(stream.Protocol);
        try
        {
            await handler!(stream, this, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Host.Logger.LogDebug(e, "handler for {Protocol} from {Peer} failed", stream.Protocol, RemotePeerId);
            stream.Reset();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _closing.CancelAsync().ConfigureAwait(false);
        await _session.DisposeAsync().ConfigureAwait(false);
        _closing.Dispose();
    }

    public override string ToString() => $"{RemotePeerId}@{RemoteEndPoint} ({Muxer})";
}
