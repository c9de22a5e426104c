using System.Buffers;

namespace ClP2p.Libp2p.Transport;

/// <summary>
/// A connection's raw stream during its upgrade (multistream-select, then the Noise handshake): each read of the
/// transport takes what has arrived, up to a small buffer, and later reads are served from it. The upgrade reads a
/// few bytes at a time (a varint, a multistream message, a Noise length prefix, a Noise message): on a socket each was a
/// <c>recv</c> of its own, six per dial, where one or two take what the remote sent. What is left over when the
/// handshake ends (the first transport frames, which may share a TCP segment with the last handshake message) is handed
/// to the secure stream (<see cref="TakeBuffered"/>), which reads the transport directly from then on.
/// </summary>
/// <remarks>Reads and writes as the transport's own (one reader, one writer); writes go straight to it. Disposing it
/// returns its buffer and leaves the transport open: the upgrade's owner disposes that.</remarks>
internal sealed class ReadAheadStream(Stream inner) : Stream
{
    /// <summary>Bytes read from the transport at most at once: a Noise handshake message and what may follow it.</summary>
    public const int BufferSize = 2048;

    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _start;
    private int _end;

    /// <summary>The transport under this stream.</summary>
    public Stream Inner { get; } = inner;

    /// <summary>Reads of the transport so far (tests: how many a handshake needed).</summary>
    public int TransportReads { get; private set; }

    /// <summary>Bytes read from the transport and not yet read from this stream.</summary>
    public int Buffered => _end - _start;

    /// <summary>The bytes read ahead and not yet consumed, copied out; this stream has none afterwards.</summary>
    public byte[] TakeBuffered()
    {
        if (_end == _start) return [];
        byte[] rest = _buffer.AsSpan(_start, _end - _start).ToArray();
        _start = _end = 0;
        return rest;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException("not a seekable stream");
    public override long Position { get => throw new NotSupportedException("not a seekable stream"); set => throw new NotSupportedException("not a seekable stream"); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_buffer is null, this);
        if (_end > _start || buffer.IsEmpty) return new ValueTask<int>(CopyOut(buffer.Span));
        return FillAndCopyAsync(buffer, cancellationToken);
    }

    private async ValueTask<int> FillAndCopyAsync(Memory<byte> buffer, CancellationToken ct)
    {
        TransportReads++;
        if (buffer.Length >= BufferSize) return await Inner.ReadAsync(buffer, ct).ConfigureAwait(false);
        int n = await Inner.ReadAsync(_buffer.AsMemory(0, BufferSize), ct).ConfigureAwait(false);
        _start = 0;
        _end = n;
        return CopyOut(buffer.Span);
    }

    private int CopyOut(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, n).CopyTo(destination);
        _start += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => Inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => Inner.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

    public override void Flush() => Inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("not a seekable stream");

    public override void SetLength(long value) => throw new NotSupportedException("not a seekable stream");

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _buffer, null) is { } b) ArrayPool<byte>.Shared.Return(b);
        base.Dispose(disposing);
    }
}
