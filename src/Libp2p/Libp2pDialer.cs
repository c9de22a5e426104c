using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Transport;
using Microsoft.Extensions.Logging;

namespace ClP2p.Libp2p;

/// <summary>
/// Dials libp2p hosts over TCP: connect → multistream /noise → Noise XX → multistream muxer → yamux or mplex.
/// Inbound streams the remote opens on our connections go to the handlers (identify and ping are built in).
/// </summary>
public sealed class Libp2pDialer : IDisposable
{
    private readonly Libp2pHost _host;

    // per TCP endpoint: the connect under way, or the last one that failed (Libp2pOptions.ConnectFailureMemory)
    private readonly ConcurrentDictionary<IPEndPoint, EndpointConnect> _endpoints = new();
    private int _endpointsAdded;
    private long _connectsShared;

    public Libp2pDialer(Libp2pOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, Libp2pMetrics? metrics = null)
    {
        _host = new Libp2pHost(options, loggerFactory, time, metrics);
    }

    public PeerId LocalPeerId => _host.Options.Identity.PeerId;

    /// <summary>Dials that ended with the failure of another record's connect to the same endpoint, without a connect of
    /// their own (<see cref="Libp2pOptions.ConnectFailureMemory"/>).</summary>
    public long ConnectsShared => Interlocked.Read(ref _connectsShared);

    public Libp2pOptions Options => _host.Options;

    /// <summary>Registers a handler for streams the remote opens with <paramref name="protocol"/> (replaces any previous one).</summary>
    public void Handle(string protocol, StreamHandler handler) => _host.Handle(protocol, handler);

    /// <summary>
    /// Connects and upgrades. When <paramref name="expectedPeer"/> is given, a different Noise identity fails with
    /// <see cref="DialErrorClass.PeerIdMismatch"/>. Every failure is a <see cref="DialException"/>; cancelling
    /// <paramref name="ct"/> throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task<Libp2pConnection> DialAsync(IPEndPoint endpoint, PeerId? expectedPeer, CancellationToken ct) =>
        (await TryDialAsync(endpoint, expectedPeer, ct).ConfigureAwait(false)).GetValueOrThrow();

    /// <summary>
    /// <see cref="DialAsync"/> without throwing for a failed dial: the connection, or the <see cref="DialException"/>
    /// it would have thrown. Cancelling <paramref name="ct"/> still throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task<DialResult<Libp2pConnection>> TryDialAsync(IPEndPoint endpoint, PeerId? expectedPeer, CancellationToken ct)
    {
        var connected = await TryConnectAsync(endpoint, ct).ConfigureAwait(false);
        if (connected.Value is not { } stream)
        {
            return new DialResult<Libp2pConnection>(connected.Error!);
        }
        try
        {
            return new DialResult<Libp2pConnection>(await _host.UpgradeAsync(stream, initiator: true, endpoint, expectedPeer, ct).ConfigureAwait(false));
        }
        catch (DialException e)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            return new DialResult<Libp2pConnection>(e);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Opens the TCP connection alone, under <see cref="Libp2pOptions.ConnectTimeout"/>. A failure is a
    /// <see cref="DialException"/> at <see cref="DialStep.Connect"/> classified from the socket error; cancelling
    /// <paramref name="ct"/> throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task<Stream> ConnectAsync(IPEndPoint endpoint, CancellationToken ct) =>
        (await TryConnectAsync(endpoint, ct).ConfigureAwait(false)).GetValueOrThrow();

    /// <summary>
    /// <see cref="ConnectAsync"/> without throwing for a refused, unreachable or timed-out connect: the stream, or the
    /// <see cref="DialException"/> it would have thrown (counted and logged the same way). Cancelling
    /// <paramref name="ct"/> still throws <see cref="OperationCanceledException"/>. A connect to the same endpoint that
    /// failed within <see cref="Libp2pOptions.ConnectFailureMemory"/> answers for this one (its failure, said to be
    /// inferred), and one under way is waited for instead of a second connect.
    /// </summary>
    public async Task<DialResult<Stream>> TryConnectAsync(IPEndPoint endpoint, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (_host.Options.ConnectFailureMemory <= TimeSpan.Zero) return await ConnectOnceAsync(endpoint, ct).ConfigureAwait(false);
        EndpointConnect mine;
        while (true)
        {
            if (_endpoints.TryGetValue(endpoint, out var other))
            {
                var failure = await other.Outcome.Task.WaitAsync(ct).ConfigureAwait(false);
                var age = _host.Time.GetElapsedTime(other.EndedAt);
                if (failure is not null && age <= _host.Options.ConnectFailureMemory)
                {
                    _host.Metrics.Dial(failure.Class.ToString(), DialStep.Connect.ToString());
                    Interlocked.Increment(ref _connectsShared);
                    return new DialResult<Stream>(new DialException(failure.Class, DialStep.Connect,
                        $"{failure.Detail} (a dial of another record at this endpoint {age.TotalSeconds:0.0} s ago; not connected again)"));
                }
                // succeeded, given up by its caller, or too long ago: this dial connects for itself
                _endpoints.TryRemove(new KeyValuePair<IPEndPoint, EndpointConnect>(endpoint, other));
                if (failure is null) return await ConnectOnceAsync(endpoint, ct).ConfigureAwait(false);
                continue;
            }
            mine = new EndpointConnect();
            if (_endpoints.TryAdd(endpoint, mine)) break;
        }
        if (Interlocked.Increment(ref _endpointsAdded) % 4096 == 0) ForgetOldFailures();
        DialException? failed = null;
        try
        {
            var result = await ConnectOnceAsync(endpoint, ct).ConfigureAwait(false);
            failed = result.Error;
            return result;
        }
        finally
        {
            mine.EndedAt = _host.Time.GetTimestamp();
            // a success, a connect its caller gave up on, or a failure of our own side answers nobody else: its entry
            // goes at once
            if (failed is not null && !SaysSomethingOfTheEndpoint(failed)) failed = null;
            if (failed is null) _endpoints.TryRemove(new KeyValuePair<IPEndPoint, EndpointConnect>(endpoint, mine));
            mine.Outcome.TrySetResult(failed);
        }
    }

    /// <summary>A timeout, a refusal or an unreachable host is the endpoint's; a failure of this machine (no local port
    /// or address left, the network down, no buffers or descriptors) would fail every endpoint alike and is not kept.</summary>
    internal static bool SaysSomethingOfTheEndpoint(DialException failure) =>
        failure.Class is DialErrorClass.Timeout or DialErrorClass.Refused or DialErrorClass.Unreachable
        && failure.InnerException is not SocketException { SocketErrorCode: SocketError.AddressNotAvailable or SocketError.NetworkDown };

    /// <summary>Drops remembered failures older than <see cref="Libp2pOptions.ConnectFailureMemory"/>, every 4,096
    /// connects (a long run of dials would otherwise keep every endpoint that ever failed).</summary>
    private void ForgetOldFailures()
    {
        foreach (var (ep, c) in _endpoints)
        {
            if (c.Outcome.Task.IsCompleted && _host.Time.GetElapsedTime(c.EndedAt) > _host.Options.ConnectFailureMemory)
                _endpoints.TryRemove(new KeyValuePair<IPEndPoint, EndpointConnect>(ep, c));
        }
    }

    private sealed class EndpointConnect
    {
        /// <summary>The connect's failure, or null when it succeeded or its caller gave up on it.</summary>
        public readonly TaskCompletionSource<DialException?> Outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public long EndedAt;
    }

    private async Task<DialResult<Stream>> ConnectOnceAsync(IPEndPoint endpoint, CancellationToken ct)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SocketError error;
        bool aborted;
        try
        {
            using var timer = _host.StepTimeout(_host.Options.ConnectTimeout, ct);
            (error, aborted) = await TcpConnect.ConnectAsync(socket, endpoint, timer.Token, ct).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        if (!aborted && error == SocketError.Success)
        {
            return new DialResult<Stream>(new NetworkStream(socket, ownsSocket: true));
        }
        socket.Dispose();
        if (aborted)
        {
            ct.ThrowIfCancellationRequested(); // the caller's token, not the connect timeout
        }
        var de = aborted
            ? new DialException(DialErrorClass.Timeout, DialStep.Connect, "timed out")
            : Libp2pHost.FromSocketError(error, DialStep.Connect);
        _host.Metrics.Dial(de.Class.ToString(), DialStep.Connect.ToString());
        // guarded: the arguments are boxed into a new array on every call, logged or not (half a crawl's dials end here)
        if (_host.Logger.IsEnabled(LogLevel.Debug)) _host.Logger.LogDebug("connect to {Remote} failed: {Class}: {Reason}", endpoint, de.Class, de.Detail);
        return new DialResult<Stream>(de);
    }

    /// <summary>Runs the dialer-side upgrade over an existing byte stream (in-memory tests and benchmarks).</summary>
    public Task<Libp2pConnection> UpgradeOutboundAsync(Stream raw, IPEndPoint remote, PeerId? expectedPeer, CancellationToken ct) =>
        _host.UpgradeAsync(raw, initiator: true, remote, expectedPeer, ct);

    internal Libp2pHost Host => _host;

    public void Dispose() => _host.Dispose();
}
