using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.ReqResp;
using ClP2p.Eth2.Ssz;
using ClP2p.Libp2p;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Eth2.Tests;

public class ReqRespTests
{
    private static readonly StatusMessage RemoteStatus = new(
        ForkDigest.Parse("8c9f62fe"), Root.Parse("d62a74ae0f933224133c5e6e1827baf6d7b0c2bfcb8b0d80f6ec8bb9dbaa2f7b"), 437120,
        Root.Parse("4f0e5b8f3f6d4a1c2b3a49587766554433221100ffeeddccbbaa998877665544"), 13988100, 13500000);

    private static readonly MetaDataMessage RemoteMetaData = new(5, AttestationSubnets.FromSubnets([0, 63]), new SyncCommitteeSubnets(2), 4);

    private static readonly ReqRespOptions Fast = new() { RequestTimeout = TimeSpan.FromSeconds(3), EndOfStreamGrace = TimeSpan.FromMilliseconds(200) };

    /// <summary>A remote that serves with a real <see cref="ReqRespServer"/> and supports the given protocols.</summary>
    private sealed class Remote
    {
        public readonly PeerSession Session = new(RemoteStatus, RemoteMetaData) { EchoRemoteStatus = false };
        public readonly ReqRespServer Server = new(_ => null, () => throw new InvalidOperationException(), Fast);
        public readonly List<Task> Handlers = [];
        public HashSet<string> Supported = [.. Eth2Protocols.All];
        /// <summary>Handlers start serving once this many streams are open at once (requests overlap without timing them).</summary>
        public int ServeWhenOpen = 1;
        private readonly TaskCompletionSource _enoughOpen = new(TaskCreationOptions.RunContinuationsAsynchronously);
        /// <summary>Streams the requester has open (opened and not yet disposed), and the most at once.</summary>
        public int Open;
        public int MaxOpen;

        public StreamOpener Opener => async (protocols, request, ct) =>
        {
            await Task.Yield();
            var p = protocols.FirstOrDefault(Supported.Contains)
                ?? throw new DialException(DialErrorClass.ProtocolNotSupported, DialStep.Stream, "na");
            var (ours, theirs) = MemoryLibp2pStream.CreatePair();
            int now = Interlocked.Increment(ref Open);
            lock (Handlers) MaxOpen = Math.Max(MaxOpen, now);
            if (now >= ServeWhenOpen) _enoughOpen.TrySetResult();
            // counted on the requester's side: the server's handler may still be winding down after the requester has
            // read the answer, disposed its stream and started the next request
            ours.Disposed = () => Interlocked.Decrement(ref Open);
            lock (Handlers) Handlers.Add(Task.Run(async () =>
            {
                await _enoughOpen.Task;
                await Server.HandleAsync(theirs, p, Session, CancellationToken.None);
            }));
            await ours.WriteAndCloseAsync(request(p), ct);
            return new OpenedStream(ours, p);
        };
    }

    [Fact]
    public async Task Status_negotiates_v2_and_records_the_remote_status_not_ours()
    {
        var remote = new Remote();
        var client = new ReqRespClient(remote.Opener, Fast);
        var ours = new StatusMessage(ForkDigest.Parse("8c9f62fe"), Root.Zero, 0, Root.Zero, 0, 0);
        var r = await client.StatusAsync(_ => ours, CancellationToken.None);
        Assert.True(r.Ok, r.ToString());
        Assert.Equal(Eth2Protocols.StatusV2, r.Protocol);
        Assert.Equal(RemoteStatus, r.Value);
        // The remote saw our request as a Status v2.
        Assert.Equal(ours, remote.Session.RemoteStatusRequest);
    }

    [Fact]
    public async Task Status_falls_back_to_v1_and_sends_an_84_byte_status()
    {
        var remote = new Remote { Supported = [Eth2Protocols.StatusV1] };
        var client = new ReqRespClient(remote.Opener, Fast);
        int askedVersion = 0;
        var r = await client.StatusAsync(v => { askedVersion = v; return RemoteStatus; }, CancellationToken.None);
        Assert.True(r.Ok, r.ToString());
        Assert.Equal(1, askedVersion);
        Assert.Equal(Eth2Protocols.StatusV1, r.Protocol);
        Assert.Null(r.Value!.EarliestAvailableSlot);
        Assert.Equal(RemoteStatus.AsV1(), r.Value);
        Assert.Null(remote.Session.RemoteStatusRequest!.EarliestAvailableSlot);
    }

    [Fact]
    public async Task MetaData_v3_then_v2()
    {
        var remote = new Remote();
        var client = new ReqRespClient(remote.Opener, Fast);
        var r = await client.MetaDataAsync(CancellationToken.None);
        Assert.True(r.Ok, r.ToString());
        Assert.Equal(RemoteMetaData, r.Value);
        remote.Supported = [Eth2Protocols.MetaDataV2];
        r = await client.MetaDataAsync(CancellationToken.None);
        Assert.True(r.Ok, r.ToString());
        Assert.Equal(Eth2Protocols.MetaDataV2, r.Protocol);
        Assert.Null(r.Value!.CustodyGroupCount);
        Assert.Equal(5UL, r.Value.SeqNumber);
    }

    [Fact]
    public async Task Ping_returns_the_remote_seq_and_goodbye_reaches_the_remote()
    {
        var remote = new Remote();
        var client = new ReqRespClient(remote.Opener, Fast);
        var p = await client.PingAsync(9, CancellationToken.None);
        Assert.Equal(5UL, p.Value);
        var g = await client.GoodbyeAsync(GoodbyeReasons.ClientShutdown, CancellationToken.None);
        Assert.True(g.Ok, g.ToString());
        Assert.Equal(GoodbyeReasons.ClientShutdown, await remote.Session.Goodbye.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Refused_protocols_are_protocol_not_supported()
    {
        var remote = new Remote { Supported = [] };
        var client = new ReqRespClient(remote.Opener, Fast);
        var r = await client.StatusAsync(_ => RemoteStatus, CancellationToken.None);
        Assert.Equal(ReqRespFailure.ProtocolNotSupported, r.Failure);
    }

    [Fact]
    public async Task At_most_two_requests_per_protocol_are_in_flight()
    {
        var remote = new Remote { ServeWhenOpen = Eth2Protocols.MaxConcurrentRequests };
        var client = new ReqRespClient(remote.Opener, Fast);
        var tasks = Enumerable.Range(0, 6).Select(_ => client.MetaDataAsync(CancellationToken.None)).ToArray();
        var results = await Task.WhenAll(tasks);
        Assert.All(results, r => Assert.True(r.Ok, r.ToString()));
        Assert.Equal(Eth2Protocols.MaxConcurrentRequests, remote.MaxOpen);   // the limit is reached, never passed
    }

    private static StreamOpener RawRemote(Func<MemoryLibp2pStream, Task> behave, string protocol = Eth2Protocols.StatusV2) => async (protocols, request, ct) =>
    {
        await Task.Yield();
        var (ours, theirs) = MemoryLibp2pStream.CreatePair();
        await ours.WriteAndCloseAsync(request(protocol), ct);
        _ = Task.Run(() => behave(theirs));
        return new OpenedStream(ours, protocol);
    };

    [Fact]
    public async Task Error_response_is_reported_with_code_and_message()
    {
        var client = new ReqRespClient(RawRemote(async s =>
        {
            await s.WriteAsync(SszSnappy.EncodeResponseChunk(139, "rate limited"u8));
            await s.CloseWriteAsync();
        }), Fast);
        var r = await client.StatusAsync(_ => RemoteStatus, CancellationToken.None);
        Assert.Equal(ReqRespFailure.ErrorResponse, r.Failure);
        Assert.Equal((byte)139, r.ResultCode);
        Assert.Equal("rate limited", r.ErrorMessage);
    }

    [Fact]
    public async Task Silent_remote_times_out_when_fake_time_reaches_the_request_deadline()
    {
        var time = new FakeTimeProvider();
        var client = new ReqRespClient(RawRemote(_ => Task.Delay(Timeout.Infinite)), Fast, time: time);
        var request = client.StatusAsync(_ => RemoteStatus, CancellationToken.None);
        time.Advance(Fast.RequestTimeout);
        var r = await request;
        Assert.Equal(ReqRespFailure.Timeout, r.Failure);
    }

    [Fact]
    public async Task Two_response_chunks_for_a_single_chunk_request_are_malformed()
    {
        var chunk = SszSnappy.EncodeResponseChunk(0, RemoteStatus.Encode());
        var client = new ReqRespClient(RawRemote(async s =>
        {
            await s.WriteAsync(chunk);
            await s.WriteAsync(chunk);
            await s.CloseWriteAsync();
        }), Fast);
        var r = await client.StatusAsync(_ => RemoteStatus, CancellationToken.None);
        Assert.Equal(ReqRespFailure.Malformed, r.Failure);
        Assert.Equal(ReqRespError.TrailingBytes, r.DecodeError);
    }

    [Fact]
    public async Task Decompression_bomb_response_is_malformed_and_eof_is_eof()
    {
        // Declares 92 bytes, then an uncompressed chunk of 200 bytes: rejected, not buffered past the budget.
        var body = new byte[204];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(body, Snappy.Crc32C.ComputeMasked(body.AsSpan(4)));
        byte[] bomb = [0x00, 0x5c, .. Snappy.SnappyFraming.StreamIdentifier, 0x01, 204, 0, 0, .. body];
        var client = new ReqRespClient(RawRemote(async s => { await s.WriteAsync(bomb); await s.CloseWriteAsync(); }), Fast);
        var r = await client.StatusAsync(_ => RemoteStatus, CancellationToken.None);
        Assert.Equal(ReqRespFailure.Malformed, r.Failure);
        Assert.Equal(ReqRespError.CompressedLengthExceeded, r.DecodeError);

        client = new ReqRespClient(RawRemote(async s => await s.CloseWriteAsync()), Fast);
        r = await client.StatusAsync(_ => RemoteStatus, CancellationToken.None);
        Assert.Equal(ReqRespFailure.Eof, r.Failure);
    }

    [Fact]
    public async Task Server_echoes_the_remote_status_and_answers_invalid_requests_with_an_error()
    {
        var session = new PeerSession(new StatusMessage(ForkDigest.Parse("cb0d1acc"), Root.Zero, 0, Root.Zero, 0), ReqRespServer.DefaultMetaData);
        var server = new ReqRespServer(_ => null, () => session, Fast);

        var (client, srv) = MemoryLibp2pStream.CreatePair();
        var serving = server.HandleAsync(srv, Eth2Protocols.StatusV2, session, CancellationToken.None);
        await client.WriteAsync(SszSnappy.EncodePayload(RemoteStatus.Encode()));
        await client.CloseWriteAsync();
        var reader = new ReqRespStreamReader(client);
        var chunk = await reader.ReadResponseChunkAsync(92, 92, CancellationToken.None);
        await serving;
        Assert.True(chunk.Ok);
        Assert.True(StatusMessage.TryDecode(chunk.Chunk.Payload, 2, out var answered, out _));
        Assert.Equal(RemoteStatus, answered); // echoed: same digest and checkpoint as the remote's own
        Assert.True(await reader.IsAtEndAsync(CancellationToken.None));

        // A Status v1 request with a 92-byte body is invalid.
        (client, srv) = MemoryLibp2pStream.CreatePair();
        serving = server.HandleAsync(srv, Eth2Protocols.StatusV1, session, CancellationToken.None);
        await client.WriteAsync(SszSnappy.EncodePayload(RemoteStatus.Encode()));
        await client.CloseWriteAsync();
        chunk = await new ReqRespStreamReader(client).ReadResponseChunkAsync(84, 84, CancellationToken.None);
        await serving;
        Assert.True(chunk.Ok);
        Assert.Equal(ResponseChunk.InvalidRequest, chunk.Chunk.Result);

        // MetaData v2 drops custody_group_count; v3 keeps it.
        (client, srv) = MemoryLibp2pStream.CreatePair();
        serving = server.HandleAsync(srv, Eth2Protocols.MetaDataV2, session, CancellationToken.None);
        await client.CloseWriteAsync();
        chunk = await new ReqRespStreamReader(client).ReadResponseChunkAsync(17, 17, CancellationToken.None);
        await serving;
        Assert.Equal(17, chunk.Chunk.Payload.Length);
        Assert.Equal(3, session.InboundRequests);
    }
}
