using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace ClP2p.Discovery.Transport;

/// <summary>
/// The receive loops on 64-bit Linux: a thread of their own each, blocked in <c>recvmmsg(2)</c> with MSG_WAITFORONE,
/// which sleeps until a datagram arrives and then takes every datagram already queued, up to a batch, in the same
/// system call. The portable loop (<see cref="Socket.ReceiveFromAsync(Memory{byte}, SocketFlags, SocketAddress, CancellationToken)"/>)
/// costs, for each datagram that finds the socket empty, a failed read, the socket engine's epoll thread waking, and a
/// thread-pool worker woken to run the continuation: three system calls and two thread switches where this loop has
/// one and one, and under load one system call reads a whole batch. Measured against the simulator, the crawler's CPU
/// with either loop alone is the same within noise (docs/performance.md, "The simulator's own receive threads"); what
/// only this loop can do, wait a little after emptying the socket (<see cref="Discv5Options.ReceiveCoalescing"/>), took
/// ~9 % off ("Receive coalescing"). A process hosting thousands of nodes wants the portable loop
/// (<see cref="Discv5Options.PortableReceive"/>): this one is a thread per node.
/// </summary>
internal sealed partial class Discv5Socket
{
    /// <summary>Datagrams one <c>recvmmsg</c> call takes at most.</summary>
    private const int NativeBatch = 32;

    /// <summary>The batching loop is used on 64-bit Linux (the structure layouts below are LP64's), unless the node or
    /// the process asks for the portable loop.</summary>
    private bool UseNativeLoop =>
        !PortableReceive && OperatingSystem.IsLinux() && Environment.Is64BitProcess
        && Environment.GetEnvironmentVariable("CLP2P_DISCV5_PORTABLE_RECEIVE") != "1";

    /// <summary>Use the portable receive loop (see <see cref="Discv5Options.PortableReceive"/>).</summary>
    public bool PortableReceive { get; init; }

    /// <summary>How long the batching loop waits after emptying the socket (see <see cref="Discv5Options.ReceiveCoalescing"/>).</summary>
    public TimeSpan ReceiveCoalescing { get; init; }

    /// <summary><see cref="ReceiveCoalescing"/> in microseconds, or the environment's override; at most a second (a
    /// stopping node waits out the sleep).</summary>
    private uint CoalescingMicros =>
        (uint)Math.Clamp(
            uint.TryParse(Environment.GetEnvironmentVariable("CLP2P_DISCV5_RECEIVE_COALESCING_US"), out uint us) ? us : ReceiveCoalescing.TotalMicroseconds,
            0, 1_000_000);

    /// <summary>Receive calls that returned datagrams, over all loops (the batches the datagrams came in).</summary>
    public long ReceiveBatches => Interlocked.Read(ref _receiveBatches);

    private long _receiveBatches;

    private int _nativeStopping;

    // datagrams the receive threads have read in their current batches and not yet handed on: unread as far as the
    // timeouts are concerned (see HasUnread)
    private int _undispatched;

    private bool _nativeLoops;

    private Task StartNativeLoops(Action<byte[], int, IPEndPoint> dispatch, int loops, CancellationToken ct)
    {
        _nativeLoops = true;
        var done = new Task[loops];
        for (int i = 0; i < loops; i++)
        {
            var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            done[i] = finished.Task;
            var t = new Thread(() =>
            {
                try
                {
                    // a kernel or sandbox without recvmmsg (ENOSYS, or EPERM under a seccomp filter): the portable loop
                    if (!NativeReceiveLoop(dispatch)) ReceiveLoopAsync(dispatch, ct).GetAwaiter().GetResult();
                }
                finally
                {
                    finished.TrySetResult();
                }
            })
            {
                IsBackground = true,
                Name = "discv5-receive",
            };
            t.Start();
        }
        // cancellation wakes the blocked threads as closing the socket does
        ct.UnsafeRegister(static s => ((Discv5Socket)s!).StopNativeLoops(), this);
        return Task.WhenAll(done);
    }

    /// <summary>Wakes the receive threads for good: shutdown(SHUT_RD) ends a blocked <c>recvmmsg</c> (Linux wakes a
    /// socket's sleepers on shutdown, even an unconnected UDP socket's, though the call itself reports ENOTCONN).</summary>
    private void StopNativeLoops()
    {
        if (Interlocked.Exchange(ref _nativeStopping, 1) != 0) return;
        bool added = false;
        try
        {
            _socket.SafeHandle.DangerousAddRef(ref added);
            _ = Native.shutdown((int)_socket.SafeHandle.DangerousGetHandle(), Native.SHUT_RD);
        }
        catch (ObjectDisposedException)
        {
            // already closed: nothing is blocked in it any more
        }
        finally
        {
            if (added) _socket.SafeHandle.DangerousRelease();
        }
    }

    /// <summary>Receives until stopped; false at once when the kernel refuses recvmmsg itself.</summary>
    private unsafe bool NativeReceiveLoop(Action<byte[], int, IPEndPoint> dispatch)
    {
        var handle = _socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
        bool refused = false;
        int fd = (int)handle.DangerousGetHandle();
        // one native area per thread: the datagrams, their senders' addresses, and the headers that point at them
        byte* data = (byte*)NativeMemory.Alloc((nuint)(NativeBatch * ReceiveBufferBytes));
        byte* names = (byte*)NativeMemory.AllocZeroed((nuint)(NativeBatch * Native.SockAddrStorage));
        var iov = (Native.IoVec*)NativeMemory.AllocZeroed((nuint)(NativeBatch * sizeof(Native.IoVec)));
        var msgs = (Native.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(NativeBatch * sizeof(Native.MMsgHdr)));
        var senders = new SenderEndpoints(_socket.AddressFamily);
        uint coalesce = CoalescingMicros;
        int maxName = senders.Received.Buffer.Length;
        try
        {
            for (int i = 0; i < NativeBatch; i++)
            {
                iov[i].Base = data + i * ReceiveBufferBytes;
                iov[i].Length = ReceiveBufferBytes;
                msgs[i].Hdr.Name = names + i * Native.SockAddrStorage;
                msgs[i].Hdr.NameLength = Native.SockAddrStorage;
                msgs[i].Hdr.Iov = &iov[i];
                msgs[i].Hdr.IovLength = 1;
            }
            while (Volatile.Read(ref _nativeStopping) == 0)
            {
                int n = Native.recvmmsg(fd, msgs, NativeBatch, Native.MSG_WAITFORONE, null);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Native.EINTR) continue;
                    if (errno is Native.ENOSYS or Native.EPERM)
                    {
                        refused = true;
                        break;
                    }
                    if (errno is Native.EAGAIN)
                    {
                        // a non-blocking descriptor: wait for a datagram the other way
                        Interlocked.Increment(ref _drained);
                        var pfd = new Native.PollFd { Fd = fd, Events = Native.POLLIN };
                        _ = Native.poll(&pfd, 1, -1);
                        continue;
                    }
                    if (errno is Native.EBADF or Native.ENOTSOCK || Volatile.Read(ref _nativeStopping) != 0) break;
                    // an ICMP error of an earlier send (ECONNREFUSED and the like) surfaces here: not a packet, keep going
                    LogReceiveErrno(_log, errno);
                    continue;
                }
                if (n == 0)
                {
                    // shut down for reading
                    if (Volatile.Read(ref _nativeStopping) != 0) break;
                    continue;
                }
                Interlocked.Increment(ref _receiveBatches);
                Interlocked.Add(ref _undispatched, n);
                for (int i = 0; i < n; i++)
                {
                    Interlocked.Decrement(ref _undispatched);
                    int length = Math.Min((int)msgs[i].Length, ReceiveBufferBytes);
                    int nameLength = (int)msgs[i].Hdr.NameLength;
                    // the kernel wrote the sender's address length over the room given: give it back for the next call
                    msgs[i].Hdr.NameLength = Native.SockAddrStorage;
                    if (nameLength <= 0 || nameLength > maxName) continue;
                    var from = senders.Resolve(new ReadOnlySpan<byte>(names + i * Native.SockAddrStorage, nameLength));
                    var buffer = Buffers.Rent(ReceiveBufferBytes);
                    new ReadOnlySpan<byte>(data + i * ReceiveBufferBytes, length).CopyTo(buffer);
                    if (DispatchGate is { } gate) gate().GetAwaiter().GetResult();
                    try
                    {
                        dispatch(buffer, length, from);
                    }
#pragma warning disable CA1031 // a bug of ours must not end the node's reception (an exception here would end the process)
                    catch (Exception e)
#pragma warning restore CA1031
                    {
                        LogDispatchError(_log, e, from);
                    }
                }
                // fewer than a batch: the call stopped at an empty socket, so everything that arrived before it returned
                // has now been read and dispatched
                if (n < NativeBatch)
                {
                    Interlocked.Increment(ref _drained);
                    // let what arrives next gather in the socket, to be read and handled as one batch (see
                    // Discv5Options.ReceiveCoalescing); a datagram waiting there meanwhile keeps its request's timeout
                    // off (HasUnread sees it)
                    if (coalesce > 0 && Volatile.Read(ref _nativeStopping) == 0) _ = Native.usleep(coalesce);
                }
            }
        }
        finally
        {
            NativeMemory.Free(msgs);
            NativeMemory.Free(iov);
            NativeMemory.Free(names);
            NativeMemory.Free(data);
            if (added) handle.DangerousRelease();
        }
        if (refused) LogNativeRefused(_log);
        return !refused;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "recvmmsg refused by the kernel: discv5 receives with the portable loop")]
    private static partial void LogNativeRefused(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "internal error handing on a datagram from {From}")]
    private static partial void LogDispatchError(ILogger logger, Exception e, IPEndPoint from);

    [LoggerMessage(Level = LogLevel.Debug, Message = "socket receive error (errno {Errno})")]
    private static partial void LogReceiveErrno(ILogger logger, int errno);

    /// <summary>Whether <see cref="SendBatch"/> sends with <c>sendmmsg(2)</c>: where the batching receive loop would run,
    /// and not through a test's sender.</summary>
    private bool CanBatchSends => _sender is null && OperatingSystem.IsLinux() && Environment.Is64BitProcess
        && Environment.GetEnvironmentVariable("CLP2P_DISCV5_PORTABLE_SEND") != "1";

    /// <summary>A batch of datagrams for one thread to send together (see <see cref="SendBatch"/>).</summary>
    public SendBatch CreateSendBatch() => new(this);

    /// <summary>
    /// The datagrams one handler shard's runner sends during a batch of its work, gathered and sent with one
    /// <c>sendmmsg(2)</c> when the batch ends (or fills): a send is a system call of its own otherwise, and on loopback
    /// each also wakes the receiving thread. Order is kept. Elsewhere (another platform, a test's sender, refused by the
    /// kernel), each datagram goes out at once through <see cref="Send"/>. One thread at a time.
    /// </summary>
    internal sealed unsafe class SendBatch
    {
        public const int Capacity = 64;
        private const int Slot = 1280; // PacketCodec.MaxPacketSize: discv5-wire.md "the maximum packet size is 1280 bytes"

        private readonly Discv5Socket _socket;
        private readonly bool _native;
        private readonly byte[] _data;
        private readonly byte[] _names;
        private readonly Native.IoVec[] _iov;
        private readonly Native.MMsgHdr[] _msgs;
        private readonly IPEndPoint[] _to = new IPEndPoint[Capacity];
        private int _count;
        private bool _refused;

        public SendBatch(Discv5Socket socket)
        {
            _socket = socket;
            _native = socket.CanBatchSends;
            _data = _native ? GC.AllocateArray<byte>(Capacity * Slot, pinned: true) : [];
            _names = _native ? GC.AllocateArray<byte>(Capacity * Native.SockAddrStorage, pinned: true) : [];
            _iov = _native ? GC.AllocateArray<Native.IoVec>(Capacity, pinned: true) : [];
            _msgs = _native ? GC.AllocateArray<Native.MMsgHdr>(Capacity, pinned: true) : [];
            if (!_native) return;
            // the arrays are pinned for their lifetime: their addresses hold
            byte* data = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
            byte* names = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_names));
            var iov = (Native.IoVec*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_iov));
            for (int i = 0; i < Capacity; i++)
            {
                _iov[i].Base = data + (i * Slot);
                _msgs[i].Hdr.Name = names + (i * Native.SockAddrStorage);
                _msgs[i].Hdr.Iov = iov + i;
                _msgs[i].Hdr.IovLength = 1;
            }
        }

        /// <summary>Datagrams waiting for <see cref="Flush"/>.</summary>
        public int Count => _count;

        /// <summary>Queues a datagram (copied), or sends it at once where sends are not batched.</summary>
        public void Add(ReadOnlySpan<byte> packet, IPEndPoint to)
        {
            var address = _native && !_refused && packet.Length <= Slot ? _socket.SendAddress(to) : null;
            if (address is null || address.Size > Native.SockAddrStorage)
            {
                Flush();
                _socket.Send(packet, to);
                return;
            }
            if (_count == Capacity) Flush();
            int i = _count++;
            packet.CopyTo(_data.AsSpan(i * Slot, Slot));
            address.Buffer.Span[..address.Size].CopyTo(_names.AsSpan(i * Native.SockAddrStorage, Native.SockAddrStorage));
            _iov[i].Length = (nuint)packet.Length;
            _msgs[i].Hdr.NameLength = (uint)address.Size;
            _to[i] = to;
        }

        /// <summary>Sends what is queued, in order.</summary>
        public void Flush()
        {
            int count = _count;
            if (count == 0) return;
            _count = 0;
            int sent = 0, failed = 0;
            var handle = _socket._socket.SafeHandle;
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                int fd = (int)handle.DangerousGetHandle();
                fixed (Native.MMsgHdr* msgs = _msgs)
                {
                    int next = 0;
                    while (next < count)
                    {
                        // MSG_DONTWAIT: a full send buffer is left to the socket's own send, which waits for room
                        int n = Native.sendmmsg(fd, msgs + next, (uint)(count - next), Native.MSG_DONTWAIT);
                        if (n > 0)
                        {
                            sent += n;
                            next += n;
                            Interlocked.Increment(ref _socket._sendCalls);
                            continue;
                        }
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == Native.EINTR) continue;
                        if (errno is Native.EAGAIN or Native.ENOSYS or Native.EPERM)
                        {
                            // the kernel refuses the call (ENOSYS, a seccomp filter) or has no room: the rest one by one
                            if (errno != Native.EAGAIN) _refused = true;
                            for (; next < count; next++) _socket.Send(_data.AsSpan(next * Slot, (int)_iov[next].Length), _to[next]);
                            break;
                        }
                        // the first datagram failed on its own (an unreachable destination, say): counted, the rest go on
                        failed++;
                        LogSendErrno(_socket._log, _to[next], errno);
                        next++;
                    }
                }
            }
            catch (ObjectDisposedException)
            {
                // the socket was closed before the call: the node is shutting down, nobody waits for the answers
                failed = count - sent;
            }
            finally
            {
                if (added) handle.DangerousRelease();
                Array.Clear(_to, 0, count);
            }
            if (sent > 0)
            {
                Interlocked.Add(ref _socket._counters.Sent, sent);
                Discv5Metrics.PacketsSent.Add(sent);
            }
            if (failed > 0) Interlocked.Add(ref _socket._counters.SendErrors, failed);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "send to {To} failed: errno {Errno}")]
    private static partial void LogSendErrno(ILogger logger, IPEndPoint to, int errno);

    private static unsafe partial class Native
    {
        public const int MSG_WAITFORONE = 0x10000;
        public const int SHUT_RD = 0;
        public const int EPERM = 1, EINTR = 4, EBADF = 9, EAGAIN = 11, ENOSYS = 38, ENOTSOCK = 88;
        public const int MSG_DONTWAIT = 0x40;
        public const short POLLIN = 1;
        /// <summary>sizeof(struct sockaddr_storage).</summary>
        public const int SockAddrStorage = 128;

        [StructLayout(LayoutKind.Sequential)]
        public struct IoVec
        {
            public byte* Base;
            public nuint Length;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct MsgHdr
        {
            public byte* Name;
            public uint NameLength;
            public IoVec* Iov;
            public nuint IovLength;
            public byte* Control;
            public nuint ControlLength;
            public int Flags;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct MMsgHdr
        {
            public MsgHdr Hdr;
            public uint Length;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct PollFd
        {
            public int Fd;
            public short Events;
            public short REvents;
        }

        [LibraryImport("libc", SetLastError = true)]
        public static partial int recvmmsg(int fd, MMsgHdr* msgs, uint vlen, int flags, void* timeout);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int sendmmsg(int fd, MMsgHdr* msgs, uint vlen, int flags);

        /// <summary>Sleeps the calling thread (an interrupted sleep returns early: harmless here).</summary>
        [LibraryImport("libc")]
        public static partial int usleep(uint usec);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int shutdown(int fd, int how);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int poll(PollFd* fds, nuint nfds, int timeout);
    }
}
