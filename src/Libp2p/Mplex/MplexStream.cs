using ClP2p.Libp2p.Transport;

namespace ClP2p.Libp2p.Mplex;

/// <summary>One mplex stream. <see cref="IsLocal"/> = we opened it (we send the *Initiator flags).</summary>
internal sealed class MplexStream : MuxedStream
{
    private readonly MplexSession _session;

    public MplexStream(MplexSession session, ulong id, bool local)
        : base(session)
    {
        _session = session;
        Id = id;
        IsLocal = local;
    }

    public ulong Id { get; }

    public bool IsLocal { get; }

    private MplexFlag MessageFlag => IsLocal ? MplexFlag.MessageInitiator : MplexFlag.MessageReceiver;

    private MplexFlag CloseFlag => IsLocal ? MplexFlag.CloseInitiator : MplexFlag.CloseReceiver;

    private MplexFlag ResetFlag => IsLocal ? MplexFlag.ResetInitiator : MplexFlag.ResetReceiver;

    protected override void LeaveSession() => _session.Remove(this);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            ThrowIfCannotWrite();
            int n = Math.Min(buffer.Length, MplexSession.MaxWriteChunk);
            await _session.WriteFrameAsync(new MplexHeader(Id, MessageFlag, n), buffer[..n], cancellationToken).ConfigureAwait(false);
            buffer = buffer[n..];
        }
    }

    protected override ValueTask WriteFinAsync(CancellationToken ct) =>
        _session.WriteFrameAsync(new MplexHeader(Id, CloseFlag, 0), ReadOnlyMemory<byte>.Empty, ct);

    protected override async ValueTask<bool> TryWriteLastAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (data.Length > MplexSession.MaxWriteChunk)
        {
            return false;
        }
        await _session.WriteFrameAsync(new MplexHeader(Id, MessageFlag, data.Length), data, ct, new MplexHeader(Id, CloseFlag, 0)).ConfigureAwait(false);
        return true;
    }

    protected override void QueueFin() => _session.QueueFrame(new MplexHeader(Id, CloseFlag, 0));

    protected override void QueueReset() => _session.QueueFrame(new MplexHeader(Id, ResetFlag, 0));
}
