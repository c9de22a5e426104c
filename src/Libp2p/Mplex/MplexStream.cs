using ClP2p.Libp2p.Transport;

namespace ClP2p.Libp2p.Mplex;

/// <summary>One mplex stream. <see cref="IsLocal"/> = we opened it (we send the *Initiator flags).</summary>
internal sealed class MplexStream : MuxedStream
{
    private readonly MplexSession _session;
    private volatile bool _remoteReset;

    public MplexStream(MplexSession session, ulong id, bool local)
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

    internal void OnRemoteFin()
    {
        OnRemoteClose();
        if (WriteClosed)
        {
            _session.Remove(this);
        }
    }

    internal void OnRemoteReset()
    {
        _remoteReset = true;
        OnAbort("stream reset by remote");
        _session.Remove(this);
    }

    private void ThrowIfCannotWrite()
    {
        if (LocallyReset || _remoteReset)
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

    public override async ValueTask CloseWriteAsync(CancellationToken ct = default)
    {
        if (WriteClosed)
        {
            return;
        }
        ThrowIfCannotWrite();
        WriteClosed = true;
        await _session.WriteFrameAsync(new MplexHeader(Id, CloseFlag, 0), ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);
        if (InboundDone)
        {
            _session.Remove(this);
        }
    }

    protected override void QueueCloseWrite()
    {
        if (WriteClosed || _session.IsClosed)
        {
            return;
        }
        WriteClosed = true;
        _session.QueueFrame(new MplexHeader(Id, CloseFlag, 0));
        if (InboundDone)
        {
            _session.Remove(this);
        }
    }

    public override void Reset()
    {
        if (LocallyReset)
        {
            return;
        }
        MarkLocalReset();
        _session.Remove(this);
        if (!_remoteReset && !_session.IsClosed)
        {
            _session.QueueFrame(new MplexHeader(Id, ResetFlag, 0));
        }
    }
}
