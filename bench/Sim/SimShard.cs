using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery;
using ClP2p.Eth2.ReqResp;
using ClP2p.Libp2p;
using ClP2p.Libp2p.Crypto;

namespace ClP2p.Sim;

/// <summary>
/// The nodes of one simulator process: live nodes with index % workers == shard (each our own <see cref="Discv5Node"/>
/// on its own 127.x.y.z address, and for those that take TCP our libp2p listener with the eth2 req/resp server) and the
/// silent endpoints of dead records with endpoint % workers == shard.
/// </summary>
public sealed class SimShard : IAsyncDisposable
{
    private readonly Population _pop;
    private readonly int _shard, _workers;
    private readonly DelayLine _line = new();
    private readonly SharedTickTimeProvider _time = new();
    private readonly List<Discv5Node> _nodes = [];
    private readonly List<Link> _links = [];
    private readonly List<Socket> _sockets = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly CancellationTokenSource _cts = new();
    private long _connections, _upgradeFailures;

    public SimShard(Population population, int shard, int workers)
    {
        _pop = population;
        _shard = shard;
        _workers = workers;
    }

    /// <summary>Unix time (ms) when the bootnode sent its first packet (its answer to the crawler's first one).</summary>
    public TaskCompletionSource<long> FirstBootnodePacket { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Population Population => _pop;

    public long DatagramsSent => _line.Sent;
    public long DatagramsLost => _line.Lost;
    public long DatagramsFailed => _line.Failed;
    public DelayLine Line => _line;
    public long Connections => Interlocked.Read(ref _connections);
    public long UpgradeFailures => Interlocked.Read(ref _upgradeFailures);

    public async Task StartAsync()
    {
        var o = _pop.Options;
        foreach (var r in _pop.Records)
        {
            if (!r.IsLive || r.Index % _workers != _shard) continue;
            var link = new Link(r.RttMs, o.Jitter, o.Loss);
            Action? first = r.Index == 0 ? () => FirstBootnodePacket.TrySetResult(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()) : null;
            var node = new Discv5Node(new Discv5Options
            {
                PrivateKey = r.PrivateKey,
                BindEndPoint = new IPEndPoint(r.Ip, r.Udp),
                ExtraEnrEntries = r.Entries,
                ReceiveBufferSize = 0,
                SendBufferSize = 0,
                LivenessInterval = TimeSpan.Zero,
                // one handler loop per simulated node: a node serves one crawler, and thousands share two cores
                HandlerShards = 1,
                // the portable receive loop: the batching one is a thread per node, and ten thousand threads woken one
                // datagram at a time took more of the two cores than the crawler under measurement
                PortableReceive = true,
                Sender = new LinkSender(link, _line, first),
                // the delay is the node's own (a loaded node answers late), so its WHOAREYOU leaves it a whole delay
                // after the challenge was made: counted from then, a 2 s lifetime expired before the crawler's
                // handshake could arrive from any node slower than 2 s, which no crawler could then ever enter
                ChallengeTimeout = TimeSpan.FromSeconds(2) + link.MaxDelay,
            }, time: _time);
            await node.StartAsync().ConfigureAwait(false);
            _nodes.Add(node);
            _links.Add(link);
            if (!node.LocalEnr.Raw.Span.SequenceEqual(r.Enr.Raw.Span))
                throw new InvalidOperationException($"node {r.Index}: its own record differs from the planned one");
            foreach (var bucket in r.Table!)
                if (bucket != null)
                    foreach (int j in bucket) node.AddToTable(_pop.Records[j].Enr);
            switch (r.Kind)
            {
                case NodeKind.Dialable:
                case NodeKind.NoEth2Protocols:
                    StartListener(r, link);
                    break;
                case NodeKind.TcpSilent:
                    await StartSilentTcpAsync(new IPEndPoint(r.Ip, r.Tcp!.Value)).ConfigureAwait(false);
                    break;
                default:
                    break; // TcpClosed, NoEth2Field: nothing listens on TCP
            }
        }
        for (int e = _shard; e < _pop.EndpointCount; e += _workers)
        {
            var ip = Population.Address(o.IpOctet, _pop.Options.Live + e);
            // UDP: bound, never read (datagrams pile up in a small buffer, then the kernel drops them)
            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4096 };
            udp.Bind(new IPEndPoint(ip, o.Port));
            _sockets.Add(udp);
            await StartSilentTcpAsync(new IPEndPoint(ip, o.Port)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A TCP endpoint that drops SYNs as a vanished host does: a listener with a backlog of 0 whose one accept slot we
    /// fill ourselves and never accept, so the kernel drops every further SYN and a dial ends only by its timeout.
    /// </summary>
    private async Task StartSilentTcpAsync(IPEndPoint ep)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(ep);
        listener.Listen(0);
        _sockets.Add(listener);
        var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(filler);
        await filler.ConnectAsync(ep).ConfigureAwait(false);
    }

    private void StartListener(SimRecord r, Link link)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(r.Ip, r.Tcp!.Value));
        socket.Listen(512);
        _sockets.Add(socket);
        _acceptLoops.Add(Task.Run(() => AcceptLoopAsync(r, link, socket)));
    }

    private async Task AcceptLoopAsync(SimRecord r, Link link, Socket socket)
    {
        Libp2pListener? listener = null;
        while (!_cts.IsCancellationRequested)
        {
            Socket client;
            try { client = await socket.AcceptAsync(_cts.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { break; }
            client.NoDelay = true;
            listener ??= CreateListener(r);
            _ = ServeAsync(listener, client, link);
        }
        if (listener != null) await listener.DisposeAsync().ConfigureAwait(false);
    }

    private static readonly TimeSpan PatientTimeout = TimeSpan.FromSeconds(30);

    private static Libp2pListener CreateListener(SimRecord r)
    {
        // patient: with a slow node's 1-3 s round trips
        // our default 5 s per step would make the simulated side give up first, and the crawler would be measured on that
        var listener = new Libp2pListener(new Libp2pOptions
        {
            Identity = Identity.FromSecp256k1PrivateKey(r.PrivateKey),
            AgentVersion = r.Agent ?? "unknown",
            HandshakeTimeout = PatientTimeout,
            StreamTimeout = PatientTimeout,
        });
        if (r.Kind == NodeKind.Dialable)
        {
            var status = r.Status!;
            var meta = r.MetaData!;
            var server = new ReqRespServer(_ => null, () => new PeerSession(status, meta) { EchoRemoteStatus = false });
            foreach (var p in ReqRespServer.Protocols) listener.Handle(p, server.HandleAsync);
        }
        return listener;
    }

    private async Task ServeAsync(Libp2pListener listener, Socket client, Link link)
    {
        Interlocked.Increment(ref _connections);
        var remote = (IPEndPoint)client.RemoteEndPoint!;
        var stream = new DelayedStream(new NetworkStream(client, ownsSocket: true), link);
        Libp2pConnection? connection = null;
        try
        {
            connection = await listener.UpgradeInboundAsync(stream, remote, _cts.Token).ConfigureAwait(false);
            await connection.Completion.WaitAsync(_cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DialException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            if (connection is null) Interlocked.Increment(ref _upgradeFailures);
        }
        finally
        {
            if (connection != null) await connection.DisposeAsync().ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Debugging a crawl: SIM_NODE_STATS=PATH writes each node's discv5 counters to PATH.SHARD when the
    /// simulator stops (node id, received, sent, handshakes in, drops by reason).</summary>
    private void WriteNodeStats(string path)
    {
        using var w = new StreamWriter(path);
        for (int i = 0; i < _nodes.Count; i++)
        {
            var (n, link) = (_nodes[i], _links[i]);
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{n.LocalId} rx={n.PacketsReceived} tx={n.PacketsSent} lost={link.DatagramsLost} send_failed={link.DatagramsFailed} hs_in={n.HandshakesInbound} {string.Join(' ', n.DropCounts.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key}={kv.Value}"))}"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        if (Environment.GetEnvironmentVariable("SIM_NODE_STATS") is { Length: > 0 } statsPath) WriteNodeStats($"{statsPath}.{_shard}");
        foreach (var s in _sockets) s.Dispose();
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        foreach (var n in _nodes) await n.DisposeAsync().ConfigureAwait(false);
        _line.Dispose();
        _time.Dispose();
        _cts.Dispose();
    }
}
