using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Codecs;
using Microsoft.Extensions.Logging;

namespace ClP2p.Libp2p;

/// <summary>
/// Accepts TCP connections and runs the responder side of the upgrade (for tests and benchmarks). Upgraded
/// connections are handed out by <see cref="AcceptAsync"/>; failed upgrades are counted and logged.
/// </summary>
public sealed class Libp2pListener : IAsyncDisposable
{
    private readonly Libp2pHost _host;
    private readonly Channel<Libp2pConnection> _accepted = Channel.CreateUnbounded<Libp2pConnection>();
    private readonly CancellationTokenSource _cts = new();
    private readonly List<Libp2pConnection> _connections = [];
    private Socket? _socket;
    private Task _acceptLoop = Task.CompletedTask;

    public Libp2pListener(Libp2pOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, Libp2pMetrics? metrics = null)
    {
        _host = new Libp2pHost(options, loggerFactory, time, metrics);
    }

    public PeerId PeerId => _host.Options.Identity.PeerId;

    public IPEndPoint? LocalEndPoint { get; private set; }

    public void Handle(string protocol, StreamHandler handler) => _host.Handle(protocol, handler);

    /// <summary>Binds (port 0 picks a free one) and starts accepting.</summary>
    public void Start(IPEndPoint bind)
    {
        ArgumentNullException.ThrowIfNull(bind);
        _socket = new Socket(bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _socket.Bind(bind);
        _socket.Listen(128);
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _host.ListenAddrs = [Multiaddr.FromTcpEndPoint(LocalEndPoint)];
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Waits for the next upgraded inbound connection.</summary>
    public ValueTask<Libp2pConnection> AcceptAsync(CancellationToken ct) => _accepted.Reader.ReadAsync(ct);

    /// <summary>Runs the listener-side upgrade over an existing byte stream (in-memory tests and benchmarks).</summary>
    public Task<Libp2pConnection> UpgradeInboundAsync(Stream raw, IPEndPoint remote, CancellationToken ct) =>
        _host.UpgradeAsync(raw, initiator: false, remote, null, ct);

    private async Task AcceptLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket!.AcceptAsync(_cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || _cts.IsCancellationRequested)
            {
                return;   // the listener is stopping
            }
            catch (SocketException e)
            {
                _host.Logger.LogWarning("accepting on {EndPoint} stopped: {Error}", LocalEndPoint, e.SocketErrorCode);
                return;
            }
            client.NoDelay = true;
            _ = Task.Run(() => UpgradeClientAsync(client));
        }
    }

    private async Task UpgradeClientAsync(Socket client)
    {
        var remote = (IPEndPoint)client.RemoteEndPoint!;
        var stream = new NetworkStream(client, ownsSocket: true);
        try
        {
            var connection = await _host.UpgradeAsync(stream, initiator: false, remote, null, _cts.Token).ConfigureAwait(false);
            lock (_connections)
            {
                _connections.Add(connection);
            }
            _accepted.Writer.TryWrite(connection);
        }
        catch (Exception e) when (e is DialException or OperationCanceledException)
        {
            _host.Logger.LogDebug("inbound upgrade from {Remote} failed: {Reason}", remote, e.Message);
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        _socket?.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        Libp2pConnection[] open;
        lock (_connections)
        {
            open = [.. _connections];
        }
        foreach (var c in open)
        {
            await c.DisposeAsync().ConfigureAwait(false);
        }
        _accepted.Writer.TryComplete();
        _host.Dispose();
        _cts.Dispose();
    }
}
