using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace ClP2p.Libp2p.Noise;

/// <summary>
/// The Noise transport: every frame is a 2-byte big-endian unsigned length followed by at most 65535 bytes of
/// ChaCha20-Poly1305 ciphertext (noise.md "Wire Format"). One reader and one writer at a time (the muxer serialises).
/// </summary>
internal sealed class NoiseStream : Stream
{
    public const int MaxFrame = NoiseHandshakeState.MaxMessageLength;
    public const int MaxPlaintext = MaxFrame - CipherState.TagSize;
    // A connection starts with a small receive buffer and grows it only for a frame that does not fit: eth2 req/resp
    // frames are mostly a few hundred bytes, and a 128 KB buffer per connection (256 KB from the pool's bucket) was
    // most of the bytes a crawl allocated, on the large-object heap, at thousands of connections at once.
    private const int InitialRxSize = 4096;

    private readonly Stream _inner;
    private readonly CipherState _send;
    private readonly CipherState _recv;
    // Rented per connection and returned when the last user (owner or an in-flight read) lets go; replaced by a larger
    // one only by the reader (one at a time), which holds a use.
    private byte[] _rx = ArrayPool<byte>.Shared.Rent(InitialRxSize);
    private int _users = 1;
    private int _rxStart;
    private int _rxEnd;
    private int _plainStart;
    private int _plainEnd;
    private int _disposed;

    // Handshake bytes not yet written (the initiator's last message): they lead the first write, or go before a read.
    private byte[]? _held;

    /// <param name="received">Bytes of the transport already read past the handshake (see
    /// <see cref="Transport.ReadAheadStream"/>): the first frames, read before any more from <paramref name="inner"/>.</param>
    public NoiseStream(Stream inner, CipherState send, CipherState recv, byte[]? held = null, ReadOnlySpan<byte> received = default)
    {
        _inner = inner;
        _send = send;
        _recv = recv;
        _held = held;
        if (!received.IsEmpty)
        {
            if (received.Length > _rx.Length)
            {
                ArrayPool<byte>.Shared.Return(_rx);
                _rx = ArrayPool<byte>.Shared.Rent(received.Length);
            }
            received.CopyTo(_rx);
            _rxEnd = received.Length;
        }
    }

    /// <summary>The transport under the encryption (a socket's stream, or an in-memory pipe in tests).</summary>
    internal Stream Inner => _inner;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException("not a seekable stream");
    public override long Position { get => throw new NotSupportedException("not a seekable stream"); set => throw new NotSupportedException("not a seekable stream"); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_plainEnd > _plainStart)
        {
            AcquireBuffer();
            try
            {
                return new ValueTask<int>(CopyOut(buffer.Span));
            }
            finally
            {
                ReleaseBuffer();
            }
        }
        return ReadSlowAsync(buffer, cancellationToken);
    }

    private void AcquireBuffer()
    {
        while (true)
        {
            int users = Volatile.Read(ref _users);
            if (users == 0)
            {
                throw new ObjectDisposedException(nameof(NoiseStream));
            }
            if (Interlocked.CompareExchange(ref _users, users + 1, users) == users)
            {
                return;
            }
        }
    }

    private void ReleaseBuffer()
    {
        if (Interlocked.Decrement(ref _users) == 0)
        {
            _recv.Dispose();
            ArrayPool<byte>.Shared.Return(_rx);
        }
    }

    private int CopyOut(Span<byte> buffer)
    {
        int n = Math.Min(buffer.Length, _plainEnd - _plainStart);
        _rx.AsSpan(_plainStart, n).CopyTo(buffer);
        _plainStart += n;
        return n;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadSlowAsync(Memory<byte> buffer, CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _held, null) is { } held)
        {
            await _inner.WriteAsync(held, ct).ConfigureAwait(false); // an answer may wait for it
        }
        AcquireBuffer();
        try
        {
            return await ReadFramesAsync(buffer, ct).ConfigureAwait(false);
        }
        finally
        {
            ReleaseBuffer();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadFramesAsync(Memory<byte> buffer, CancellationToken ct)
    {
        while (true)
        {
            var rx = _rx;
            int available = _rxEnd - _rxStart;
            int need = 2;
            if (available >= 2)
            {
                int len = BinaryPrimitives.ReadUInt16BigEndian(rx.AsSpan(_rxStart));
                need = 2 + len;
                if (available >= need)
                {
                    int start = _rxStart + 2;
                    if (!_recv.TryDecryptWithAd(default, rx.AsSpan(start, len), rx.AsSpan(start, len), out int n))
                    {
                        throw new InvalidDataException("noise frame failed to decrypt");
                    }
                    _rxStart += need;
                    _plainStart = start;
                    _plainEnd = start + n;
                    if (n == 0)
                    {
                        continue; // empty frame: keep reading
                    }
                    return buffer.IsEmpty ? 0 : CopyOut(buffer.Span);
                }
            }
            if (_rxStart == _rxEnd || rx.Length - _rxStart < need)
            {
                // Move the partial frame to the front, into a larger buffer when the frame needs one.
                var target = need > rx.Length ? ArrayPool<byte>.Shared.Rent(need) : rx;
                rx.AsSpan(_rxStart, available).CopyTo(target);
                if (!ReferenceEquals(target, rx))
                {
                    _rx = target;
                    ArrayPool<byte>.Shared.Return(rx);
                }
                _rxStart = 0;
                _rxEnd = available;
            }
            int read = await _inner.ReadAsync(_rx.AsMemory(_rxEnd), ct).ConfigureAwait(false);
            if (read == 0)
            {
                if (_rxEnd != _rxStart)
                {
                    throw new EndOfStreamException("connection closed inside a noise frame");
                }
                return 0;
            }
            _rxEnd += read;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var held = Interlocked.Exchange(ref _held, null);
        int frames = Math.Max(1, (buffer.Length + MaxPlaintext - 1) / MaxPlaintext);
        int total = (held?.Length ?? 0) + buffer.Length + (frames * (2 + CipherState.TagSize));
        byte[] outBuf = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            held?.CopyTo(outBuf, 0);
            int o = (held?.Length ?? 0) + Encrypt(buffer.Span, outBuf.AsSpan(held?.Length ?? 0));
            await _inner.WriteAsync(outBuf.AsMemory(0, o), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(outBuf);
        }
    }

    private int Encrypt(ReadOnlySpan<byte> data, Span<byte> output)
    {
        int written = 0;
        do
        {
            int chunk = Math.Min(MaxPlaintext, data.Length);
            int sealedLength = _send.EncryptWithAd(default, data[..chunk], output[(written + 2)..]);
            BinaryPrimitives.WriteUInt16BigEndian(output[written..], (ushort)sealedLength);
            written += 2 + sealedLength;
            data = data[chunk..];
        }
        while (!data.IsEmpty);
        return written;
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override void Flush() => _inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("not a seekable stream");

    public override void SetLength(long value) => throw new NotSupportedException("not a seekable stream");

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _inner.Dispose();
            _send.Dispose();
            ReleaseBuffer();
        }
        base.Dispose(disposing);
    }
}
