using System.IO.Pipelines;
using ClP2p.Libp2p;

namespace ClP2p.Eth2.Tests;

/// <summary>An in-memory libp2p stream end: reads from one pipe, writes to another, with half-close and reset.</summary>
internal sealed class MemoryLibp2pStream : Libp2pStream
{
    private readonly PipeReader _in;
    private readonly PipeWriter _out;
    private bool _writeClosed;

    public MemoryLibp2pStream(PipeReader input, PipeWriter output)
    {
        _in = input;
        _out = output;
    }

    public bool WasReset { get; private set; }

    public bool WriteClosed => _writeClosed;

    public static (MemoryLibp2pStream A, MemoryLibp2pStream B) CreatePair()
    {
        var ab = new Pipe();
        var ba = new Pipe();
        return (new MemoryLibp2pStream(ba.Reader, ab.Writer), new MemoryLibp2pStream(ab.Reader, ba.Writer));
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var result = await _in.ReadAsync(cancellationToken);
        var seq = result.Buffer;
        if (seq.IsEmpty && result.IsCompleted)
        {
            _in.AdvanceTo(seq.End);
            return 0;
        }
        int n = (int)Math.Min(seq.Length, buffer.Length);
        var slice = seq.Slice(0, n);
        System.Buffers.BuffersExtensions.CopyTo(slice, buffer.Span);
        _in.AdvanceTo(slice.End);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, default).GetAwaiter().GetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_writeClosed || WasReset) throw new IOException("write side closed");
        await _out.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, default).GetAwaiter().GetResult();

    public override async ValueTask CloseWriteAsync(CancellationToken ct = default)
    {
        if (_writeClosed) return;
        _writeClosed = true;
        await _out.CompleteAsync();
    }

    private Action? _disposed;

    /// <summary>Called once, when the stream is disposed.</summary>
    public Action? Disposed { get => _disposed; set => _disposed = value; }

    protected override void Dispose(bool disposing)
    {
        Interlocked.Exchange(ref _disposed, null)?.Invoke();
        base.Dispose(disposing);
    }

    public override void Reset()
    {
        if (WasReset) return;
        WasReset = true;
        if (!_writeClosed) _out.Complete(new IOException("stream reset"));
        _in.Complete();
    }
}
