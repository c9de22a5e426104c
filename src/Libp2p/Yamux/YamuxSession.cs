using System.Buffers;
using System.Runtime.CompilerServices;
using ClP2p.Libp2p.Transport;
using Microsoft.Extensions.Logging;

namespace ClP2p.Libp2p.Yamux;

/// <summary>
/// A yamux session (yamux.md) over a secure stream. The dialer uses odd stream ids, the listener even ones.
/// Each stream starts with a 256 KiB window in both directions; we grant more as the reader consumes (at half).
/// </summary>
internal sealed class YamuxSession : MuxerSession
{
    public const string ProtocolId = "/yamux/1.0.0";
    /// <summary>"each stream starts with a 256KiB window size" = 262144 (not 256000).</summary>
    public const int InitialWindow = 256 * 1024;
    /// <summary>Largest send window we accept the remote to grant (u32 deltas could overflow otherwise).</summary>
    public const long MaxSendWindow = uint.MaxValue;
    /// <summary>Largest data frame we write.</summary>
    public const int MaxDataFrame = 256 * 1024;
    /// <summary>Concurrent streams we accept; further SYNs are answered with RST.</summary>
    public const int MaxStreams = 512;

    private const byte KindHeader = 0;

    private readonly Dictionary<uint, YamuxStream> _streams = [];
    private readonly Lock _streamsLock = new();
    private uint _nextId;
    private volatile bool _remoteGoAway;

    public YamuxSession(Stream transport, bool isInitiator, ILogger logger, Libp2pMetrics metrics, TimeProvider? time = null)
        : base(transport, isInitiator, logger, metrics, time)
    {
        _nextId = isInitiator ? 1u : 2u;
    }

    public override string Protocol => ProtocolId;

    public int StreamCount
    {
        get
        {
            lock (_streamsLock)
            {
                return _streams.Count;
            }
        }
    }

    public override Task<MuxedStream> OpenStreamAsync(CancellationToken ct)
    {
        try
        {
            ThrowIfClosed();
            if (_remoteGoAway)
            {
                throw new DialException(DialErrorClass.GoAway, DialStep.Stream, "remote sent GoAway");
            }
        }
        catch (Exception e)
        {
            return Task.FromException<MuxedStream>(e);
        }
        YamuxStream stream;
        lock (_streamsLock)
        {
            uint id = _nextId;
            _nextId += 2;
            stream = new YamuxStream(this, id, ackPending: false, synPending: true);
            _streams[id] = stream;
        }
        // No frame of its own: the SYN rides on the stream's first frame (yamux spec.md "Flag Field": SYN "may be sent
        // with a data or window update message"), which for a stream we open is our multistream proposal. Each frame
        // is a Noise frame and a TCP segment of its own, and a dial opens five streams.
        return Task.FromResult<MuxedStream>(stream);
    }

    protected override IReadOnlyCollection<MuxedStream> SnapshotStreams()
    {
        lock (_streamsLock)
        {
            return [.. _streams.Values];
        }
    }

    internal void Remove(YamuxStream stream)
    {
        lock (_streamsLock)
        {
            if (_streams.TryGetValue(stream.Id, out var s) && ReferenceEquals(s, stream))
            {
                _streams.Remove(stream.Id);
            }
        }
    }

    /// <summary>
    /// Writes one frame under the write lock; the stream's pending ACK (or SYN) rides on it. A <paramref name="trailer"/>
    /// (a frame without data, such as a FIN) follows it in the same write to the transport.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask WriteFrameAsync(YamuxHeader header, ReadOnlyMemory<byte> data, YamuxStream? stream, CancellationToken ct, YamuxHeader? trailer = null)
    {
        await AcquireWriteAsync(ct).ConfigureAwait(false);
        int length = YamuxHeader.Size + data.Length + (trailer is null ? 0 : YamuxHeader.Size);
        byte[] buf = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            if (stream is not null && stream.ClaimAck())
            {
                header = header with { Flags = header.Flags | YamuxFlags.Ack };
            }
            if (stream is not null && stream.ClaimSyn())
            {
                header = header with { Flags = header.Flags | YamuxFlags.Syn };
            }
            header.Encode(buf);
            data.Span.CopyTo(buf.AsSpan(YamuxHeader.Size));
            trailer?.Encode(buf.AsSpan(YamuxHeader.Size + data.Length));
            await WriteTransportAsync(buf.AsMemory(0, length)).ConfigureAwait(false);
        }
        finally
        {
            ReleaseWrite();
            ArrayPool<byte>.Shared.Return(buf);
        }
    }

    internal void QueueFrame(YamuxHeader header, YamuxStream? stream) =>
        EnqueueControl(new ControlFrame(KindHeader, header.StreamId, (uint)header.Flags | ((uint)header.Type << 16), header.Length, stream));

    protected override ValueTask WriteControlAsync(ControlFrame frame, CancellationToken ct)
    {
        var header = new YamuxHeader((YamuxFrameType)(frame.Flags >> 16), (YamuxFlags)(frame.Flags & 0xffff), (uint)frame.StreamId, frame.Value);
        if (frame.Stream is YamuxStream s && header.Type == YamuxFrameType.WindowUpdate && header.Flags == YamuxFlags.Ack && !s.AckStillPending)
        {
            return ValueTask.CompletedTask; // the ACK already rode on a data frame
        }
        return WriteFrameAsync(header, ReadOnlyMemory<byte>.Empty, frame.Stream as YamuxStream, ct);
    }

    protected override ValueTask SendGoodbyeAsync(CancellationToken ct) =>
        WriteFrameAsync(new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAwayCode.Normal), ReadOnlyMemory<byte>.Empty, null, ct);

    protected override ValueTask OnProtocolErrorAsync(CancellationToken ct) =>
        WriteFrameAsync(new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAwayCode.ProtocolError), ReadOnlyMemory<byte>.Empty, null, ct);

    protected override async Task ReadLoopAsync(CancellationToken ct)
    {
        byte[] hdr = new byte[YamuxHeader.Size];
        while (!IsClosed) // a local close ends the loop between frames (the transport may still hold unread bytes)
        {
            int got = 0;
            while (got < YamuxHeader.Size)
            {
                int n = await Transport.ReadAsync(hdr.AsMemory(got), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    if (got == 0)
                    {
                        return; // clean EOF between frames
                    }
                    throw new EndOfStreamException("connection closed inside a yamux header");
                }
                got += n;
            }
            if (!YamuxHeader.TryDecode(hdr, out var h, out var error))
            {
                throw new MuxerProtocolException(error!);
            }
            switch (h.Type)
            {
                case YamuxFrameType.Data:
                case YamuxFrameType.WindowUpdate:
                    await OnStreamFrameAsync(h, ct).ConfigureAwait(false);
                    break;
                case YamuxFrameType.Ping:
                    if ((h.Flags & YamuxFlags.Syn) != 0)
                    {
                        QueueFrame(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, h.Length), null);
                    }
                    break;
                case YamuxFrameType.GoAway:
                    Logger.LogDebug("yamux GoAway from remote, code {Code}", h.Length);
                    _remoteGoAway = true;
                    SignalGoingAway();
                    break;
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask OnStreamFrameAsync(YamuxHeader h, CancellationToken ct)
    {
        YamuxStream? stream;
        bool isNew = false;
        lock (_streamsLock)
        {
            _streams.TryGetValue(h.StreamId, out stream);
        }
        if ((h.Flags & YamuxFlags.Syn) != 0 && stream is null)
        {
            bool remoteParity = IsInitiator ? h.StreamId % 2 == 0 : h.StreamId % 2 == 1;
            if (h.StreamId == 0 || !remoteParity)
            {
                throw new MuxerProtocolException($"SYN with stream id {h.StreamId} of the wrong parity");
            }
            if (_remoteGoAway || StreamCount >= MaxStreams)
            {
                QueueFrame(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, h.StreamId, 0), null);
            }
            else
            {
                stream = new YamuxStream(this, h.StreamId, ackPending: true, synPending: false);
                lock (_streamsLock)
                {
                    _streams[h.StreamId] = stream;
                }
                isNew = true;
            }
        }
        else if ((h.Flags & YamuxFlags.Syn) != 0 && stream is not null)
        {
            throw new MuxerProtocolException($"SYN for stream {h.StreamId} that is already open");
        }

        if (h.Type == YamuxFrameType.Data)
        {
            if (stream is null || stream.InboundDone || stream.ReadAbandoned)
            {
                await DrainAsync(h.Length, ct).ConfigureAwait(false);
            }
            else if (h.Length > 0)
            {
                if (!stream.TryTakeReceiveWindow(h.Length))
                {
                    throw new MuxerProtocolException($"stream {h.StreamId} sent {h.Length} bytes beyond its window");
                }
                await stream.AppendFromAsync(Transport, (int)h.Length, ct).ConfigureAwait(false);
            }
        }
        else if (stream is not null && h.Length > 0)
        {
            if (!stream.AddSendWindow(h.Length))
            {
                throw new MuxerProtocolException($"window of stream {h.StreamId} overflows");
            }
        }

        if (isNew)
        {
            QueueFrame(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, h.StreamId, 0), stream);
            DispatchInbound(stream!);
        }
        if (stream is null)
        {
            return;
        }
        if ((h.Flags & YamuxFlags.Rst) != 0)
        {
            stream.OnRemoteReset();
        }
        else if ((h.Flags & YamuxFlags.Fin) != 0)
        {
            stream.OnRemoteFin();
        }
    }

    /// <summary>Reads and discards a frame body for a stream we do not know (or no longer read).</summary>
    private async ValueTask DrainAsync(uint length, CancellationToken ct)
    {
        if (length > InitialWindow)
        {
            throw new MuxerProtocolException($"{length}-byte data frame for an unknown stream exceeds any window");
        }
        if (length == 0)
        {
            return;
        }
        byte[] buf = ArrayPool<byte>.Shared.Rent((int)Math.Min(length, 64 * 1024));
        try
        {
            long left = length;
            while (left > 0)
            {
                int n = (int)Math.Min(left, buf.Length);
                await Transport.ReadExactlyAsync(buf.AsMemory(0, n), ct).ConfigureAwait(false);
                left -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }
}
