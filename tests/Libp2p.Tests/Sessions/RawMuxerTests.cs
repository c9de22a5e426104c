using System.Buffers;
using System.Net;
using ClP2p.Libp2p.Codecs;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Mplex;
using ClP2p.Libp2p.Transport;
using ClP2p.Libp2p.Yamux;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>Our yamux/mplex sessions against a hand-driven remote writing raw frames (the yamux and mplex specs, and the upstream issues each test names).</summary>
public sealed class RawMuxerTests
{
    /// <summary>A session of ours over an in-memory pipe whose other end (<see cref="Remote"/>) the test writes raw frames to.</summary>
    private abstract class MuxerRig<TSession> : IAsyncDisposable where TSession : MuxerSession
    {
        protected MuxerRig(Func<Stream, TSession> create)
        {
            (var ours, Remote) = DuplexPipe.CreatePair();
            Session = create(ours);
            Session.Start(s =>
            {
                Inbound.Writer.TryWrite(s);
                return Task.CompletedTask;
            });
        }

        public Stream Remote { get; }
        public TSession Session { get; }
        public System.Threading.Channels.Channel<MuxedStream> Inbound { get; } = System.Threading.Channels.Channel.CreateUnbounded<MuxedStream>();

        public async ValueTask DisposeAsync()
        {
            await Session.DisposeAsync();
            await Remote.DisposeAsync();
        }
    }

    private sealed class YamuxRig() : MuxerRig<YamuxSession>(pipe => new YamuxSession(pipe, isInitiator: true, NullLogger.Instance, Libp2pMetrics.Shared))
    {
        public async Task SendAsync(YamuxFrameType type, YamuxFlags flags, uint id, uint length, byte[]? data = null)
        {
            var buf = new byte[12 + (data?.Length ?? 0)];
            new YamuxHeader(type, flags, id, length).Encode(buf);
            data?.CopyTo(buf, 12);
            await Remote.WriteAsync(buf);
        }

        public async Task<(YamuxHeader Header, byte[] Data)> ReceiveAsync()
        {
            using var cts = new CancellationTokenSource(HangGuard);
            var hdr = new byte[12];
            await Remote.ReadExactlyAsync(hdr, cts.Token);
            Assert.True(YamuxHeader.TryDecode(hdr, out var h, out _));
            var data = h.Type == YamuxFrameType.Data ? new byte[h.Length] : [];
            await Remote.ReadExactlyAsync(data, cts.Token);
            return (h, data);
        }
    }

    [Fact]
    public async Task Yamux_answers_ping_syn_with_ack_and_the_same_opaque_value()
    {
        await using var rig = new YamuxRig();
        await rig.SendAsync(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 0xdeadbeef);
        var (h, _) = await rig.ReceiveAsync();
        Assert.Equal(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, 0xdeadbeef), h);
    }

    [Fact]
    public async Task Yamux_inbound_syn_is_acked_and_fin_on_window_update_ends_the_read_side()
    {
        await using var rig = new YamuxRig();
        await rig.SendAsync(YamuxFrameType.Data, YamuxFlags.Syn, 2, 3, [1, 2, 3]);
        var stream = await rig.Inbound.Reader.ReadAsync().AsTask().WaitAsync(HangGuard);
        var (ack, _) = await rig.ReceiveAsync();
        Assert.Equal(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, 2, 0), ack);
        await rig.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, 2, 0); // rust-yamux #189: FIN on a WindowUpdate
        var ms = new MemoryStream();
        await stream.CopyToAsync(ms).WaitAsync(HangGuard);
        Assert.Equal(new byte[] { 1, 2, 3 }, ms.ToArray());
        // Our reply and FIN go out as Data / WindowUpdate frames on the same id.
        await stream.WriteAsync(new byte[] { 9 });
        await stream.CloseWriteAsync();
        Assert.Equal(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 2, 1), (await rig.ReceiveAsync()).Header);
        Assert.Equal(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, 2, 0), (await rig.ReceiveAsync()).Header);
        Assert.Equal(0, rig.Session.StreamCount);
    }

    [Fact]
    public async Task Yamux_outbound_streams_use_odd_ids_and_the_syn_rides_on_their_first_frame()
    {
        await using var rig = new YamuxRig();
        var s1 = await rig.Session.OpenStreamAsync(CancellationToken.None);
        var s2 = await rig.Session.OpenStreamAsync(CancellationToken.None);
        var s3 = await rig.Session.OpenStreamAsync(CancellationToken.None);
        // no frame for an open alone: the first write carries the SYN, later ones do not
        await s2.WriteAsync(new byte[] { 7 });
        await s1.WriteAsync(new byte[] { 8, 9 });
        await s1.WriteAsync(new byte[] { 10 });
        Assert.Equal(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Syn, 3, 1), (await rig.ReceiveAsync()).Header);
        Assert.Equal(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Syn, 1, 2), (await rig.ReceiveAsync()).Header);
        Assert.Equal(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, 1), (await rig.ReceiveAsync()).Header);
        // a stream never written to is unknown to the remote: its reset sends nothing and it leaves the session
        s3.Reset();
        s2.Reset();
        Assert.Equal(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, 3, 0), (await rig.ReceiveAsync()).Header);
        Assert.Equal(1, rig.Session.StreamCount);
        // closed before any write, by either way of closing: nothing is sent, reads end, and the stream leaves
        var s4 = await rig.Session.OpenStreamAsync(CancellationToken.None);
        await s4.CloseWriteAsync();
        Assert.Equal(0, await s4.ReadAsync(new byte[1]));
        var s5 = await rig.Session.OpenStreamAsync(CancellationToken.None);
        await s5.DisposeAsync();
        var s6 = await rig.Session.OpenStreamAsync(CancellationToken.None);
        s6.Dispose();
        Assert.Equal(1, rig.Session.StreamCount);
        await s1.WriteAsync(new byte[] { 11 });
        Assert.Equal(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, 1), (await rig.ReceiveAsync()).Header);
    }

    [Fact]
    public async Task Yamux_grants_window_at_half_consumed_with_a_delta()
    {
        await using var rig = new YamuxRig();
        var s = await rig.Session.OpenStreamAsync(CancellationToken.None);
        byte[] chunk = new byte[64 * 1024];
        for (int i = 0; i < 4; i++)
        {
            await rig.SendAsync(YamuxFrameType.Data, i == 0 ? YamuxFlags.Ack : YamuxFlags.None, 1, (uint)chunk.Length, chunk);
        }
        var read = new byte[128 * 1024];
        await s.ReadExactlyAsync(read).AsTask().WaitAsync(HangGuard);
        var (h, _) = await rig.ReceiveAsync();
        Assert.Equal(YamuxFrameType.WindowUpdate, h.Type);
        Assert.Equal(1u, h.StreamId);
        Assert.Equal(128u * 1024, h.Length);
    }

    [Fact]
    public async Task Yamux_data_beyond_the_window_is_a_protocol_error_and_goaway()
    {
        await using var rig = new YamuxRig();
        await rig.Session.OpenStreamAsync(CancellationToken.None);
        byte[] big = new byte[256 * 1024 + 1];
        await rig.SendAsync(YamuxFrameType.Data, YamuxFlags.Ack, 1, (uint)big.Length, big);
        var (h, _) = await rig.ReceiveAsync();
        Assert.Equal(new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAwayCode.ProtocolError), h);
        await rig.Session.Completion.WaitAsync(HangGuard);
        Assert.True(rig.Session.IsClosed);
    }

    [Fact]
    public async Task Yamux_unknown_stream_data_is_drained_and_the_session_goes_on()
    {
        await using var rig = new YamuxRig();
        await rig.SendAsync(YamuxFrameType.Data, YamuxFlags.None, 41, 5, [1, 2, 3, 4, 5]);
        await rig.SendAsync(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 7);
        Assert.Equal(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, 7), (await rig.ReceiveAsync()).Header);
        Assert.False(rig.Session.IsClosed);
    }

    [Fact]
    public async Task Yamux_huge_frame_for_unknown_stream_closes_without_allocating_its_size()
    {
        await using var rig = new YamuxRig();
        await rig.SendAsync(YamuxFrameType.Data, YamuxFlags.None, 41, uint.MaxValue);
        var (h, _) = await rig.ReceiveAsync();
        Assert.Equal(YamuxFrameType.GoAway, h.Type);
        Assert.Equal((uint)YamuxGoAwayCode.ProtocolError, h.Length);
        await rig.Session.Completion.WaitAsync(HangGuard);
        Assert.Contains("exceeds any window", rig.Session.CloseReason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(3u)] // odd id from the listener side: wrong parity for a remote-opened stream
    [InlineData(0u)] // id 0 is the session
    public async Task Yamux_syn_with_wrong_stream_id_is_a_protocol_error(uint id)
    {
        await using var rig = new YamuxRig();
        await rig.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, id, 0);
        Assert.Equal(YamuxFrameType.GoAway, (await rig.ReceiveAsync()).Header.Type);
        await rig.Session.Completion.WaitAsync(HangGuard);
    }

    [Fact]
    public async Task Yamux_version_1_header_closes_the_session()
    {
        await using var rig = new YamuxRig();
        var buf = new byte[12];
        new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 1).Encode(buf);
        buf[0] = 1;
        await rig.Remote.WriteAsync(buf);
        Assert.Equal(YamuxFrameType.GoAway, (await rig.ReceiveAsync()).Header.Type);
        await rig.Session.Completion.WaitAsync(HangGuard);
    }

    [Fact]
    public async Task Yamux_goaway_from_remote_completes_and_refuses_new_streams()
    {
        await using var rig = new YamuxRig();
        await rig.SendAsync(YamuxFrameType.GoAway, YamuxFlags.None, 0, 0);
        await rig.Session.Completion.WaitAsync(HangGuard);
        var ex = await Assert.ThrowsAsync<DialException>(() => rig.Session.OpenStreamAsync(CancellationToken.None));
        Assert.Equal(DialErrorClass.GoAway, ex.Class);
    }

    [Fact]
    public async Task Yamux_remote_window_update_unblocks_a_writer_waiting_for_window()
    {
        await using var rig = new YamuxRig();
        var s = await rig.Session.OpenStreamAsync(CancellationToken.None);
        var write = s.WriteAsync(new byte[256 * 1024 + 10]).AsTask();
        var (h, data) = await rig.ReceiveAsync();
        Assert.Equal(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Syn, 1, 256 * 1024), h);
        Assert.False(write.IsCompleted);
        await rig.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, 1, 10);
        var (h2, _) = await rig.ReceiveAsync();
        Assert.Equal(10u, h2.Length);
        await write.WaitAsync(HangGuard);
        Assert.Equal(256 * 1024, data.Length);
    }

    [Fact]
    public async Task Stream_negotiation_with_a_silent_remote_is_Timeout_at_Stream()
    {
        var (a, remote) = DuplexPipe.CreatePair();
        var options = new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), StreamTimeout = TimeSpan.FromMilliseconds(300) };
        using var host = new Libp2pHost(options, null, null, null);
        var session = new YamuxSession(a, true, NullLogger.Instance, Libp2pMetrics.Shared);
        await using var conn = new Libp2pConnection(host, session, options.Identity.PublicKey, new IPEndPoint(IPAddress.Loopback, 1), true);
        session.Start(conn.HandleInboundAsync);
        var ex = await Assert.ThrowsAsync<DialException>(() => conn.OpenStreamAsync(["/x/1"], CancellationToken.None));
        Assert.Equal(DialErrorClass.Timeout, ex.Class);
        Assert.Equal(DialStep.Stream, ex.Step);
        await remote.DisposeAsync();
    }

    private sealed class MplexRig() : MuxerRig<MplexSession>(pipe => new MplexSession(pipe, isInitiator: true, NullLogger.Instance, Libp2pMetrics.Shared))
    {
        public Task SendAsync(ulong id, MplexFlag flag, byte[] data) => SendRawAsync(id, flag, data.Length, data);

        public async Task SendRawAsync(ulong id, MplexFlag flag, int declaredLength, byte[] data)
        {
            var buf = new byte[MplexHeader.MaxSize + data.Length];
            int n = Varint.Write(buf, (id << 3) | (byte)flag);
            n += Varint.Write(buf.AsSpan(n), (ulong)declaredLength);
            data.CopyTo(buf, n);
            await Remote.WriteAsync(buf.AsMemory(0, n + data.Length));
        }

        public async Task<(MplexHeader Header, byte[] Data)> ReceiveAsync()
        {
            using var cts = new CancellationTokenSource(HangGuard);
            var hdr = new byte[MplexHeader.MaxSize];
            int got = 0;
            while (true)
            {
                await Remote.ReadExactlyAsync(hdr.AsMemory(got, 1), cts.Token);
                got++;
                if (MplexHeader.TryDecode(hdr.AsSpan(0, got), out var h, out _, out _) == OperationStatus.Done)
                {
                    var data = new byte[h.Length];
                    await Remote.ReadExactlyAsync(data, cts.Token);
                    return (h, data);
                }
            }
        }
    }

    [Fact]
    public async Task Mplex_streams_with_the_same_id_from_both_sides_are_distinct()
    {
        await using var rig = new MplexRig();
        var ours = await rig.Session.OpenStreamAsync(CancellationToken.None);
        var (open, name) = await rig.ReceiveAsync();
        Assert.Equal(new MplexHeader(0, MplexFlag.NewStream, 1), open);
        Assert.Equal("0"u8.ToArray(), name);

        await rig.SendAsync(0, MplexFlag.NewStream, "0"u8.ToArray());
        var theirs = await rig.Inbound.Reader.ReadAsync().AsTask().WaitAsync(HangGuard);
        await rig.SendAsync(0, MplexFlag.MessageInitiator, [0xaa]); // for the stream THEY opened
        await rig.SendAsync(0, MplexFlag.MessageReceiver, [0xbb]); // for the stream WE opened
        var b = new byte[1];
        await theirs.ReadExactlyAsync(b).AsTask().WaitAsync(HangGuard);
        Assert.Equal(0xaa, b[0]);
        await ours.ReadExactlyAsync(b).AsTask().WaitAsync(HangGuard);
        Assert.Equal(0xbb, b[0]);

        await ours.WriteAsync(new byte[] { 1 });
        Assert.Equal(new MplexHeader(0, MplexFlag.MessageInitiator, 1), (await rig.ReceiveAsync()).Header);
        await theirs.WriteAsync(new byte[] { 2 });
        Assert.Equal(new MplexHeader(0, MplexFlag.MessageReceiver, 1), (await rig.ReceiveAsync()).Header);
        await theirs.CloseWriteAsync();
        Assert.Equal(new MplexHeader(0, MplexFlag.CloseReceiver, 0), (await rig.ReceiveAsync()).Header);
        ours.Reset();
        Assert.Equal(new MplexHeader(0, MplexFlag.ResetInitiator, 0), (await rig.ReceiveAsync()).Header);
    }

    [Fact]
    public async Task Mplex_unknown_stream_is_ignored_not_reset()
    {
        await using var rig = new MplexRig();
        await rig.SendAsync(77, MplexFlag.MessageInitiator, [1, 2, 3]);
        await rig.SendAsync(5, MplexFlag.NewStream, []);
        var s = await rig.Inbound.Reader.ReadAsync().AsTask().WaitAsync(HangGuard);
        await rig.SendAsync(5, MplexFlag.CloseInitiator, []);
        Assert.Equal(0, await s.ReadAsync(new byte[1]).AsTask().WaitAsync(HangGuard));
        await s.CloseWriteAsync();
        // The first frame we send is the close for stream 5: nothing was sent about stream 77.
        Assert.Equal(new MplexHeader(5, MplexFlag.CloseReceiver, 0), (await rig.ReceiveAsync()).Header);
    }

    [Fact]
    public async Task Mplex_message_over_1_MiB_closes_the_session_without_reading_it()
    {
        await using var rig = new MplexRig();
        await rig.SendRawAsync(0, MplexFlag.MessageInitiator, (1 << 20) + 1, []);
        await rig.Session.Completion.WaitAsync(HangGuard);
        Assert.True(rig.Session.IsClosed);
        Assert.Contains("1 MiB", rig.Session.CloseReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mplex_remote_reset_fails_reads_on_that_stream()
    {
        await using var rig = new MplexRig();
        await rig.SendAsync(3, MplexFlag.NewStream, []);
        var s = await rig.Inbound.Reader.ReadAsync().AsTask().WaitAsync(HangGuard);
        await rig.SendAsync(3, MplexFlag.ResetInitiator, []);
        await Assert.ThrowsAsync<IOException>(() => s.ReadExactlyAsync(new byte[1]).AsTask().WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Mplex_slow_reader_gets_everything_because_the_read_loop_waits_instead_of_resetting()
    {
        await using var rig = new MplexRig();
        await rig.SendAsync(9, MplexFlag.NewStream, []);
        var s = await rig.Inbound.Reader.ReadAsync().AsTask().WaitAsync(HangGuard);
        byte[] chunk = new byte[64 * 1024];
        new Random(3).NextBytes(chunk);
        const int Chunks = 96; // 6 MiB > the 4 MiB buffer cap
        var sender = Task.Run(async () =>
        {
            for (int i = 0; i < Chunks; i++)
            {
                await rig.SendAsync(9, MplexFlag.MessageInitiator, chunk);
            }
            await rig.SendAsync(9, MplexFlag.CloseInitiator, []);
        });
        await s.FirstFlowControlWait.WaitAsync(HangGuard); // the read loop reached the cap and waits for us
        Assert.True(s.Buffered <= MplexSession.MaxBufferedPerStream);
        long total = 0;
        var buf = new byte[100_000];
        int n;
        while ((n = await s.ReadAsync(buf).AsTask().WaitAsync(HangGuard)) > 0)
        {
            total += n;
        }
        await sender.WaitAsync(HangGuard);
        Assert.Equal((long)Chunks * chunk.Length, total);
    }
}
