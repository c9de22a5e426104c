namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>A transport that passes everything through and keeps a copy of each write (one write is one socket send).</summary>
public sealed class RecordingStream(Stream inner) : Stream
{
    private readonly List<byte[]> _writes = [];

    /// <summary>Every write so far, in order.</summary>
    public IReadOnlyList<byte[]> Writes
    {
        get
        {
            lock (_writes)
            {
                return [.. _writes];
            }
        }
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    private long _bytesRead;
    private (long Bytes, TaskCompletionSource Started)? _readWaiter;

    /// <summary>Completes when a read starts after at least <paramref name="bytes"/> bytes were read: the reader has
    /// taken all of them and waits for more.</summary>
    public Task ReadStartedAfter(long bytes)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_writes)
        {
            _readWaiter = (bytes, started);
        }
        return started.Task;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        lock (_writes)
        {
            if (_readWaiter is { } w && _bytesRead >= w.Bytes)
            {
                _readWaiter = null;
                w.Started.TrySetResult();
            }
        }
        int n = await inner.ReadAsync(buffer, cancellationToken);
        lock (_writes)
        {
            _bytesRead += n;
        }
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        lock (_writes)
        {
            _writes.Add(buffer.ToArray());
        }
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
