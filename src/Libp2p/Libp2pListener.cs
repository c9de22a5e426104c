using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Codecs;
using Microsoft.Extensions.Logging;

namespace ClP2p.Libp2p;

/// <summary>
/// Bounds on what a listener open to anyone accepts, as any public service: connections at once in total and per
/// remote IP, new connections per IP per second (go-libp2p's resource manager and connection gater, Lighthouse's
/// per-IP peer limits, do the same). A connection over a bound is closed at once, before any handshake.
/// </summary>
public sealed record InboundLimits
{
    /// <summary>Connections held at once (upgrading or upgraded).</summary>
    public int MaxConnections { get; init; } = 256;

    /// <summary>Connections held at once from one IP address.</summary>
    public int MaxConnectionsPerIp { get; init; } = 4;

    /// <summary>New connections accepted from one IP address per second (a token bucket of this size, refilled at this rate).</summary>
    public int MaxNewConnectionsPerIpPerSecond { get; init; } = 4;

    /// <summary>No bounds (tests and benchmarks that open many connections from loopback on purpose).</summary>
    public static InboundLimits Unbounded { get; } = new() { MaxConnections = int.MaxValue, MaxConnectionsPerIp = int.MaxValue, MaxNewConnectionsPerIpPerSecond = int.MaxValue };
}

/// <summary>Why the listener closed a connection without serving it.</summary>
public enum InboundRefusal
{
    TooManyConnections,
    TooManyFromIp,
    RateLimited,
}

/// <summary>
/// Accepts TCP connections and runs the responder side of the upgrade. Upgraded connections are handed out by
/// <see cref="AcceptAsync"/> (at most <see cref="InboundLimits.MaxConnections"/> wait there); failed upgrades are counted
/// and logged; connections over the <see cref="InboundLimits"/> are closed at once and counted by reason.
/// </summary>
public sealed class Libp2pListener : IAsyncDisposable
{
    private readonly Libp2pHost _host;
    private readonly InboundLimits _limits;
    private readonly Channel<Libp2pConnection> _accepted;
    private readonly CancellationTokenSource _cts = new();
    private readonly List<Libp2pConnection> _connections = [];
    private readonly Dictionary<IPAddress, int> _perIp = [];
    private readonly Dictionary<IPAddress, (double Tokens, long At)> _buckets = [];
    private readonly long[] _refused = new long[3];
    private int _open;
    private long _upgradeFailures;
    private readonly HashSet<Task> _upgrades = [];
    private Socket? _socket;
    private Task _acceptLoop = Task.CompletedTask;

    public Libp2pListener(Libp2pOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, Libp2pMetrics? metrics = null, InboundLimits? limits = null)
    {
        _host = new Libp2pHost(options, loggerFactory, time, metrics);
        _limits = limits ?? InboundLimits.Unbounded;
        _accepted = Channel.CreateBounded<Libp2pConnection>(new BoundedChannelOptions(Math.Clamp(_limits.MaxConnections, 1, 4096)) { FullMode = BoundedChannelFullMode.Wait });
    }

    public PeerId PeerId => _host.Options.Identity.PeerId;

    public IPEndPoint? LocalEndPoint { get; private set; }

    /// <summary>Connections held now (upgrading, waiting in <see cref="AcceptAsync"/>, or served).</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Connections closed at once for a bound, by reason.</summary>
    public long Refused(InboundRefusal reason) => Interlocked.Read(ref _refused[(int)reason]);

    /// <summary>Connections whose upgrade (Noise, muxer) failed or timed out.</summary>
    public long UpgradeFailures => Interlocked.Read(ref _upgradeFailures);

    /// <summary>Raised on the accept loop for each connection closed at once for a bound, after it was counted and
    /// before it is closed (a handler must return at once).</summary>
    public event Action<IPEndPoint, InboundRefusal>? ConnectionRefused;

    /// <summary>Raised when a connection's place is freed (its upgrade failed, or it ended), after
    /// <see cref="OpenConnections"/> and the per-IP count were lowered (a handler must return at once).</summary>
    public event Action<IPEndPoint>? ConnectionReleased;

    public void Handle(string protocol, StreamHandler handler) => _host.Handle(protocol, handler);

    /// <summary>Binds (port 0 picks a free one) and starts accepting. An IPv6 wildcard bind accepts IPv4 too (dual mode).</summary>
    public void Start(IPEndPoint bind)
    {
        ArgumentNullException.ThrowIfNull(bind);
        _socket = new Socket(bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (bind.AddressFamily == AddressFamily.InterNetworkV6 && bind.Address.Equals(IPAddress.IPv6Any)) _socket.DualMode = true;
        _socket.Bind(bind);
        _socket.Listen(128);
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _host.ListenAddrs = [Multiaddr.FromTcpEndPoint(LocalEndPoint)];
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Waits for the next upgraded inbound connection. The caller owns it; disposing it frees its place.</summary>
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
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // a connection reset before we accepted it (or out of descriptors): not the listener's end
                _host.Logger.LogDebug("accept failed: {Error}", e.SocketErrorCode);
                continue;
            }
            var remote = (IPEndPoint)client.RemoteEndPoint!;
            var ip = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
            if (Admit(ip) is { } refusal)
            {
                Interlocked.Increment(ref _refused[(int)refusal]);
                _host.Metrics.Dial("inbound_" + refusal, "accept");
                // before the close: whoever sees the connection end can count on the event having been raised
                ConnectionRefused?.Invoke(new IPEndPoint(ip, remote.Port), refusal);
                client.Dispose();
                continue;
            }
            client.NoDelay = true;
            var upgrade = Task.Run(() => UpgradeClientAsync(client, new IPEndPoint(ip, remote.Port)));
            lock (_upgrades) _upgrades.Add(upgrade);
            _ = upgrade.ContinueWith(static (t, s) =>
            {
                var upgrades = (HashSet<Task>)s!;
                lock (upgrades) upgrades.Remove(t);
            }, _upgrades, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>Takes a place for a new connection from <paramref name="ip"/>, or says which bound refuses it.</summary>
    private InboundRefusal? Admit(IPAddress ip)
    {
        lock (_perIp)
        {
            long now = _host.Time.GetTimestamp();
            double rate = _limits.MaxNewConnectionsPerIpPerSecond;
            var (tokens, at) = _buckets.TryGetValue(ip, out var b) ? b : (rate, now);
            tokens = Math.Min(rate, tokens + _host.Time.GetElapsedTime(at, now).TotalSeconds * rate);
            if (_open >= _limits.MaxConnections) return InboundRefusal.TooManyConnections;
            if (_perIp.TryGetValue(ip, out int n) && n >= _limits.MaxConnectionsPerIp) return InboundRefusal.TooManyFromIp;
            if (tokens < 1)
            {
                _buckets[ip] = (tokens, now);
                return InboundRefusal.RateLimited;
            }
            // buckets of quiet IPs are full again after a second: forget them rather than grow without bound
            if (_buckets.Count > 16_384) foreach (var k in _buckets.Where(kv => _host.Time.GetElapsedTime(kv.Value.At, now) > TimeSpan.FromSeconds(1)).Select(kv => kv.Key).ToList()) _buckets.Remove(k);
            _buckets[ip] = (tokens - 1, now);
            _perIp[ip] = n + 1;
            _open++;
            return null;
        }
    }

    private void Release(IPEndPoint remote)
    {
        lock (_perIp)
        {
            _open--;
            if (_perIp.TryGetValue(remote.Address, out int n) && n > 1) _perIp[remote.Address] = n - 1; else _perIp.Remove(remote.Address);
        }
        ConnectionReleased?.Invoke(remote);
    }

    private async Task UpgradeClientAsync(Socket client, IPEndPoint remote)
    {
        var stream = new NetworkStream(client, ownsSocket: true);
        Libp2pConnection connection;
        try
        {
            connection = await _host.UpgradeAsync(stream, initiator: false, remote, null, _cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DialException or OperationCanceledException)
        {
            Interlocked.Increment(ref _upgradeFailures);
            _host.Logger.LogDebug("inbound upgrade from {Remote} failed: {Reason}", remote, e.Message);
            await stream.DisposeAsync().ConfigureAwait(false);
            Release(remote);
            return;
        }
        lock (_connections) _connections.Add(connection);
        // the place is freed when the connection ends, whoever ends it
        _ = connection.Completion.ContinueWith(_ =>
        {
            lock (_connections) _connections.Remove(connection);
            Release(remote);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            await _accepted.Writer.WriteAsync(connection, _cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        _socket?.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        // upgrades under way end on the cancellation (never on a timer: a test's fake clock may never fire one)
        Task[] upgrades;
        lock (_upgrades) upgrades = [.. _upgrades];
        await Task.WhenAll(upgrades).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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
        while (_accepted.Reader.TryRead(out var waiting)) await waiting.DisposeAsync().ConfigureAwait(false);
        _host.Dispose();
        _cts.Dispose();
    }
}
