using ClP2p.Eth2.Ssz;
using ClP2p.Libp2p;
using ClP2p.Libp2p.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Eth2.ReqResp;

/// <summary>
/// An outbound stream and the protocol id negotiated on it, or (<see cref="Stream"/> null) the <see cref="Failure"/> an
/// opener returns instead of throwing (a node refusing our protocols is an ordinary answer).
/// </summary>
public readonly record struct OpenedStream(Libp2pStream? Stream, string Protocol)
{
    public DialException? Failure { get; init; }

    public static OpenedStream Failed(DialException failure) => new(null, "") { Failure = failure };

    /// <summary>The opener over a libp2p connection: <see cref="Libp2pConnection.TryOpenRequestStreamAsync(IReadOnlyList{string}, Func{string, ReadOnlyMemory{byte}}, CancellationToken)"/>
    /// (lazy multistream-select: the proposal, the request and the FIN in one write).</summary>
    public static StreamOpener Over(Libp2pConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return async (protocols, request, ct) =>
        {
            var opened = await connection.TryOpenRequestStreamAsync(protocols, request, ct).ConfigureAwait(false);
            return opened.Value is { } s ? new OpenedStream(s, s.Protocol) : Failed(opened.Error!);
        };
    }
}

/// <summary>
/// Opens an outbound stream for the first of <paramref name="protocols"/> the remote accepts, writes
/// <paramref name="request"/> (the request as it goes on the wire, built for that protocol; may be empty) and closes the
/// write side: the stream comes back with the response next to read. A failure is thrown or returned as
/// <see cref="OpenedStream.Failed"/>.
/// </summary>
public delegate Task<OpenedStream> StreamOpener(IReadOnlyList<string> protocols, Func<string, ReadOnlyMemory<byte>> request, CancellationToken ct);

public enum ReqRespFailure
{
    None,
    /// <summary>The remote refused every proposed protocol id (multistream "na").</summary>
    ProtocolNotSupported,
    Timeout,
    /// <summary>The stream or connection was reset.</summary>
    Reset,
    /// <summary>The remote closed the stream before a complete response.</summary>
    Eof,
    /// <summary>The response broke the ssz_snappy or SSZ rules (see <see cref="ReqRespResult{T}.DecodeError"/>).</summary>
    Malformed,
    /// <summary>The remote answered with a non-zero result code (see <see cref="ReqRespResult{T}.ResultCode"/>).</summary>
    ErrorResponse,
    Other,
}

/// <summary>The outcome of one request: the value, or why there is none.</summary>
public sealed record ReqRespResult<T>(
    T? Value,
    string? Protocol,
    ReqRespFailure Failure,
    ReqRespError DecodeError = ReqRespError.None,
    byte? ResultCode = null,
    string? ErrorMessage = null,
    string? Detail = null)
{
    public bool Ok => Failure == ReqRespFailure.None;

    public static ReqRespResult<T> Success(T value, string protocol) => new(value, protocol, ReqRespFailure.None);

    public override string ToString() => Ok ? $"{Protocol}: {Value}" : $"{Protocol ?? "?"}: {Failure} {DecodeError} {ResultCode} {ErrorMessage ?? Detail}";
}

public sealed class ReqRespOptions
{
    /// <summary>One generous deadline per request, from opening the stream to the end of the response (TTFB_TIMEOUT/RESP_TIMEOUT were dropped, consensus-specs #3767; clients keep ~10 s per stream, lighthouse #7925).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>After the single response chunk, how long to wait for the remote's EOF before accepting the response anyway.</summary>
    public TimeSpan EndOfStreamGrace { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// The requesting side of eth2 req/resp (phase0/p2p-interface.md "Requesting side") over libp2p streams: one stream per
/// request, the request written then the write side closed (with the stream's negotiation, by the <see cref="StreamOpener"/>),
/// a single response chunk read and then EOF expected.
/// At most MAX_CONCURRENT_REQUESTS (2) requests per protocol are in flight.
/// </summary>
public sealed class ReqRespClient
{
    private readonly StreamOpener _open;
    private readonly ReqRespOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, SemaphoreSlim> _limits = new(StringComparer.Ordinal)
    {
        ["status"] = new(Eth2Protocols.MaxConcurrentRequests),
        ["metadata"] = new(Eth2Protocols.MaxConcurrentRequests),
        ["ping"] = new(Eth2Protocols.MaxConcurrentRequests),
        ["goodbye"] = new(Eth2Protocols.MaxConcurrentRequests),
    };

    public ReqRespClient(StreamOpener open, ReqRespOptions? options = null, ILogger? logger = null, TimeProvider? time = null)
    {
        _open = open ?? throw new ArgumentNullException(nameof(open));
        _options = options ?? new ReqRespOptions();
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// Status: proposes status/2 then status/1; <paramref name="ourStatus"/> gets the negotiated version (1 or 2) and
    /// returns the status to send. The result is the REMOTE's status.
    /// </summary>
    public Task<ReqRespResult<StatusMessage>> StatusAsync(Func<int, StatusMessage> ourStatus, CancellationToken ct) =>
        RequestAsync("status", Eth2Protocols.Status,
            protocol =>
            {
                int version = Eth2Protocols.StatusVersion(protocol);
                var s = ourStatus(version);
                return (version == 1 ? s.AsV1() : s.AsV2()).Encode();
            },
            (protocol, ssz) => StatusMessage.TryDecode(ssz, Eth2Protocols.StatusVersion(protocol), out var s, out _) ? s : null,
            ct);

    /// <summary>GetMetaData: proposes metadata/3 then metadata/2; the request has no body at all.</summary>
    public Task<ReqRespResult<MetaDataMessage>> MetaDataAsync(CancellationToken ct) =>
        RequestAsync("metadata", Eth2Protocols.MetaData,
            _ => null,
            (protocol, ssz) => MetaDataMessage.TryDecode(ssz, Eth2Protocols.MetaDataVersion(protocol), out var m, out _) ? m : null,
            ct);

    /// <summary>Ping with our metadata seq number; the result is the remote's seq number.</summary>
    public Task<ReqRespResult<ulong?>> PingAsync(ulong ourSeqNumber, CancellationToken ct) =>
        RequestAsync<ulong?>("ping", [Eth2Protocols.PingV1],
            _ => SszUInt64.Encode(ourSeqNumber),
            (protocol, ssz) => SszUInt64.TryDecode(ssz, out var v, out var _) ? v : null,
            ct);

    /// <summary>
    /// Goodbye: writes the reason and closes the write side. Peers usually close without answering, so EOF or a
    /// reset after the request counts as success; a response chunk, if any, is read and ignored.
    /// </summary>
    public async Task<ReqRespResult<ulong?>> GoodbyeAsync(ulong reason, CancellationToken ct)
    {
        var limit = _limits["goodbye"];
        using var deadline = new StepTimer(_options.RequestTimeout, _time, ct);
        try
        {
            await limit.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ReqRespResult<ulong?>(null, null, ReqRespFailure.Timeout, Detail: "waited too long for a free goodbye request slot");
        }
        Libp2pStream? stream = null;
        try
        {
            var opened = await _open([Eth2Protocols.GoodbyeV1], _ => SszSnappy.EncodePayload(SszUInt64.Encode(reason)), deadline.Token).ConfigureAwait(false);
            if (opened.Stream is null) return Fail<ulong?>(opened.Failure ?? new DialException("stream opener returned no stream"), Eth2Protocols.GoodbyeV1);
            stream = opened.Stream;
            using var grace = new StepTimer(_options.EndOfStreamGrace, _time, ct);
            try
            {
                var buf = new byte[64];
                while (await stream.ReadAsync(buf, grace.Token).ConfigureAwait(false) > 0)
                {
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                // No answer is expected: the peer may close, reset or stay silent.
                SszSnappy.CountGraceExpired("goodbye_close");
                _logger.LogDebug("goodbye: no end of stream from the peer ({Error})", e.GetType().Name);
            }
            return ReqRespResult<ulong?>.Success(reason, Eth2Protocols.GoodbyeV1);
        }
        catch (Exception e) when (e is not OutOfMemoryException && !(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            return Fail<ulong?>(e, Eth2Protocols.GoodbyeV1);
        }
        finally
        {
            if (stream is not null) await stream.DisposeAsync().ConfigureAwait(false);
            limit.Release();
        }
    }

    private async Task<ReqRespResult<T>> RequestAsync<T>(
        string name,
        IReadOnlyList<string> protocols,
        Func<string, byte[]?> request,
        Func<string, byte[], T?> decode,
        CancellationToken ct)
    {
        var limit = _limits[name];
        using var deadline = new StepTimer(_options.RequestTimeout, _time, ct);
        try
        {
            await limit.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ReqRespResult<T>(default, null, ReqRespFailure.Timeout, Detail: $"waited too long for a free {name} request slot");
        }
        Libp2pStream? stream = null;
        string? protocol = null;
        bool clean = false;
        try
        {
            // The body may differ by protocol (Status v1 and v2): each proposal gets the request built for it.
            var opened = await _open(protocols, p => request(p) is { } body ? SszSnappy.EncodePayload(body) : ReadOnlyMemory<byte>.Empty, deadline.Token).ConfigureAwait(false);
            if (opened.Stream is null) return Fail<T>(opened.Failure ?? new DialException("stream opener returned no stream"), null);
            (stream, protocol) = (opened.Stream, opened.Protocol);

            var reader = new ReqRespStreamReader(stream);
            var (min, max) = Eth2Protocols.ResponseBounds(protocol);
            var chunk = await reader.ReadResponseChunkAsync(min, max, deadline.Token).ConfigureAwait(false);
            if (!chunk.Ok)
            {
                var failure = chunk.Error == ReqRespError.UnexpectedEof ? ReqRespFailure.Eof : ReqRespFailure.Malformed;
                _logger.LogDebug("{Protocol}: response rejected: {Error}", protocol, chunk.Error);
                return new ReqRespResult<T>(default, protocol, failure, chunk.Error, Detail: chunk.Error.ToString());
            }
            if (!chunk.Chunk.IsSuccess)
            {
                Ssz.ErrorMessage.TryDecode(chunk.Chunk.Payload, out var text, out _);
                return new ReqRespResult<T>(default, protocol, ReqRespFailure.ErrorResponse, ResultCode: chunk.Chunk.Result, ErrorMessage: text);
            }
            var value = decode(protocol, chunk.Chunk.Payload);
            if (value is null)
            {
                SszSnappy.Count(ReqRespError.InvalidSsz);
                return new ReqRespResult<T>(default, protocol, ReqRespFailure.Malformed, ReqRespError.InvalidSsz, Detail: "invalid SSZ");
            }

            // A single-chunk response ends with EOF; wait a little for it, and reject extra bytes.
            using var grace = new StepTimer(_options.EndOfStreamGrace, _time, deadline.Token);
            try
            {
                if (!await reader.IsAtEndAsync(grace.Token).ConfigureAwait(false))
                {
                    SszSnappy.Count(ReqRespError.TrailingBytes);
                    return new ReqRespResult<T>(default, protocol, ReqRespFailure.Malformed, ReqRespError.TrailingBytes, Detail: "bytes after the response chunk");
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException && !ct.IsCancellationRequested)
            {
                // No EOF within the grace period (or a reset after a complete chunk): the response stands.
                SszSnappy.CountGraceExpired("response_eof");
                _logger.LogDebug("{Protocol}: no end of stream after the response ({Error})", protocol, e.GetType().Name);
            }
            clean = true;
            return ReqRespResult<T>.Success(value, protocol);
        }
        catch (Exception e) when (e is not OutOfMemoryException && !(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            return Fail<T>(e, protocol);
        }
        finally
        {
            if (stream is not null)
            {
                // "If a timeout occurs or the response is no longer relevant, the requester SHOULD reset the stream."
                if (!clean) stream.Reset();
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            limit.Release();
        }
    }

    private ReqRespResult<T> Fail<T>(Exception e, string? protocol)
    {
        var failure = e switch
        {
            DialException { Class: DialErrorClass.ProtocolNotSupported } => ReqRespFailure.ProtocolNotSupported,
            DialException { Class: DialErrorClass.Timeout } => ReqRespFailure.Timeout,
            DialException { Class: DialErrorClass.Eof } => ReqRespFailure.Eof,
            DialException { Class: DialErrorClass.Reset or DialErrorClass.GoAway } => ReqRespFailure.Reset,
            DialException { Class: DialErrorClass.Malformed } => ReqRespFailure.Malformed,
            DialException => ReqRespFailure.Other,
            OperationCanceledException => ReqRespFailure.Timeout,
            EndOfStreamException => ReqRespFailure.Eof,
            IOException or ObjectDisposedException => ReqRespFailure.Reset,
            _ => ReqRespFailure.Other,
        };
        _logger.LogDebug("{Protocol}: request failed: {Failure} {Message}", protocol, failure, e.Message);
        return new ReqRespResult<T>(default, string.IsNullOrEmpty(protocol) ? null : protocol, failure, Detail: e is DialException de ? de.Detail : e.Message);
    }
}
