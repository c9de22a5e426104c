namespace ClP2p.Libp2p;

/// <summary>
/// A multiplexed libp2p stream (yamux or mplex) with half-close. Reads return 0 once the remote closed its write
/// side; reads and writes throw <see cref="IOException"/> after a reset or when the connection is gone.
/// </summary>
public abstract class Libp2pStream : Stream
{
    /// <summary>The protocol negotiated on this stream by multistream-select ("" before negotiation).</summary>
    public string Protocol { get; internal set; } = "";

    /// <summary>Closes our write side (yamux FIN / mplex Close); the remote reads EOF, we can still read.</summary>
    public abstract ValueTask CloseWriteAsync(CancellationToken ct = default);

    /// <summary>
    /// Writes <paramref name="data"/> and closes our write side. A muxed stream sends the data frame and the FIN (or
    /// mplex Close) frame in one write to the connection, so one Noise frame and one TCP write carry both.
    /// </summary>
    public virtual async ValueTask WriteAndCloseAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        if (!data.IsEmpty)
        {
            await WriteAsync(data, ct).ConfigureAwait(false);
        }
        await CloseWriteAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Aborts the stream in both directions (yamux RST / mplex Reset).</summary>
    public abstract void Reset();

    /// <summary>
    /// Consumes <paramref name="expected"/> if the next bytes to read are exactly it: true once they arrived and were
    /// taken; false, with nothing consumed, as soon as what arrived differs from it or the stream ends short of it, or
    /// when this stream cannot look ahead (then the caller reads and judges the bytes itself). For answers known in
    /// advance, such as a multistream echo: one read of the buffered bytes instead of one per message part.
    /// </summary>
    internal virtual ValueTask<bool> TryReadExpectedAsync(ReadOnlyMemory<byte> expected, CancellationToken ct) => new(false);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException("not a seekable stream");
    public override long Position { get => throw new NotSupportedException("not a seekable stream"); set => throw new NotSupportedException("not a seekable stream"); }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("not a seekable stream");

    public override void SetLength(long value) => throw new NotSupportedException("not a seekable stream");

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
