using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Text;
using ClP2p.Libp2p.Multistream;
using ClP2p.Libp2p.Transport;
using ClP2p.Libp2p.Yamux;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>
/// Lazy multistream-select on outbound request streams (rust-libp2p #1212, libp2p/specs #643) and a stream's last data
/// and FIN in one transport write: what a raw remote sees, and what one dial costs in writes.
/// </summary>
public sealed class LazySelectTests
{
    private const string Proto = "/test/req/1";

    /// <summary>Our yamux session (dialer) over a recording transport; the test plays the remote with raw frames.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        public Rig()
        {
            (var ours, Remote) = DuplexPipe.CreatePair();
            Transport = new RecordingStream(ours);
            Session = new YamuxSession(Transport, isInitiator: true, NullLogger.Instance, Libp2pMetrics.Shared);
            Session.Start(s => Task.CompletedTask);
        }

        public RecordingStream Transport { get; }
        public Stream Remote { get; }
        public YamuxSession Session { get; }

        public async Task<byte[]> ReceiveAsync(int length)
        {
            using var cts = new CancellationTokenSource(HangGuard);
            var buf = new byte[length];
            await Remote.ReadExactlyAsync(buf, cts.Token);
            return buf;
        }

        public async Task SendAsync(YamuxFlags flags, uint id, byte[] data)
        {
            var buf = new byte[YamuxHeader.Size + data.Length];
            new YamuxHeader(YamuxFrameType.Data, flags, id, (uint)data.Length).Encode(buf);
            data.CopyTo(buf, YamuxHeader.Size);
            await Remote.WriteAsync(buf);
        }

        public async ValueTask DisposeAsync()
        {
            await Session.DisposeAsync();
            await Remote.DisposeAsync();
        }
    }

    private static byte[] Frame(YamuxHeader header, byte[] data)
    {
        var buf = new byte[YamuxHeader.Size + data.Length];
        header.Encode(buf);
        data.CopyTo(buf, YamuxHeader.Size);
        return buf;
    }

    [Fact]
    public async Task Lazy_request_leaves_as_one_write_of_header_proposal_request_and_a_separate_fin_frame()
    {
        await using var rig = new Rig();
        var stream = await rig.Session.OpenStreamAsync(CancellationToken.None);
        byte[] request = [0x11, 0x22, 0x33];
        var select = MultistreamSelect.TrySelectLazyAsync(stream, Proto, request, CancellationToken.None);

        byte[] payload = [.. MultistreamCodec.Encode(MultistreamCodec.Header, Proto), .. request];
        byte[] expected =
        [
            .. Frame(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Syn, 1, (uint)payload.Length), payload),
            // the FIN in a frame of its own after the data (js-libp2p-yamux acts on a data frame's flags before its data)
            .. Frame(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, 1, 0), []),
        ];
        Assert.Equal(expected, await rig.ReceiveAsync(expected.Length));
        Assert.False(select.IsCompleted); // nothing was waited for before the request left; the echo is still to come
        Assert.Equal(expected, Assert.Single(rig.Transport.Writes));

        // The remote echoes and answers; the answer is the stream's next bytes.
        await rig.SendAsync(YamuxFlags.Ack, 1, [.. MultistreamCodec.Encode(MultistreamCodec.Header, Proto), .. "ok"u8.ToArray()]);
        Assert.True(await select.WaitAsync(HangGuard));
        var answer = new byte[2];
        await stream.ReadExactlyAsync(answer).AsTask().WaitAsync(HangGuard);
        Assert.Equal("ok"u8.ToArray(), answer);
    }

    [Fact]
    public async Task Lazy_proposal_answered_na_and_reset_at_once_is_refused_not_reset()
    {
        await using var rig = new Rig();
        var stream = await rig.Session.OpenStreamAsync(CancellationToken.None);
        var select = MultistreamSelect.TrySelectLazyAsync(stream, Proto, new byte[] { 0x54, 1, 2 }, CancellationToken.None);
        await rig.ReceiveAsync(1); // the request left
        // A listener that refuses reads our request as its next proposal, fails on it and resets: "na" and RST arrive
        // together, and the "na" must still be read.
        byte[] answer = MultistreamCodec.Encode(MultistreamCodec.Header, MultistreamCodec.NotAvailable);
        await rig.Remote.WriteAsync((byte[])
        [
            .. Frame(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Ack, 1, (uint)answer.Length), answer),
            .. Frame(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, 1, 0), []),
        ]);
        Assert.False(await select.WaitAsync(HangGuard));
        // and the reset is what the next read reports
        await Assert.ThrowsAsync<IOException>(() => stream.ReadExactlyAsync(new byte[1]).AsTask().WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Lazy_proposal_answered_with_another_protocol_is_a_protocol_violation()
    {
        await using var rig = new Rig();
        var stream = await rig.Session.OpenStreamAsync(CancellationToken.None);
        var select = MultistreamSelect.TrySelectLazyAsync(stream, Proto, ReadOnlyMemory<byte>.Empty, CancellationToken.None);
        await rig.SendAsync(YamuxFlags.Ack, 1, MultistreamCodec.Encode(MultistreamCodec.Header, "/test/other/1"));
        var e = await Assert.ThrowsAsync<NegotiationException>(() => select.WaitAsync(HangGuard));
        Assert.Equal(NegotiationFailure.ProtocolViolation, e.Failure);
    }

    [Fact]
    public async Task Listener_sends_its_header_with_the_echo_in_one_write()
    {
        var (ours, remote) = DuplexPipe.CreatePair();
        var transport = new RecordingStream(ours);
        var handle = MultistreamSelect.HandleAsync(transport, p => p == Proto, CancellationToken.None, headerWithAnswer: true);
        await remote.WriteAsync(MultistreamCodec.Encode(MultistreamCodec.Header, "/test/unknown/1", Proto));
        Assert.Equal(Proto, await handle.WaitAsync(HangGuard));
        byte[] header = MultistreamCodec.Encode(MultistreamCodec.Header);
        Assert.Equal([[.. header, .. MultistreamCodec.Encode(MultistreamCodec.NotAvailable)], MultistreamCodec.Encode(Proto)], transport.Writes);
    }

    [Theory]
    [InlineData("/yamux/1.0.0")]
    [InlineData("/mplex/6.7.0")]
    public async Task Refused_lazy_proposal_is_retried_on_a_new_stream_with_its_own_request_and_answered(string muxer)
    {
        using var metrics = new Libp2pMetrics();
        var fallbacks = new List<string?>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (i, l) =>
        {
            if (ReferenceEquals(i.Meter, metrics.Meter) && i.Name == "clp2p.libp2p.lazy_select_fallbacks")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        meters.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var t in tags)
            {
                lock (fallbacks)
                {
                    fallbacks.Add(t.Value as string);
                }
            }
        });
        meters.Start();
        await using var pair = await InMemoryPair.CreateAsync(muxer, dialerMetrics: metrics);
        var opened = await pair.Client.TryOpenRequestStreamAsync(
            ["/test/unknown/1", InMemoryPair.Echo], p => Encoding.UTF8.GetBytes("request for " + p), CancellationToken.None).WaitAsync(HangGuard);
        var stream = opened.GetValueOrThrow();
        Assert.Equal(InMemoryPair.Echo, stream.Protocol);
        var ms = new MemoryStream();
        await stream.CopyToAsync(ms).WaitAsync(HangGuard);
        // the echo service returned the request built for the protocol it accepted, and nothing of the refused one
        Assert.Equal("request for " + InMemoryPair.Echo, Encoding.UTF8.GetString(ms.ToArray()));
        await stream.DisposeAsync();
        lock (fallbacks)
        {
            Assert.Equal(["/test/unknown/1"], fallbacks);
        }
    }

    [Fact]
    public async Task Every_proposal_refused_is_protocol_not_supported()
    {
        await using var pair = await InMemoryPair.CreateAsync("/yamux/1.0.0");
        var opened = await pair.Client.TryOpenRequestStreamAsync(["/test/a/1", "/test/b/1"], _ => new byte[] { 1 }, CancellationToken.None).WaitAsync(HangGuard);
        Assert.Null(opened.Value);
        Assert.Equal(DialErrorClass.ProtocolNotSupported, opened.Error!.Class);
        Assert.False(pair.Client.IsClosed);
    }

    [Fact]
    public async Task Lazy_request_over_noise_is_one_noise_frame_in_one_transport_write()
    {
        RecordingStream? transport = null;
        await using var pair = await InMemoryPair.CreateAsync("/yamux/1.0.0", clientTransport: raw => transport = new RecordingStream(raw));
        int before = transport!.Writes.Count;
        var opened = await pair.Client.TryOpenRequestStreamAsync([InMemoryPair.Echo], _ => "hello"u8.ToArray(), CancellationToken.None).WaitAsync(HangGuard);
        var stream = opened.GetValueOrThrow();
        var ms = new MemoryStream();
        await stream.CopyToAsync(ms).WaitAsync(HangGuard);
        Assert.Equal("hello", Encoding.UTF8.GetString(ms.ToArray()));

        // Everything we sent for the request (yamux data frame with header, proposal and request, then the FIN frame)
        // went in one write holding exactly one Noise frame: 2-byte length, then that many bytes.
        var writes = transport.Writes.Skip(before).ToList();
        var write = Assert.Single(writes);
        int frame = BinaryPrimitives.ReadUInt16BigEndian(write);
        Assert.Equal(2 + frame, write.Length);
        int plaintext = frame - 16; // the ChaCha20-Poly1305 tag
        int expected = (2 * YamuxHeader.Size) + MultistreamCodec.Encode(MultistreamCodec.Header, InMemoryPair.Echo).Length + 5;
        Assert.Equal(expected, plaintext);
    }

    [Fact]
    public async Task Requests_started_under_a_write_hold_leave_together_in_one_write_when_it_ends()
    {
        RecordingStream? transport = null;
        await using var pair = await InMemoryPair.CreateAsync("/yamux/1.0.0", clientTransport: raw => transport = new RecordingStream(raw));
        int before = transport!.Writes.Count;
        Task<DialResult<Libp2pStream>> first, second;
        var hold = await pair.Client.HoldWritesAsync(CancellationToken.None);
        await using (hold)
        {
            first = pair.Client.TryOpenRequestStreamAsync([InMemoryPair.Echo], _ => "one"u8.ToArray(), CancellationToken.None);
            second = pair.Client.TryOpenRequestStreamAsync([InMemoryPair.Echo], _ => "two"u8.ToArray(), CancellationToken.None);
            Assert.Equal(before, transport.Writes.Count); // nothing left while held
        }
        foreach (var (opened, expected) in new[] { (first, "one"), (second, "two") })
        {
            var stream = (await opened.WaitAsync(HangGuard)).GetValueOrThrow();
            var ms = new MemoryStream();
            await stream.CopyToAsync(ms).WaitAsync(HangGuard);
            Assert.Equal(expected, Encoding.UTF8.GetString(ms.ToArray()));
        }
        var write = Assert.Single(transport.Writes.Skip(before));
        Assert.Equal(2 + BinaryPrimitives.ReadUInt16BigEndian(write), write.Length); // one Noise frame
        int request = (2 * YamuxHeader.Size) + MultistreamCodec.Encode(MultistreamCodec.Header, InMemoryPair.Echo).Length + 3;
        Assert.Equal((2 * request) + 16, write.Length - 2);
    }

    [Fact]
    public async Task Dialer_upgrade_is_two_writes_the_noise_proposal_with_message_1_and_message_3_with_the_muxer_proposal()
    {
        RecordingStream? transport = null;
        await using var pair = await InMemoryPair.CreateAsync("/yamux/1.0.0", clientTransport: raw => transport = new RecordingStream(raw));
        var writes = transport!.Writes;
        Assert.Equal(2, writes.Count); // "/noise" proposal with Noise message 1, then message 3 with the muxer proposal
        var proposal0 = MultistreamCodec.Encode(MultistreamCodec.Header, "/noise");
        Assert.Equal(proposal0, writes[0][..proposal0.Length]);
        Assert.Equal(proposal0.Length + 2 + 32, writes[0].Length); // then message 1: the ephemeral key
        Assert.Equal(32, BinaryPrimitives.ReadUInt16BigEndian(writes[0].AsSpan(proposal0.Length)));
        var last = writes[1];
        int message3 = BinaryPrimitives.ReadUInt16BigEndian(last);
        int proposal = BinaryPrimitives.ReadUInt16BigEndian(last.AsSpan(2 + message3));
        Assert.Equal(MultistreamCodec.Encode(MultistreamCodec.Header, "/yamux/1.0.0").Length + 16, proposal);
        Assert.Equal(2 + message3 + 2 + proposal, last.Length);
        // and the connection works
        var stream = (await pair.Client.TryOpenRequestStreamAsync([InMemoryPair.Echo], _ => "x"u8.ToArray(), CancellationToken.None).WaitAsync(HangGuard)).GetValueOrThrow();
        var ms = new MemoryStream();
        await stream.CopyToAsync(ms).WaitAsync(HangGuard);
        Assert.Equal("x", Encoding.UTF8.GetString(ms.ToArray()));
    }

    [Fact]
    public async Task Listener_answers_the_muxer_proposal_with_its_header_in_one_noise_frame()
    {
        RecordingStream? transport = null;
        await using var pair = await InMemoryPair.CreateAsync("/yamux/1.0.0", serverTransport: raw => transport = new RecordingStream(raw));
        var writes = transport!.Writes;
        // the multistream header at once, the "/noise" echo, Noise message 2, then the muxer's header and echo together
        Assert.Equal(4, writes.Count);
        Assert.Equal(MultistreamCodec.Encode(MultistreamCodec.Header), writes[0]);
        Assert.Equal(MultistreamCodec.Encode("/noise"), writes[1]);
        var answer = writes[3];
        Assert.Equal(2 + MultistreamCodec.Encode(MultistreamCodec.Header, "/yamux/1.0.0").Length + 16, answer.Length);
        Assert.Equal(answer.Length - 2, BinaryPrimitives.ReadUInt16BigEndian(answer));
    }

    [Fact]
    public async Task Write_and_close_sends_data_and_fin_in_one_noise_frame()
    {
        RecordingStream? transport = null;
        await using var pair = await InMemoryPair.CreateAsync("/yamux/1.0.0", clientTransport: raw => transport = new RecordingStream(raw));
        var stream = await pair.Client.OpenStreamAsync([InMemoryPair.Echo], CancellationToken.None).WaitAsync(HangGuard);
        int before = transport!.Writes.Count;
        await stream.WriteAndCloseAsync(new byte[100]);
        var ms = new MemoryStream();
        await stream.CopyToAsync(ms).WaitAsync(HangGuard);
        Assert.Equal(100, ms.Length);
        var write = Assert.Single(transport.Writes.Skip(before));
        Assert.Equal(2 + BinaryPrimitives.ReadUInt16BigEndian(write), write.Length);
        Assert.Equal((2 * YamuxHeader.Size) + 100 + 16, write.Length - 2);
    }

    [Fact]
    public async Task Echo_arriving_in_pieces_is_taken_whole_and_the_answer_after_it_stays_to_read()
    {
        await using var rig = new Rig();
        var stream = await rig.Session.OpenStreamAsync(CancellationToken.None);
        var select = MultistreamSelect.TrySelectLazyAsync(stream, Proto, new byte[] { 1 }, CancellationToken.None);
        await rig.ReceiveAsync(1); // the request left
        byte[] echo = MultistreamCodec.Encode(MultistreamCodec.Header, Proto);
        // the header and part of the echo in one frame, the rest of it and the answer in the next
        await rig.SendAsync(YamuxFlags.Ack, 1, echo[..25]);
        await rig.SendAsync(YamuxFlags.None, 1, [.. echo[25..], .. "ok"u8.ToArray()]);
        Assert.True(await select.WaitAsync(HangGuard));
        var answer = new byte[2];
        await stream.ReadExactlyAsync(answer).AsTask().WaitAsync(HangGuard);
        Assert.Equal("ok"u8.ToArray(), answer);
    }

    [Fact]
    public async Task Bytes_other_than_the_expected_ones_are_left_unread()
    {
        await using var rig = new Rig();
        var stream = await rig.Session.OpenStreamAsync(CancellationToken.None);
        await stream.WriteAsync(new byte[] { 1 });
        await rig.ReceiveAsync(YamuxHeader.Size + 1);
        byte[] expected = MultistreamCodec.Encode(MultistreamCodec.Header, Proto);
        byte[] sent = MultistreamCodec.Encode(MultistreamCodec.Header, MultistreamCodec.NotAvailable);
        await rig.SendAsync(YamuxFlags.Ack, 1, sent);
        Assert.False(await stream.TryReadExpectedAsync(expected, CancellationToken.None).AsTask().WaitAsync(HangGuard));
        // every byte is still there for the ordinary reads, which see the refusal
        Assert.Equal(MultistreamCodec.Header, await MultistreamSelect.ReadHeaderAsync(stream, CancellationToken.None).WaitAsync(HangGuard));
        Assert.Equal(MultistreamCodec.NotAvailable, await MultistreamSelect.ReadMessageAsync(stream, CancellationToken.None).WaitAsync(HangGuard));
    }

    [Fact]
    public async Task A_stream_that_ends_inside_the_expected_bytes_is_not_waited_on_and_keeps_what_came()
    {
        await using var rig = new Rig();
        var stream = await rig.Session.OpenStreamAsync(CancellationToken.None);
        await stream.WriteAsync(new byte[] { 1 });
        await rig.ReceiveAsync(YamuxHeader.Size + 1);
        byte[] expected = MultistreamCodec.Encode(MultistreamCodec.Header, Proto);
        await rig.SendAsync(YamuxFlags.Ack | YamuxFlags.Fin, 1, expected[..10]);
        Assert.False(await stream.TryReadExpectedAsync(expected, CancellationToken.None).AsTask().WaitAsync(HangGuard));
        var ms = new MemoryStream();
        await stream.CopyToAsync(ms).WaitAsync(HangGuard);
        Assert.Equal(expected[..10], ms.ToArray());
    }

    [Fact]
    public async Task Expected_bytes_taken_are_granted_back_to_the_remote_window()
    {
        await using var rig = new Rig();
        var stream = await rig.Session.OpenStreamAsync(CancellationToken.None);
        await stream.WriteAsync(new byte[] { 1 });
        await rig.ReceiveAsync(YamuxHeader.Size + 1);
        byte[] expected = MultistreamCodec.Encode(MultistreamCodec.Header, Proto);
        await rig.SendAsync(YamuxFlags.Ack, 1, expected);
        Assert.True(await stream.TryReadExpectedAsync(expected, CancellationToken.None).AsTask().WaitAsync(HangGuard));
        Assert.Equal(0, ((MuxedStream)stream).Buffered);
    }
}
