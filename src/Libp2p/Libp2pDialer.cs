using System.Net;
using System.Net.Sockets;
using ClP2p.Libp2p.Crypto;
using Microsoft.Extensions.Logging;

namespace ClP2p.Libp2p;

/// <summary>
/// Dials libp2p hosts over TCP: connect → multistream /noise → Noise XX → multistream muxer → yamux or mplex.
/// Inbound streams the remote opens on our connections go to the handlers (identify and ping are built in).
/// </summary>
public sealed class Libp2pDialer : IDisposable
{
    private readonly Libp2pHost _host;

    public Libp2pDialer(Libp2pOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, Libp2pMetrics? metrics = null)
    {
        _host = new Libp2pHost(options, loggerFactory, time, metrics);
    }

    public PeerId LocalPeerId => _host.Options.Identity.PeerId;

    public Libp2pOptions Options => _host.Options;

    /// <summary>Registers a handler for streams the remote opens with <paramref name="protocol"/> (replaces any previous one).</summary>
    public void Handle(string protocol, StreamHandler handler) => _host.Handle(protocol, handler);

    /// <summary>
    /// Connects and upgrades. When <paramref name="expectedPeer"/> is given, a different Noise identity fails with
    /// <see cref="DialErrorClass.PeerIdMismatch"/>. Every failure is a <see cref="DialException"/>; cancelling
    /// <paramref name="ct"/> throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task<Libp2pConnection> DialAsync(IPEndPoint endpoint, PeerId? expectedPeer, CancellationToken ct)
    {
        var stream = await ConnectAsync(endpoint, ct).ConfigureAwait(false);
        try
        {
            return await _host.UpgradeAsync(stream, initiator: true, endpoint, expectedPeer, ct).ConfigureAwait(false);
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
    public async Task<Stream> ConnectAsync(IPEndPoint endpoint, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var cts = _host.StepTimeout(_host.Options.ConnectTimeout, ct);
            await socket.ConnectAsync(endpoint, cts.Token).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (Exception e) when (!(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            socket.Dispose();
            var de = Libp2pHost.MapException(e, DialStep.Connect);
            _host.Metrics.Dial(de.Class.ToString(), DialStep.Connect.ToString());
            _host.Logger.LogDebug("connect to {Remote} failed: {Class}: {Reason}", endpoint, de.Class, de.Detail);
            throw de;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Runs the dialer-side upgrade over an existing byte stream (in-memory tests and benchmarks).</summary>
    public Task<Libp2pConnection> UpgradeOutboundAsync(Stream raw, IPEndPoint remote, PeerId? expectedPeer, CancellationToken ct) =>
        _host.UpgradeAsync(raw, initiator: true, remote, expectedPeer, ct);

    internal Libp2pHost Host => _host;

    public void Dispose() => _host.Dispose();
}
