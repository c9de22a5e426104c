using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery.Handler;
using Microsoft.Extensions.Logging;

namespace ClP2p.Discovery.Transport;

/// <summary>
/// The I/O layer: one UDP socket. Its receive loops hand each datagram, in a buffer rented from the shared pool, to
/// <c>dispatch</c> (which queues it on a handler shard's channel and owns the buffer from then on). Sends go straight
/// to the socket from the shard that encoded the packet: a UDP send is one atomic system call, safe from any thread,
/// and a send queue would only add a copy and a hop.
/// </summary>
internal sealed partial class Discv5Socket : IDisposable
{
    /// <summary>Datagrams are read into buffers this large: bigger than any valid packet (1280), so an oversized one
    /// is seen whole and counted as too large instead of truncated into something that parses.</summary>
    public const int ReceiveBufferBytes = 2048;

    /// <summary>
    /// Receive buffers, rented by the receive loops and returned by the handler shards once a datagram is handled: a
    /// pool of their own, because the shared pool keeps a few arrays per thread and core, and buffers that a receive
    /// loop rents and other threads return ran it dry (half the bytes a crawl allocated were new 2 KB arrays).
    /// </summary>
    public static readonly ArrayPool<byte> Buffers = ArrayPool<byte>.Create(ReceiveBufferBytes, 16_384);

    private readonly Socket _socket;
    private readonly ILogger _log;
    private readonly Discv5Counters _counters;
    private readonly IDatagramSender? _sender;
    private Task? _receiveLoops;

    public Discv5Socket(IPEndPoint bind, int receiveBufferSize, int sendBufferSize, ILogger log, Discv5Counters counters, IDatagramSender? sender = null)
    {
        _sender = sender;
        _log = log;
        _counters = counters;
        var s = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (bind.AddressFamily == AddressFamily.InterNetworkV6 && bind.Address.Equals(IPAddress.IPv6Any)) s.DualMode = true;
            SetBuffer(s, receiveBufferSize, receive: true);
            SetBuffer(s, sendBufferSize, receive: false);
            s.Bind(bind);
        }
        catch
        {
            s.Dispose();
            throw;
        }
        _socket = s;
        LocalEndPoint = (IPEndPoint)s.LocalEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Effective SO_RCVBUF (Linux reports twice the requested size).</summary>
    public int ReceiveBufferSize => _socket.ReceiveBufferSize;

    /// <summary>
    /// Datagrams the kernel dropped on this socket (its receive buffer full, or a bad checksum): the socket's own drop
    /// count (<c>SO_MEMINFO</c>'s <c>SK_MEMINFO_DROPS</c>, Linux 4.6+, socket(7)), else the <c>drops</c> column of its line
    /// in /proc/self/net/udp (or udp6), found by the socket's inode (proc(5)). Null where neither tells (not Linux).
    /// </summary>
    /// <remarks>The /proc table lists every UDP socket of the network namespace: on a host with tens of thousands of
    /// them (the simulator's, on loopback) one read of it took ~90 ms of CPU; the socket option reads one counter.</remarks>
    public long? KernelDrops()
    {
        try
        {
            return SocketMemInfoDrops(_socket) ?? ProcNetUdpDrops(_socket);
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
    }

    private const int SolSocket = 1, SoMemInfo = 55, SkMemInfoDrops = 8, SkMemInfoMinVars = 9;

    /// <summary>SK_MEMINFO_DROPS of <paramref name="socket"/> (include/uapi/linux/sock_diag.h); null where the option is
    /// unknown or too short (not Linux, or a kernel before 4.6).</summary>
    internal static long? SocketMemInfoDrops(Socket socket)
    {
        if (!OperatingSystem.IsLinux()) return null;
        Span<byte> info = stackalloc byte[sizeof(uint) * 16];
        try
        {
            int length = socket.GetRawSocketOption(SolSocket, SoMemInfo, info);
            if (length < sizeof(uint) * SkMemInfoMinVars) return null;
            return System.Runtime.InteropServices.MemoryMarshal.Read<uint>(info[(sizeof(uint) * SkMemInfoDrops)..]);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>The <c>drops</c> column of <paramref name="socket"/>'s line in /proc/self/net/udp (or udp6).</summary>
    internal static long? ProcNetUdpDrops(Socket socket)
    {
        try
        {
            string? link = new FileInfo($"/proc/self/fd/{socket.SafeHandle.DangerousGetHandle()}").LinkTarget;
            if (link is null || !link.StartsWith("socket:[", StringComparison.Ordinal)) return null;
            string inode = link["socket:[".Length..^1];
            string table = socket.AddressFamily == AddressFamily.InterNetworkV6 ? "/proc/self/net/udp6" : "/proc/self/net/udp";
            string marker = " " + inode + " ";
            foreach (string line in File.ReadLines(table))
            {
                if (!line.Contains(marker, StringComparison.Ordinal)) continue;
                // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length >= 13 && f[9] == inode && long.TryParse(f[12], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long drops))
                    return drops;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>Starts <paramref name="loops"/> receive loops on the socket (the kernel hands each datagram to one of
    /// them). <paramref name="dispatch"/> takes ownership of the rented buffer.</summary>
    public void Start(Action<byte[], int, IPEndPoint> dispatch, int loops, CancellationToken ct) =>
        _receiveLoops = UseNativeLoop
            ? StartNativeLoops(dispatch, Math.Max(1, loops), ct)
            : Task.WhenAll(Enumerable.Range(0, Math.Max(1, loops)).Select(_ => Task.Run(() => ReceiveLoopAsync(dispatch, ct), CancellationToken.None)));

    /// <summary>Completes when the receive loops have stopped (after cancellation or <see cref="Dispose"/>).</summary>
    public Task Stopped => _receiveLoops ?? Task.CompletedTask;

    private async Task ReceiveLoopAsync(Action<byte[], int, IPEndPoint> dispatch, CancellationToken ct)
    {
        var senders = new SenderEndpoints(_socket.AddressFamily);
        var received = senders.Received;
        while (!ct.IsCancellationRequested)
        {
            var buffer = Buffers.Rent(ReceiveBufferBytes);
            int length;
            try
            {
                received.Size = received.Buffer.Length;
                var receive = _socket.ReceiveFromAsync(buffer.AsMemory(0, ReceiveBufferBytes), SocketFlags.None, received, ct);
                if (!receive.IsCompleted)
                {
                    // nothing waited in the socket: everything that arrived before now has been read
                    Interlocked.Increment(ref _drained);
                }
                length = await receive.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                Buffers.Return(buffer);
                break;
            }
            catch (SocketException e)
            {
                // ICMP port unreachable of an earlier send surfaces here on some platforms: not a packet, keep going.
                Buffers.Return(buffer);
                LogSocketError(_log, e.SocketErrorCode);
                continue;
            }
            var from = senders.Resolve();
            if (DispatchGate is { } gate) await gate().ConfigureAwait(false);
            dispatch(buffer, length, from);
        }
    }

    /// <summary>
    /// One receive loop's senders: the address of each datagram is read into <see cref="Received"/> (or handed over as
    /// the kernel wrote it), and each distinct one becomes an IPEndPoint once (a crawl receives hundreds of thousands of
    /// datagrams from some tens of thousands of endpoints). Not shared between loops. Keyed by the address's bytes in a
    /// value: a <see cref="SocketAddress"/> key costs two interface calls per datagram (its hash and its equality).
    /// </summary>
    private sealed class SenderEndpoints(AddressFamily family)
    {
        private readonly IPEndPoint _template = family == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
        private readonly Dictionary<SenderKey, IPEndPoint> _endpoints = [];

        public SocketAddress Received { get; } = new(family);

        /// <summary>The endpoint of the address now in <see cref="Received"/> (IPv4-mapped addresses as IPv4).</summary>
        public IPEndPoint Resolve() => Resolve(Received.Buffer.Span[..Received.Size]);

        /// <summary>The endpoint of a sender's address as the kernel wrote it (a sockaddr of at most
        /// <see cref="SenderKey.MaxLength"/> bytes; a longer one is resolved without the cache).</summary>
        public IPEndPoint Resolve(ReadOnlySpan<byte> name)
        {
            bool cached = SenderKey.TryCreate(name, out var key);
            if (cached && _endpoints.TryGetValue(key, out var from)) return from;
            var sa = new SocketAddress(family, name.Length);
            name.CopyTo(sa.Buffer.Span);
            from = (IPEndPoint)_template.Create(sa);
            if (from.Address.IsIPv4MappedToIPv6) from = new IPEndPoint(from.Address.MapToIPv4(), from.Port);
            if (!cached) return from;
            if (_endpoints.Count >= MaxCachedEndpoints) _endpoints.Clear();
            _endpoints[key] = from;
            return from;
        }
    }

    /// <summary>A sender's socket address (sockaddr_in, 16 bytes, or sockaddr_in6, 28) as a value, zero-padded; the length
    /// is part of it.</summary>
    private readonly struct SenderKey : IEquatable<SenderKey>
    {
        public const int MaxLength = 32;
        private readonly ulong _a, _b, _c, _d;

        private SenderKey(ulong a, ulong b, ulong c, ulong d)
        {
            _a = a;
            _b = b;
            _c = c;
            _d = d;
        }

        public static bool TryCreate(ReadOnlySpan<byte> name, out SenderKey key)
        {
            key = default;
            if (name.Length > MaxLength - 1) return false;
            Span<byte> padded = stackalloc byte[MaxLength];
            padded.Clear();
            name.CopyTo(padded);
            padded[MaxLength - 1] = (byte)name.Length;
            key = new SenderKey(
                BinaryPrimitives.ReadUInt64LittleEndian(padded),
                BinaryPrimitives.ReadUInt64LittleEndian(padded[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(padded[16..]),
                BinaryPrimitives.ReadUInt64LittleEndian(padded[24..]));
            return true;
        }

        public bool Equals(SenderKey other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

        public override bool Equals(object? obj) => obj is SenderKey k && Equals(k);

        // an IPv4 sender's port and address are in the first word, an IPv6 sender's address in the second and third
        public override int GetHashCode() => HashCode.Combine(_a, _b, _c, _d);
    }

    /// <summary>Endpoints remembered per receive loop, and socket addresses for sends (each cache is cleared when full).</summary>
    private const int MaxCachedEndpoints = 65_536;

    private readonly ConcurrentDictionary<IPEndPoint, SocketAddress> _sendAddresses = new();
    private int _sendAddressCount;

    private SocketAddress SendAddress(IPEndPoint to)
    {
        if (_sendAddresses.TryGetValue(to, out var sa)) return sa;
        if (Interlocked.Increment(ref _sendAddressCount) > MaxCachedEndpoints)
        {
            _sendAddresses.Clear();
            Volatile.Write(ref _sendAddressCount, 1);
        }
        // a dual-mode socket sends to IPv4 as mapped addresses
        sa = _socket.AddressFamily == AddressFamily.InterNetworkV6 && to.AddressFamily == AddressFamily.InterNetwork
            ? new IPEndPoint(to.Address.MapToIPv6(), to.Port).Serialize()
            : to.Serialize();
        _sendAddresses[to] = sa;
        return sa;
    }

    private long _drained;

    /// <summary>Tests: awaited by a receive loop between reading a datagram and handing it on, to hold it as a
    /// stalled process would (what arrives meanwhile stays in the socket).</summary>
    internal Func<Task>? DispatchGate { get; set; }

    /// <summary>How many times a receive loop found the socket empty: when it has moved on from a value read earlier,
    /// every datagram that arrived before that read has been read and dispatched.</summary>
    public long Drained => Interlocked.Read(ref _drained);

    /// <summary>Whether a datagram waits in the socket, not yet read (FIONREAD), or read in a batch of the native
    /// receive loop and not yet handed on.</summary>
    public bool HasUnread
    {
        get
        {
            if (Volatile.Read(ref _undispatched) > 0) return true;
            Interlocked.Increment(ref _unreadQueries);
            try
            {
                return _socket.Available > 0;
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return false;
            }
        }
    }

    /// <summary>Times <see cref="HasUnread"/> asked the kernel (FIONREAD).</summary>
    public long UnreadQueries => Interlocked.Read(ref _unreadQueries);

    private long _unreadQueries;

    /// <summary>System calls that sent datagrams: one per datagram sent alone, one per batch (<see cref="SendBatch"/>).</summary>
    public long SendCalls => Interlocked.Read(ref _sendCalls);

    private long _sendCalls;

    public void Send(ReadOnlySpan<byte> packet, IPEndPoint to)
    {
        try
        {
            if (_sender is { } sender) sender.Send(_socket, packet, to);
            else _socket.SendTo(packet, SocketFlags.None, SendAddress(to));
            Interlocked.Increment(ref _counters.Sent);
            Interlocked.Increment(ref _sendCalls);
            Discv5Metrics.PacketsSent.Add(1);
        }
        catch (SocketException e)
        {
            Interlocked.Increment(ref _counters.SendErrors);
            LogSendError(_log, to, e.SocketErrorCode);
        }
        catch (ObjectDisposedException)
        {
            // the node is shutting down: the packet is not sent, and nobody waits for its answer any more
            Interlocked.Increment(ref _counters.SendErrors);
        }
    }

    /// <summary>
    /// The UDP endpoint of a record this socket can reach. IPv4 socket: ip/udp. IPv6-only socket: ip6/udp6. Dual-mode
    /// socket: ip/udp when the record has it (the same choice as <see cref="Enr.UdpEndPoint"/>, so the address policy and
    /// the socket agree on the endpoint of a dual-stack record), else ip6/udp6.
    /// </summary>
    public IPEndPoint? EndpointFor(Enr enr)
    {
        IPEndPoint? v4 = enr.UdpV4EndPoint is { Port: > 0 } e4 ? e4 : null;
        IPEndPoint? v6 = enr.UdpV6EndPoint is { Port: > 0 } e6 ? e6 : null;
        if (_socket.AddressFamily == AddressFamily.InterNetwork) return v4;
        return _socket.DualMode ? v4 ?? v6 : v6;
    }

    /// <summary>True when the socket can send to IPv6 addresses.</summary>
    public bool HasIPv6 => _socket.AddressFamily == AddressFamily.InterNetworkV6;

    private void SetBuffer(Socket s, int size, bool receive)
    {
        if (size <= 0) return;
        // Linux caps SO_RCVBUF at net.core.rmem_max; SO_RCVBUFFORCE (33) / SO_SNDBUFFORCE (32) bypass it when privileged.
        if (OperatingSystem.IsLinux())
        {
            try
            {
                s.SetRawSocketOption(1, receive ? 33 : 32, BitConverter.GetBytes(size));
                return;
            }
            catch (SocketException e)
            {
                LogBufferForceRefused(_log, receive ? "SO_RCVBUFFORCE" : "SO_SNDBUFFORCE", e.SocketErrorCode);
            }
        }
        try
        {
            if (receive) s.ReceiveBufferSize = size; else s.SendBufferSize = size;
        }
        catch (SocketException e)
        {
            LogBufferRefused(_log, size, e.SocketErrorCode);
            return;
        }
        // capped without a word by the system's maximum (Linux reports twice what it grants): say so once, for a
        // receive buffer, whose overflow loses answers (counted at a crawl's end)
        if (receive && OperatingSystem.IsLinux() && s.ReceiveBufferSize < size) LogReceiveBufferCapped(_log, s.ReceiveBufferSize / 2, size);
    }

    public void Dispose()
    {
        // the native loops hold the descriptor open while they run: wake them first, or closing would wait on them
        if (_nativeLoops) StopNativeLoops();
        _socket.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "socket receive error {Error}")]
    private static partial void LogSocketError(ILogger logger, SocketError error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "send to {To} failed: {Error}")]
    private static partial void LogSendError(ILogger logger, IPEndPoint to, SocketError error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Option} refused ({Error}, unprivileged): falling back to the capped size")]
    private static partial void LogBufferForceRefused(ILogger logger, string option, SocketError error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "UDP receive buffer capped at {Granted} bytes of the {Asked} asked for: a crawl's bursts of answers may overflow it (the crawl's end counts the datagrams the kernel dropped); raise net.core.rmem_max (sysctl -w net.core.rmem_max=67108864) or run with CAP_NET_ADMIN")]
    private static partial void LogReceiveBufferCapped(ILogger logger, int granted, int asked);

    [LoggerMessage(Level = LogLevel.Warning, Message = "socket buffer of {Size} bytes refused ({Error}): keeping the system default")]
    private static partial void LogBufferRefused(ILogger logger, int size, SocketError error);
}
