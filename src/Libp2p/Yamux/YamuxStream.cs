using System.Runtime.CompilerServices;
using ClP2p.Libp2p.Transport;

namespace ClP2p.Libp2p.Yamux;

/// <summary>One yamux stream: send side respects the remote's window, receive side grants window as the user reads.</summary>
internal sealed class YamuxStream : MuxedStream
{
    private readonly YamuxSession _session;
    private readonly AsyncSignal _windowSignal = new();
    private long _sendWindow = YamuxSession.InitialWindow;
    private long _recvWindow = YamuxSession.InitialWindow;
    private int _unacknowledged;
    private int _ackPending;
    private int _synPending;

    public YamuxStream(YamuxSession session, uint id, bool ackPending, bool synPending)
        : base(session)
    {
        _session = session;
        Id = id;
        _ackPending = ackPending ? 1 : 0;
        _synPending = synPending ? 1 : 0;
    }

    public uint Id { get; }

    internal bool AckStillPending => Volatile.Read(ref _ackPending) != 0;

    /// <summary>Called under the session write lock: true once, for the first frame we send on an inbound stream.</summary>
    internal bool ClaimAck() => Interlocked.Exchange(ref _ackPending, 0) != 0;

    /// <summary>Called under the session write lock: true once, for the first frame we send on a stream we opened (it
    /// carries the SYN).</summary>
    internal bool ClaimSyn() => Interlocked.Exchange(ref _synPending, 0) != 0;

    internal bool TryTakeReceiveWindow(uint length)
    {
        if (length > Interlocked.Read(ref _recvWindow))
        {
            return false;
        }
        Interlocked.Add(ref _recvWindow, -length);
        return true;
    }

    internal bool AddSendWindow(uint delta)
    {
        long w = Interlocked.Add(ref _sendWindow, delta);
        _windowSignal.Set();
        return w <= YamuxSession.MaxSendWindow;
    }

    protected override void LeaveSession() => _session.Remove(this);

    protected override void OnAbortWriters() => _windowSignal.Set();

    protected override async ValueTask OnConsumedAsync(int n, CancellationToken ct)
    {
        _unacknowledged += n;
        if (_unacknowledged >= YamuxSession.InitialWindow / 2 && !InboundDone && !LocallyReset)
        {
            uint delta = (uint)_unacknowledged;
            _unacknowledged = 0;
            Interlocked.Add(ref _recvWindow, delta);
            try
            {
                await _session.WriteFrameAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.None, Id, delta), ReadOnlyMemory<byte>.Empty, this, ct).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                // The connection is going away; the bytes just read are still the caller's. Later reads report the loss.
                _session.Ignored("window update", e);
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            ThrowIfCannotWrite();
            var wait = _windowSignal.WaitTask;
            long window = Interlocked.Read(ref _sendWindow);
            if (window <= 0)
            {
                OnFlowControlWait();
                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            int n = (int)Math.Min(Math.Min(window, buffer.Length), YamuxSession.MaxDataFrame);
            Interlocked.Add(ref _sendWindow, -n);
            await _session.WriteFrameAsync(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, Id, (uint)n), buffer[..n], this, cancellationToken).ConfigureAwait(false);
            buffer = buffer[n..];
        }
    }

    // Our FIN goes in a frame of its own, never on the last data frame (which the yamux spec allows): js-libp2p-yamux
    // 7.0 acts on a data frame's flags before its data (stream handleData: processFlags, then readData and push), so
    // a FIN riding on data closes the remote's read side first and the data is dropped. Tried, and the js interop
    // tests lost every request and response sent that way.
    protected override ValueTask WriteFinAsync(CancellationToken ct) =>
        ForgetUnannounced() ? ValueTask.CompletedTask : _session.WriteFrameAsync(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, Id, 0), ReadOnlyMemory<byte>.Empty, this, ct);

    // The data and the FIN as two frames in one write (so in one Noise frame and one TCP write): the FIN still
    // travels in a frame of its own (see WriteFinAsync), the remote reads the data frame before it.
    protected override async ValueTask<bool> TryWriteLastAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (data.Length > YamuxSession.MaxDataFrame || Interlocked.Read(ref _sendWindow) < data.Length)
        {
            return false;
        }
        Interlocked.Add(ref _sendWindow, -data.Length);
        await _session.WriteFrameAsync(
            new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, Id, (uint)data.Length), data, this, ct,
            new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, Id, 0)).ConfigureAwait(false);
        return true;
    }

    protected override void QueueFin()
    {
        if (ForgetUnannounced())
        {
            return;
        }
        _session.QueueFrame(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, Id, 0), this);
    }

    /// <summary>
    /// A stream we opened and never wrote to was never announced (its SYN rides on its first frame): the remote does not
    /// know it, so closing it sends nothing, no FIN of the remote's will come (our reads end), and it leaves the session.
    /// </summary>
    private bool ForgetUnannounced()
    {
        if (!ClaimSyn())
        {
            return false;
        }
        OnRemoteClose();
        LeaveSession();
        return true;
    }

    protected override void QueueReset()
    {
        // never announced: nothing to reset on the remote's side
        if (ClaimSyn())
        {
            return;
        }
        _session.QueueFrame(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, Id, 0), this);
    }
}
