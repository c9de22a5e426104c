using System.Buffers;
using System.IO.Pipelines;

namespace ClP2p.Libp2p.Transport;

/// <summary>An in-memory, full-duplex byte stream pair (for tests and benchmarks): what one writes, the other reads.</summary>
public static class DuplexPipe
{
    public static (Stream A, Stream B) CreatePair(long pauseWriterThreshold = 1 << 20)
    {
        var options = new PipeOptions(pauseWriterThreshold: pauseWriterThreshold, resumeWriterThreshold: pauseWriterThreshold / 2, useSynchronizationContext: false);
        var ab = new Pipe(options);
        var ba = new Pipe(options);
        return (new DuplexPipeStream(ba.Reader, ab.Writer), new DuplexPipeStream(ab.Reader, ba.Writer));
    }
}

/// <summary>
/// A <see cref="Stream"/> over a reader half and a writer half. Disposing completes both (the peer reads EOF);
/// <see cref="Shutdown"/> ends both directions as a socket's shutdown does.
/// </summary>
public sealed class DuplexPipeStream : Stream
{
    private readonly Stream _writer;
    private readonly PipeReader _pipeReader;
    private readonly PipeWriter _pipeWriter;
    private volatile bool _shutdown;

    public DuplexPipeStream(PipeReader reader, PipeWriter writer)
    {
        _pipeReader = reader;
        _pipeWriter = writer;
        _writer = writer.AsStream();
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException("not a seekable stream");
    public override long Position { get => throw new NotSupportedException("not a seekable stream"); set => throw new NotSupportedException("not a seekable stream"); }

    /// <summary>
    /// Like <c>shutdown(SHUT_RDWR)</c> on a socket: the peer reads EOF, a read pending here returns 0 and so does every
    /// later one; writes fail.
    /// </summary>
    public void Shutdown()
    {
        _shutdown = true;
        _pipeWriter.Complete();
        _pipeReader.CancelPendingRead();
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!_shutdown)
        {
            var result = await _pipeReader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var data = result.Buffer;
            if (result.IsCanceled)
            {
                _pipeReader.AdvanceTo(data.Start);
                continue; // Shutdown (the only caller of CancelPendingRead)
            }
            if (data.IsEmpty && result.IsCompleted)
            {
                _pipeReader.AdvanceTo(data.End);
                return 0;
            }
            if (buffer.IsEmpty)
            {
                _pipeReader.AdvanceTo(data.Start);
                return 0;
            }
            int n = (int)Math.Min(data.Length, buffer.Length);
            data.Slice(0, n).CopyTo(buffer.Span);
            _pipeReader.AdvanceTo(data.GetPosition(n));
            return n;
        }
        return 0;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => _writer.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => _writer.Write(buffer);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _writer.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _writer.WriteAsync(buffer, offset, count, cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("not a seekable stream");

    public override void SetLength(long value) => throw new NotSupportedException("not a seekable stream");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _pipeWriter.Complete();
            _pipeReader.Complete();
        }
        base.Dispose(disposing);
    }
}
