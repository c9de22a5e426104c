using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace ClP2p.Libp2p.Transport;

/// <summary>
/// Shared receive side of yamux and mplex streams: the session's read loop appends payload into a pipe (bounded by
/// the muxer's flow control or buffer cap), the user reads from it.
/// </summary>
internal abstract class MuxedStream : Libp2pStream
{
    // the reader goes on inline, on the session's read loop that flushed the data (itself running on the socket's
    // completion): handed to the thread pool, every frame of payload cost a work item (41,748 in a crawl of 20,000
    // records, docs/performance.md "Fewer thread-pool work items")
    private static readonly PipeOptions InboundOptions = new(readerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 0, useSynchronizationContext: false);

    private readonly Pipe _inbound = new(InboundOptions);
    private readonly MuxerSession _session;
    private volatile bool _localReset;
    private volatile bool _remoteReset;
    private volatile bool _inboundDone;
    private long _buffered;

    protected MuxedStream(MuxerSession session)
    {
        _session = session;
    }

    /// <summary>Set once we sent our FIN/Close.</summary>
    protected bool WriteClosed { get; set; }

    protected bool LocallyReset => _localReset;

    /// <summary>Takes the stream out of its session's table (both sides closed, or reset).</summary>
    protected abstract void LeaveSession();

    /// <summary>Read loop: the remote closed its write side (yamux FIN, mplex Close).</summary>
    internal void OnRemoteFin()
    {
        OnRemoteClose();
        if (WriteClosed)
        {
            LeaveSession();
        }
    }

    /// <summary>Read loop: the remote reset the stream.</summary>
    internal void OnRemoteReset()
    {
        _remoteReset = true;
        OnAbort("stream reset by remote");
        LeaveSession();
    }

    /// <summary>Throws <see cref="IOException"/> when nothing more may be written: reset, write side closed, or connection gone.</summary>
    protected void ThrowIfCannotWrite()
    {
        if (_localReset || _remoteReset)
        {
            throw new IOException("stream was reset");
        }
        if (WriteClosed)
        {
            throw new IOException("stream write side is closed");
        }
        if (_session.IsClosed)
        {
            throw new IOException("connection closed: " + _session.CloseReason);
        }
    }

    /// <summary>Remote FIN/reset/connection loss seen: no more inbound data.</summary>
    internal bool InboundDone => _inboundDone;

    /// <summary>Bytes received and not yet read by the user.</summary>
    internal long Buffered => Interlocked.Read(ref _buffered);

    /// <summary>Read loop: appends <paramref name="length"/> bytes read from <paramref name="source"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask AppendFromAsync(Stream source, int length, CancellationToken ct)
    {
        var writer = _inbound.Writer;
        while (length > 0)
        {
            int chunk = Math.Min(length, 64 * 1024);
            var mem = writer.GetMemory(chunk)[..chunk];
            await source.ReadExactlyAsync(mem, ct).ConfigureAwait(false);
            writer.Advance(chunk);
            Interlocked.Add(ref _buffered, chunk);
            length -= chunk;
        }
        await writer.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Read loop: the remote closed its write side.</summary>
    internal void OnRemoteClose()
    {
        if (!_inboundDone)
        {
            _inboundDone = true;
            _inbound.Writer.Complete();
        }
    }

    /// <summary>
    /// Read loop (or session teardown): the stream was reset or the connection is gone. What arrived before stays
    /// readable and reads fail after it: a listener that refuses a lazy proposal answers "na" and, reading our request
    /// as its next proposal, resets the stream at once (go-multistream #20), often in the same TCP segment.
    /// </summary>
    internal void OnAbort(string reason)
    {
        if (!_inboundDone)
        {
            _inboundDone = true;
            _abortReason = reason;
            _inbound.Writer.Complete();
        }
        OnAbortWriters();
    }

    private volatile string? _abortReason;

    /// <summary>Wake writers blocked on flow control so they observe the abort.</summary>
    protected virtual void OnAbortWriters()
    {
    }

    private void MarkLocalReset()
    {
        _localReset = true;
        _inbound.Reader.CancelPendingRead();
        _consumed.Set();
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override int Read(Span<byte> buffer)
    {
        byte[] tmp = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            int n = ReadAsync(tmp.AsMemory(0, buffer.Length)).AsTask().GetAwaiter().GetResult();
            tmp.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(tmp);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_localReset)
        {
            throw new IOException("stream was reset");
        }
        if (buffer.IsEmpty)
        {
            return 0;
        }
        ReadResult result;
        try
        {
            result = await _inbound.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException) when (_localReset)
        {
            throw new IOException("stream was reset");
        }
        if (_localReset || result.IsCanceled)
        {
            throw new IOException("stream was reset");
        }
        var seq = result.Buffer;
        if (seq.IsEmpty)
        {
            _inbound.Reader.AdvanceTo(seq.End);
            return _abortReason is { } reason ? throw new IOException(reason) : 0; // IsCompleted: remote FIN, or the reset after the last bytes
        }
        int n = (int)Math.Min(buffer.Length, seq.Length);
        seq.Slice(0, n).CopyTo(buffer.Span);
        _inbound.Reader.AdvanceTo(seq.GetPosition(n));
        Interlocked.Add(ref _buffered, -n);
        await OnConsumedAsync(n, cancellationToken).ConfigureAwait(false);
        return n;
    }

    /// <inheritdoc/>
    /// <remarks>Looks at the bytes buffered in the pipe without taking them: what does not match stays to be read.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal override async ValueTask<bool> TryReadExpectedAsync(ReadOnlyMemory<byte> expected, CancellationToken ct)
    {
        if (_localReset)
        {
            throw new IOException("stream was reset");
        }
        var reader = _inbound.Reader;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(ct).ConfigureAwait(false);
            }
            catch (InvalidOperationException) when (_localReset)
            {
                throw new IOException("stream was reset");
            }
            if (_localReset || result.IsCanceled)
            {
                throw new IOException("stream was reset");
            }
            var seq = result.Buffer;
            int have = (int)Math.Min(seq.Length, expected.Length);
            if (!StartsWith(seq.Slice(0, have), expected.Span[..have]) || (have < expected.Length && result.IsCompleted))
            {
                reader.AdvanceTo(seq.Start);   // nothing consumed, nothing examined: the next read sees the same bytes
                return false;
            }
            if (have == expected.Length)
            {
                reader.AdvanceTo(seq.GetPosition(have));
                Interlocked.Add(ref _buffered, -have);
                await OnConsumedAsync(have, ct).ConfigureAwait(false);
                return true;
            }
            reader.AdvanceTo(seq.Start, seq.End);   // a matching prefix: wait for more
        }
    }

    private static bool StartsWith(ReadOnlySequence<byte> seq, ReadOnlySpan<byte> expected)
    {
        if (seq.IsSingleSegment)
        {
            return seq.FirstSpan.SequenceEqual(expected);
        }
        foreach (var segment in seq)
        {
            if (!segment.Span.SequenceEqual(expected[..segment.Length]))
            {
                return false;
            }
            expected = expected[segment.Length..];
        }
        return true;
    }

    /// <summary>Called after the user consumed <paramref name="n"/> bytes (yamux grants window here).</summary>
    protected virtual ValueTask OnConsumedAsync(int n, CancellationToken ct)
    {
        if (Volatile.Read(ref _roomWaiters) != 0)
        {
            _consumed.Set();
        }
        return ValueTask.CompletedTask;
    }

    private readonly AsyncSignal _consumed = new();
    private readonly TaskCompletionSource _firstFlowControlWait = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _roomWaiters;

    /// <summary>
    /// Completes the first time this stream waits on flow control: a writer for the remote's window (yamux) or the
    /// read loop for room under the buffer cap (mplex). Lets a test wait for the condition instead of for time.
    /// </summary>
    internal Task FirstFlowControlWait => _firstFlowControlWait.Task;

    protected void OnFlowControlWait() => _firstFlowControlWait.TrySetResult();

    /// <summary>
    /// Read loop (muxers without flow control): waits until <paramref name="length"/> more bytes fit under
    /// <paramref name="limit"/> buffered bytes. False when the reader did not make room in time (or went away).
    /// </summary>
    internal async ValueTask<bool> WaitForRoomAsync(int length, long limit, TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        Interlocked.Increment(ref _roomWaiters);
        try
        {
            using var cts = new StepTimer(timeout, time, ct);
            while (Buffered + length > limit)
            {
                var wait = _consumed.WaitTask;
                if (Buffered + length <= limit)
                {
                    break;
                }
                if (_localReset || _readAbandoned || _inboundDone)
                {
                    return false;
                }
                OnFlowControlWait();
                try
                {
                    await wait.WaitAsync(cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    return false;
                }
            }
            return true;
        }
        finally
        {
            Interlocked.Decrement(ref _roomWaiters);
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public abstract override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Set when the user disposed the stream: inbound data is drained by the session, not buffered.</summary>
    internal bool ReadAbandoned => _readAbandoned;

    private volatile bool _readAbandoned;

    /// <summary>
    /// Closes the write side if still open (FIN) and stops buffering inbound data; the stream leaves the session when
    /// the remote closes its side too. Use <see cref="Libp2pStream.Reset"/> to abort instead.
    /// </summary>
    public override async ValueTask DisposeAsync()
    {
        if (!_localReset && !_readAbandoned)
        {
            AbandonRead();
            if (!WriteClosed)
            {
                try
                {
                    await CloseWriteAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (IOException e)
                {
                    // reset or connection gone: nothing left to close
                    _session.Ignored("FIN on dispose", e);
                }
            }
        }
        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_localReset && !_readAbandoned)
        {
            AbandonRead();
            if (!WriteClosed)
            {
                QueueCloseWrite(); // synchronous dispose cannot await the FIN
            }
        }
        base.Dispose(disposing);
    }

    private void AbandonRead()
    {
        _readAbandoned = true;
        _inbound.Reader.Complete();
        _consumed.Set();
    }

    /// <summary>Sends our FIN (yamux) or Close (mplex) frame.</summary>
    protected abstract ValueTask WriteFinAsync(CancellationToken ct);

    /// <summary>Hands our FIN/Close frame to the session's control loop without waiting.</summary>
    protected abstract void QueueFin();

    /// <summary>Hands our RST/Reset frame to the session's control loop without waiting.</summary>
    protected abstract void QueueReset();

    public override async ValueTask CloseWriteAsync(CancellationToken ct = default)
    {
        if (WriteClosed)
        {
            return;
        }
        ThrowIfCannotWrite();
        WriteClosed = true;
        await WriteFinAsync(ct).ConfigureAwait(false);
        if (InboundDone)
        {
            LeaveSession();
        }
    }

    /// <summary>
    /// Writes <paramref name="data"/> and our FIN/Close as two frames of the muxer in one transport write; false (nothing
    /// written) when they do not fit one write (a yamux send window or frame size too small).
    /// </summary>
    protected abstract ValueTask<bool> TryWriteLastAsync(ReadOnlyMemory<byte> data, CancellationToken ct);

    public override async ValueTask WriteAndCloseAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        if (data.IsEmpty)
        {
            await CloseWriteAsync(ct).ConfigureAwait(false);
            return;
        }
        ThrowIfCannotWrite();
        if (!await TryWriteLastAsync(data, ct).ConfigureAwait(false))
        {
            await WriteAsync(data, ct).ConfigureAwait(false);
            await CloseWriteAsync(ct).ConfigureAwait(false);
            return;
        }
        WriteClosed = true;
        if (InboundDone)
        {
            LeaveSession();
        }
    }

    /// <summary>Queues a FIN/Close without waiting (synchronous dispose).</summary>
    private void QueueCloseWrite()
    {
        if (WriteClosed || _session.IsClosed)
        {
            return;
        }
        WriteClosed = true;
        QueueFin();
        if (InboundDone)
        {
            LeaveSession();
        }
    }

    public override void Reset()
    {
        if (_localReset)
        {
            return;
        }
        MarkLocalReset();
        OnAbortWriters();
        LeaveSession();
        if (!_remoteReset && !_session.IsClosed)
        {
            QueueReset();
        }
    }
}
