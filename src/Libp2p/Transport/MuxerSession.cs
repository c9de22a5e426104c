using System.Buffers;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace ClP2p.Libp2p.Transport;

/// <summary>
/// Shared machinery of the yamux and mplex sessions: one read loop, frame writes serialised by a lock, control frames
/// (acks, pings, resets) written by one control loop so the read loop never blocks on a write, teardown.
/// </summary>
internal abstract class MuxerSession : IAsyncDisposable
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Channel<ControlFrame> _control = Channel.CreateUnbounded<ControlFrame>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _cts = new();
    // Cancels the read loop's transport reads, only when a close cannot shut the transport down (see Close).
    private readonly CancellationTokenSource _readCts = new();
    private Func<MuxedStream, Task>? _onInbound;
    private Task _readTask = Task.CompletedTask;
    private Task _controlTask = Task.CompletedTask;
    private int _closed;
    private int _disposed;
    private int _transportDisposed;
    private int _readLoop; // 0 until Start, then ReadLoopRunning, then ReadLoopDone

    private const int ReadLoopRunning = 1;
    private const int ReadLoopDone = 2;

    /// <summary>How long a best-effort goodbye (yamux GoAway) may take before the transport is closed anyway.</summary>
    private static readonly TimeSpan GoodbyeTimeout = TimeSpan.FromSeconds(1);

    protected MuxerSession(Stream transport, bool isInitiator, ILogger logger, Libp2pMetrics metrics, TimeProvider? time)
    {
        Transport = transport;
        IsInitiator = isInitiator;
        Logger = logger;
        Metrics = metrics;
        Time = time ?? TimeProvider.System;
    }

    /// <summary>The clock of every muxer timeout.</summary>
    public TimeProvider Time { get; }

    public abstract string Protocol { get; }

    protected Stream Transport { get; }

    /// <summary>True on the dialer side of the connection.</summary>
    public bool IsInitiator { get; }

    protected ILogger Logger { get; }

    protected Libp2pMetrics Metrics { get; }

    /// <summary>Cancelled when the session closes: blocked writes, waits for a window or a slow reader. Not the read
    /// loop's transport reads: a close ends those by shutting the transport down (end of stream).</summary>
    protected CancellationToken Closing => _cts.Token;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Why the session closed (null while open).</summary>
    public string? CloseReason { get; private set; }

    /// <summary>Completes when the session closes (EOF, error, dispose) or the remote announced it is going away.</summary>
    public Task Completion => _completion.Task;

    public void Start(Func<MuxedStream, Task> onInbound)
    {
        _onInbound = onInbound;
        // both loops start here and return at their first wait (a frame to write, a frame to read): started through
        // Task.Run they cost two thread-pool work items per connection
        _controlTask = ControlLoopAsync();
        Volatile.Write(ref _readLoop, ReadLoopRunning);
        _readTask = RunReadLoopAsync();
    }

    public abstract Task<MuxedStream> OpenStreamAsync(CancellationToken ct);

    /// <summary>
    /// Reads frames until the transport ends (returns cleanly) or the session closes. <paramref name="ct"/> goes to
    /// the transport reads only: a local close ends them by end of stream, and cancels them only for a transport it
    /// cannot shut down. A wait on anything else (a slow reader) takes <see cref="Closing"/>.
    /// </summary>
    protected abstract Task ReadLoopAsync(CancellationToken ct);

    protected abstract IReadOnlyCollection<MuxedStream> SnapshotStreams();

    protected abstract ValueTask WriteControlAsync(ControlFrame frame, CancellationToken ct);

    /// <summary>Best-effort goodbye before the transport is closed (yamux GoAway).</summary>
    protected virtual ValueTask SendGoodbyeAsync(CancellationToken ct) => ValueTask.CompletedTask;

    /// <summary>A best-effort step failed because the connection is going away: counted and logged, not thrown.</summary>
    internal void Ignored(string site, Exception e)
    {
        Metrics.IgnoredError(Protocol, site);
        Logger.LogDebug("{Muxer}: {Site} failed while the connection closes: {Error}", Protocol, site, e.Message);
    }

    protected void EnqueueControl(ControlFrame frame) => _control.Writer.TryWrite(frame);

    protected void SignalGoingAway() => _completion.TrySetResult();

    protected void DispatchInbound(MuxedStream stream)
    {
        var handler = _onInbound;
        if (handler is null)
        {
            stream.Reset();
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                await handler(stream).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException or DialException)
            {
                Logger.LogDebug(e, "inbound stream handler failed");
                stream.Reset();
            }
        });
    }

    /// <summary>Takes the write lock; the frame bytes must be written with <see cref="WriteTransportAsync"/> before <see cref="ReleaseWrite"/>.</summary>
    protected async ValueTask AcquireWriteAsync(CancellationToken ct)
    {
        ThrowIfClosed();
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        if (IsClosed)
        {
            _writeLock.Release();
            ThrowIfClosed();
        }
    }

    protected void ReleaseWrite() => _writeLock.Release();

    // Frames written while writes are held (HoldWritesAsync), and how many holds are open; both under the write lock.
    private ArrayBufferWriter<byte>? _held;
    private int _holds;

    /// <summary>
    /// From now until <see cref="ReleaseWritesAsync"/>, frames wait in memory instead of going to the transport: the
    /// frames of requests started together then leave in one write (one Noise frame, one TCP write). False when the
    /// session is closed (nothing is held).
    /// </summary>
    internal async ValueTask<bool> HoldWritesAsync(CancellationToken ct)
    {
        try
        {
            await AcquireWriteAsync(ct).ConfigureAwait(false);
        }
        catch (IOException)
        {
            return false;
        }
        _held ??= new ArrayBufferWriter<byte>();
        _holds++;
        ReleaseWrite();
        return true;
    }

    /// <summary>Ends a hold of <see cref="HoldWritesAsync"/>; the last one writes what was held, in one write.</summary>
    internal async ValueTask ReleaseWritesAsync()
    {
        await _writeLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (--_holds > 0)
            {
                return;
            }
            var held = _held;
            _held = null;
            if (held is { WrittenCount: > 0 } && !IsClosed)
            {
                await WriteTransportAsync(held.WrittenMemory).ConfigureAwait(false);
            }
        }
        catch (IOException e)
        {
            Ignored("held writes", e); // the session closed; the writers' own reads report it
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Writes bytes of a frame (lock held). A failed write kills the session: a partial frame cannot be recovered.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected async ValueTask WriteTransportAsync(ReadOnlyMemory<byte> bytes)
    {
        if (_held is { } held)
        {
            held.Write(bytes.Span);
            return;
        }
        try
        {
            await Transport.WriteAsync(bytes, _cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            Close("write failed: " + e.Message);
            throw new IOException("connection closed", e);
        }
    }

    protected void ThrowIfClosed()
    {
        if (IsClosed)
        {
            throw new IOException("connection closed: " + CloseReason);
        }
    }

    private async Task ControlLoopAsync()
    {
        try
        {
            // Close completes the channel: no token here, which would throw on every close that finds the loop waiting.
            await foreach (var frame in _control.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                if (IsClosed)
                {
                    break; // a completed channel still yields what was queued (a reset's RST): moot, and a write would throw
                }
                await WriteControlAsync(frame, _cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The session is closing: control frames still queued are moot.
            if (!IsClosed) Ignored("control frame", e);
        }
    }

    private async Task RunReadLoopAsync()
    {
        string reason = "remote closed the connection";
        try
        {
            await ReadLoopAsync(_readCts.Token).ConfigureAwait(false);
        }
        catch (MuxerProtocolException e)
        {
            reason = "protocol error: " + e.Message;
            Metrics.MalformedFrame(Protocol, e.Message);
            Logger.LogDebug("{Muxer} protocol error from remote: {Reason}", Protocol, e.Message);
            try
            {
                using var timeout = new CancellationTokenSource(GoodbyeTimeout, Time);
                await OnProtocolErrorAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
            {
                Ignored("protocol error notice", ex);
            }
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or OperationCanceledException or ObjectDisposedException or InvalidDataException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            reason = IsClosed ? CloseReason ?? "closed" : "read failed: " + e.Message;
        }
        Volatile.Write(ref _readLoop, ReadLoopDone);
        Close(reason);
        DisposeTransport();
    }

    /// <summary>Tell the remote why we drop it (yamux GoAway protocol error).</summary>
    protected virtual ValueTask OnProtocolErrorAsync(CancellationToken ct) => ValueTask.CompletedTask;

    /// <summary>Marks the session closed, aborts every stream and closes the transport.</summary>
    protected void Close(string reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        CloseReason = reason;
        _control.Writer.TryComplete();
        foreach (var s in SnapshotStreams())
        {
            s.OnAbort("connection closed: " + reason);
        }
        _cts.Cancel();
        // A pending read cancelled or disposed under it throws through every async frame of the read loop (the muxer's,
        // Noise's, the socket's), on every connection we close. Shut down, the transport ends it with end of stream
        // instead, and the read loop disposes the transport once it has returned.
        if (Volatile.Read(ref _readLoop) != ReadLoopRunning || !TransportShutdown.TryShutdown(Transport))
        {
            _readCts.Cancel();
            DisposeTransport();
        }
        _completion.TrySetResult();
    }

    private void DisposeTransport()
    {
        if (Interlocked.Exchange(ref _transportDisposed, 1) != 0)
        {
            return;
        }
        try
        {
            Transport.Dispose();
        }
        catch (IOException e)
        {
            Ignored("transport close", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        if (!IsClosed)
        {
            try
            {
                using var timeout = new CancellationTokenSource(GoodbyeTimeout, Time);
                await SendGoodbyeAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
                Ignored("goodbye", e);
            }
        }
        Close("closed locally");
        await Task.WhenAll(_readTask, _controlTask).ConfigureAwait(false);
        _cts.Dispose();
        _readCts.Dispose();
    }
}

/// <summary>A frame the control loop writes: muxer-specific meaning of the fields.</summary>
internal readonly record struct ControlFrame(byte Kind, ulong StreamId, uint Flags, uint Value, MuxedStream? Stream);

/// <summary>The remote broke the muxer protocol; the session is dropped.</summary>
internal sealed class MuxerProtocolException(string message) : Exception(message);
