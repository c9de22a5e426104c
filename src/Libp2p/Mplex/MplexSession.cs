using System.Buffers;
using System.Globalization;
using System.Text;
using ClP2p.Libp2p.Codecs;
using ClP2p.Libp2p.Transport;
using Microsoft.Extensions.Logging;

namespace ClP2p.Libp2p.Mplex;

/// <summary>
/// An mplex session (mplex.md). A stream is identified by its id AND which side opened it: both sides number
/// their own streams from 0. No flow control: a stream whose unread data exceeds <see cref="MaxBufferedPerStream"/> is reset.
/// </summary>
internal sealed class MplexSession : MuxerSession
{
    public const string ProtocolId = "/mplex/6.7.0";
    /// <summary>Unread bytes we keep per stream (js-libp2p-mplex uses 4 MiB). Beyond it the read loop waits for the reader.</summary>
    public const int MaxBufferedPerStream = 4 * 1024 * 1024;
    /// <summary>How long the read loop waits for a slow reader before resetting its stream (mplex has no flow control).</summary>
    public static readonly TimeSpan SlowReaderTimeout = TimeSpan.FromSeconds(5);
    /// <summary>Concurrent streams we accept; further NewStreams are reset.</summary>
    public const int MaxStreams = 512;
    /// <summary>Largest message we write (js and go split at 1 MiB).</summary>
    public const int MaxWriteChunk = 64 * 1024;

    private readonly Dictionary<(ulong Id, bool Local), MplexStream> _streams = [];
    private readonly Lock _streamsLock = new();
    private ulong _nextId;

    public MplexSession(Stream transport, bool isInitiator, ILogger logger, Libp2pMetrics metrics, TimeProvider? time = null)
        : base(transport, isInitiator, logger, metrics, time)
    {
    }

    public override string Protocol => ProtocolId;

    public override async Task<MuxedStream> OpenStreamAsync(CancellationToken ct)
    {
        ThrowIfClosed();
        MplexStream stream;
        lock (_streamsLock)
        {
            stream = new MplexStream(this, _nextId++, local: true);
            _streams[(stream.Id, true)] = stream;
        }
        byte[] name = Encoding.ASCII.GetBytes(stream.Id.ToString(CultureInfo.InvariantCulture));
        await WriteFrameAsync(new MplexHeader(stream.Id, MplexFlag.NewStream, name.Length), name, ct).ConfigureAwait(false);
        return stream;
    }

    protected override IReadOnlyCollection<MuxedStream> SnapshotStreams()
    {
        lock (_streamsLock)
        {
            return [.. _streams.Values];
        }
    }

    internal void Remove(MplexStream stream)
    {
        lock (_streamsLock)
        {
            if (_streams.TryGetValue((stream.Id, stream.IsLocal), out var s) && ReferenceEquals(s, stream))
            {
                _streams.Remove((stream.Id, stream.IsLocal));
            }
        }
    }

    /// <summary>Writes one frame under the write lock; a <paramref name="trailer"/> without data (a Close) follows it in the same write to the transport.</summary>
    internal async ValueTask WriteFrameAsync(MplexHeader header, ReadOnlyMemory<byte> data, CancellationToken ct, MplexHeader? trailer = null)
    {
        await AcquireWriteAsync(ct).ConfigureAwait(false);
        byte[] buf = ArrayPool<byte>.Shared.Rent((2 * MplexHeader.MaxSize) + data.Length);
        try
        {
            int o = header.Encode(buf);
            data.Span.CopyTo(buf.AsSpan(o));
            o += data.Length;
            if (trailer is { } t)
            {
                o += t.Encode(buf.AsSpan(o));
            }
            await WriteTransportAsync(buf.AsMemory(0, o)).ConfigureAwait(false);
        }
        finally
        {
            ReleaseWrite();
            ArrayPool<byte>.Shared.Return(buf);
        }
    }

    internal void QueueFrame(MplexHeader header) => EnqueueControl(new ControlFrame((byte)header.Flag, header.StreamId, 0, 0, null));

    protected override ValueTask WriteControlAsync(ControlFrame frame, CancellationToken ct) =>
        WriteFrameAsync(new MplexHeader(frame.StreamId, (MplexFlag)frame.Kind, 0), ReadOnlyMemory<byte>.Empty, ct);

    protected override async Task ReadLoopAsync(CancellationToken ct)
    {
        byte[] hdr = new byte[MplexHeader.MaxSize];
        while (!IsClosed) // a local close ends the loop between frames (the transport may still hold unread bytes)
        {
            int got = 0;
            MplexHeader h;
            while (true)
            {
                int n = await Transport.ReadAsync(hdr.AsMemory(got, 1), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    if (got == 0)
                    {
                        return;
                    }
                    throw new EndOfStreamException("connection closed inside an mplex header");
                }
                got++;
                var status = MplexHeader.TryDecode(hdr.AsSpan(0, got), out h, out _, out var error);
                if (status == OperationStatus.Done)
                {
                    break;
                }
                if (status == OperationStatus.InvalidData || got == hdr.Length)
                {
                    throw new MuxerProtocolException(error ?? "bad mplex header");
                }
            }
            await OnFrameAsync(h, ct).ConfigureAwait(false);
        }
    }

    private async ValueTask OnFrameAsync(MplexHeader h, CancellationToken ct)
    {
        // A frame sent by the initiator of a stream concerns a stream the remote opened, and vice versa.
        bool local = !h.SentByInitiator;
        if (h.StreamId > MplexHeader.MaxStreamId)
        {
            throw new MuxerProtocolException("mplex stream id too large");
        }
        MplexStream? stream;
        lock (_streamsLock)
        {
            _streams.TryGetValue((h.StreamId, local), out stream);
        }
        switch (h.Flag)
        {
            case MplexFlag.NewStream:
                await DrainAsync(h.Length, ct).ConfigureAwait(false); // the stream name is informational
                if (stream is not null)
                {
                    throw new MuxerProtocolException($"NewStream for open stream {h.StreamId}");
                }
                int count;
                lock (_streamsLock)
                {
                    count = _streams.Count;
                }
                if (count >= MaxStreams)
                {
                    QueueFrame(new MplexHeader(h.StreamId, MplexFlag.ResetReceiver, 0));
                    return;
                }
                stream = new MplexStream(this, h.StreamId, local: false);
                lock (_streamsLock)
                {
                    _streams[(h.StreamId, false)] = stream;
                }
                DispatchInbound(stream);
                return;
            case MplexFlag.MessageInitiator:
            case MplexFlag.MessageReceiver:
                if (stream is null || stream.InboundDone || stream.ReadAbandoned)
                {
                    await DrainAsync(h.Length, ct).ConfigureAwait(false); // unknown streams are ignored, not reset
                }
                else if (stream.Buffered + h.Length > MaxBufferedPerStream
                    && !await stream.WaitForRoomAsync(h.Length, MaxBufferedPerStream, SlowReaderTimeout, Time, Closing).ConfigureAwait(false))
                {
                    Metrics.MalformedFrame(ProtocolId, "stream buffer overflow");
                    await DrainAsync(h.Length, ct).ConfigureAwait(false);
                    stream.Reset();
                }
                else
                {
                    await stream.AppendFromAsync(Transport, h.Length, ct).ConfigureAwait(false);
                }
                return;
            case MplexFlag.CloseInitiator:
            case MplexFlag.CloseReceiver:
                await DrainAsync(h.Length, ct).ConfigureAwait(false);
                stream?.OnRemoteFin();
                return;
            default:
                await DrainAsync(h.Length, ct).ConfigureAwait(false);
                stream?.OnRemoteReset();
                return;
        }
    }

    private async ValueTask DrainAsync(int length, CancellationToken ct)
    {
        if (length == 0)
        {
            return;
        }
        byte[] buf = ArrayPool<byte>.Shared.Rent(Math.Min(length, 64 * 1024));
        try
        {
            while (length > 0)
            {
                int n = Math.Min(length, buf.Length);
                await Transport.ReadExactlyAsync(buf.AsMemory(0, n), ct).ConfigureAwait(false);
                length -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }
}
