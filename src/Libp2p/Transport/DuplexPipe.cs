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

/// <summary>A <see cref="Stream"/> over a reader half and a writer half. Disposing completes both (the peer reads EOF).</summary>
public sealed class DuplexPipeStream : Stream
{
    private readonly Stream _reader;
    private readonly Stream _writer;
    private readonly PipeReader _pipeReader;
    private readonly PipeWriter _pipeWriter;

    public DuplexPipeStream(PipeReader reader, PipeWriter writer)
    {
        _pipeReader = reader;
        _pipeWriter = writer;
        _reader = reader.AsStream();
        _writer = writer.AsStream();
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException("not a seekable stream");
    public override long Position { get => throw new NotSupportedException("not a seekable stream"); set => throw new NotSupportedException("not a seekable stream"); }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => _reader.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => _reader.Read(buffer);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _reader.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _reader.ReadAsync(buffer, offset, count, cancellationToken);

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
