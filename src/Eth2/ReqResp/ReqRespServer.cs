using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Ssz;
using ClP2p.Libp2p;
using ClP2p.Libp2p.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Eth2.ReqResp;

/// <summary>
/// What we know about one remote peer during a dial, shared by our requests and our answers to its requests:
/// the Status it sent us, the Goodbye it sent, and what we answer with.
/// </summary>
public sealed class PeerSession
{
    private readonly TaskCompletionSource<ulong> _goodbye = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<StatusMessage> _remoteStatusRequest = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private StatusMessage _localStatus;
    private int _inboundRequests;

    /// <param name="localStatus">The Status we answer with until the remote tells us its own (see <see cref="LocalStatus"/>).</param>
    /// <param name="localMetaData">Our MetaData (v3 form; served as v2 by dropping custody_group_count).</param>
    public PeerSession(StatusMessage localStatus, MetaDataMessage localMetaData)
    {
        _localStatus = localStatus;
        LocalMetaData = localMetaData;
    }

    /// <summary>
    /// The Status we send and serve. Starts as the caller's choice (fork digest mirrored from the ENR); once the remote
    /// has told us its Status (as a request or a response) we echo that back, so our answer always carries the remote's
    /// own fork digest and a checkpoint that is in its chain.
    /// </summary>
    public StatusMessage LocalStatus => Volatile.Read(ref _localStatus);

    public MetaDataMessage LocalMetaData { get; }

    /// <summary>The Status the remote sent as a request (inbound status stream), if any.</summary>
    public StatusMessage? RemoteStatusRequest => _remoteStatusRequest.Task.IsCompletedSuccessfully ? _remoteStatusRequest.Task.Result : null;

    /// <summary>Completes when the remote sends its Status as a request.</summary>
    public Task<StatusMessage> RemoteStatusRequested => _remoteStatusRequest.Task;

    /// <summary>Completes when the remote sends Goodbye; the value is its reason.</summary>
    public Task<ulong> Goodbye => _goodbye.Task;

    public ulong? GoodbyeReason => _goodbye.Task.IsCompletedSuccessfully ? _goodbye.Task.Result : null;

    /// <summary>Number of requests the remote made to us on this connection.</summary>
    public int InboundRequests => Volatile.Read(ref _inboundRequests);

    /// <summary>Adopts the remote's Status for our answers (see <see cref="LocalStatus"/>).</summary>
    public void LearnRemoteStatus(StatusMessage remote) => Volatile.Write(ref _localStatus, remote.AsV2());

    /// <summary>When true (the default), a Status request from the remote becomes our answer (echo).</summary>
    public bool EchoRemoteStatus { get; init; } = true;

    internal void OnRemoteStatusRequest(StatusMessage status)
    {
        _remoteStatusRequest.TrySetResult(status);
        if (EchoRemoteStatus) LearnRemoteStatus(status);
    }

    internal void OnGoodbye(ulong reason) => _goodbye.TrySetResult(reason);

    internal void OnInboundRequest() => Interlocked.Increment(ref _inboundRequests);
}

/// <summary>
/// The responding side of eth2 req/resp (phase0/p2p-interface.md "Responding side"): Status v1/v2, MetaData v2/v3,
/// Ping and Goodbye. Requests are read with the same bounds as responses; a malformed request is answered with
/// InvalidRequest and an ErrorMessage. Never throws for remote misbehaviour.
/// </summary>
public sealed class ReqRespServer
{
    private readonly Func<Libp2pConnection, PeerSession?> _lookup;
    private readonly Func<PeerSession> _fallback;
    private readonly ReqRespOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <param name="lookup">Finds the session of a connection (null when the connection is not one we track).</param>
    /// <param name="fallback">A session for untracked connections (answers with a default Status/MetaData).</param>
    public ReqRespServer(Func<Libp2pConnection, PeerSession?> lookup, Func<PeerSession> fallback, ReqRespOptions? options = null, ILogger? logger = null, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _lookup = lookup;
        _fallback = fallback;
        _options = options ?? new ReqRespOptions();
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The protocols this server answers, for <c>Libp2pDialer.Handle</c>.</summary>
    public static IReadOnlyList<string> Protocols => Eth2Protocols.All;

    /// <summary>The libp2p stream handler: dispatches on the negotiated protocol.</summary>
    public Task HandleAsync(Libp2pStream stream, Libp2pConnection connection, CancellationToken ct) =>
        HandleAsync(stream, stream.Protocol, _lookup(connection) ?? _fallback(), ct);

    public async Task HandleAsync(Libp2pStream stream, string protocol, PeerSession session, CancellationToken ct)
    {
        session.OnInboundRequest();
        using var deadline = new StepTimer(_options.RequestTimeout, _time, ct);
        try
        {
            var reader = new ReqRespStreamReader(stream);
            byte[]? request = null;
            if (Eth2Protocols.RequestBounds(protocol) is var (min, max))
            {
                var r = await reader.ReadPayloadAsync(min, max, deadline.Token).ConfigureAwait(false);
                if (!r.Ok)
                {
                    _logger.LogDebug("{Protocol}: invalid request: {Error}", protocol, r.Error);
                    await RespondAsync(stream, ResponseChunk.InvalidRequest, Ssz.ErrorMessage.Encode("invalid request: " + r.Error), deadline.Token).ConfigureAwait(false);
                    return;
                }
                request = r.Chunk.Payload;
            }
            // The requester half-closes after its request (some clients are late or never do: don't wait long).
            using (var grace = new StepTimer(_options.EndOfStreamGrace, _time, deadline.Token))
            {
                try
                {
                    if (!await reader.IsAtEndAsync(grace.Token).ConfigureAwait(false))
                    {
                        SszSnappy.Count(ReqRespError.TrailingBytes);
                        await RespondAsync(stream, ResponseChunk.InvalidRequest, Ssz.ErrorMessage.Encode("trailing bytes"), deadline.Token).ConfigureAwait(false);
                        return;
                    }
                }
                catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
                {
                    // The request is complete; a late or missing half-close is answered anyway.
                    SszSnappy.CountGraceExpired("request_eof");
                    _logger.LogDebug("{Protocol}: requester did not half-close within the grace period", protocol);
                }
            }

            switch (protocol)
            {
                case Eth2Protocols.StatusV1:
                case Eth2Protocols.StatusV2:
                {
                    int version = Eth2Protocols.StatusVersion(protocol);
                    if (!StatusMessage.TryDecode(request, version, out var remote, out _))
                    {
                        await RespondAsync(stream, ResponseChunk.InvalidRequest, Ssz.ErrorMessage.Encode("invalid status"), deadline.Token).ConfigureAwait(false);
                        return;
                    }
                    session.OnRemoteStatusRequest(remote);
                    var ours = session.LocalStatus;
                    await RespondAsync(stream, ResponseChunk.Success, (version == 1 ? ours.AsV1() : ours.AsV2()).Encode(), deadline.Token).ConfigureAwait(false);
                    break;
                }
                case Eth2Protocols.MetaDataV2:
                case Eth2Protocols.MetaDataV3:
                {
                    var md = session.LocalMetaData;
                    md = Eth2Protocols.MetaDataVersion(protocol) == 2 ? md with { CustodyGroupCount = null } : md with { CustodyGroupCount = md.CustodyGroupCount ?? 0 };
                    await RespondAsync(stream, ResponseChunk.Success, md.Encode(), deadline.Token).ConfigureAwait(false);
                    break;
                }
                case Eth2Protocols.PingV1:
                    await RespondAsync(stream, ResponseChunk.Success, SszUInt64.Encode(session.LocalMetaData.SeqNumber), deadline.Token).ConfigureAwait(false);
                    break;
                case Eth2Protocols.GoodbyeV1:
                    if (SszUInt64.TryDecode(request, out var reason, out _)) session.OnGoodbye(reason);
                    await stream.CloseWriteAsync(deadline.Token).ConfigureAwait(false);
                    break;
                default:
                    await RespondAsync(stream, ResponseChunk.InvalidRequest, Ssz.ErrorMessage.Encode("unsupported protocol"), deadline.Token).ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or DialException)
        {
            _logger.LogDebug("{Protocol}: serving failed: {Message}", protocol, e.Message);
            stream.Reset();
        }
    }

    private async Task RespondAsync(Libp2pStream stream, byte result, byte[] ssz, CancellationToken ct)
    {
        await stream.WriteAndCloseAsync(SszSnappy.EncodeResponseChunk(result, ssz), ct).ConfigureAwait(false);
        // Let the requester finish reading before the stream is disposed (a dispose with the remote's side still
        // open may reset the stream and drop the response): wait briefly for its EOF, discarding anything it sends.
        using var grace = new StepTimer(_options.EndOfStreamGrace, _time, ct);
        try
        {
            var sink = new byte[256];
            while (await stream.ReadAsync(sink, grace.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && !ct.IsCancellationRequested)
        {
            // The response is written; the requester's close is only waited for so that it can read it all.
            SszSnappy.CountGraceExpired("requester_close");
            _logger.LogDebug("no end of stream from the requester after our response ({Error})", e.GetType().Name);
        }
    }

    /// <summary>Our MetaData: no subnets, custody_group_count = CUSTODY_REQUIREMENT (4), the spec minimum.</summary>
    public static MetaDataMessage DefaultMetaData { get; } = new(0, default, default, 4);

    internal static AttestationSubnets NoSubnets => default;
}
