using System.Security.Cryptography;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Transport;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>Our dialer against our listener over an in-memory pipe, with each muxer.</summary>
public sealed class InMemoryConnectionTests
{
    public static TheoryData<string> Muxers => new() { "/yamux/1.0.0", "/mplex/6.7.0" };

    private static async Task<byte[]> ReadAllAsync(Stream s, CancellationToken ct)
    {
        var ms = new MemoryStream();
        await s.CopyToAsync(ms, ct);
        return ms.ToArray();
    }

    [Theory]
    [MemberData(nameof(Muxers))]
    public async Task Upgrade_negotiates_the_muxer_and_both_sides_know_each_other(string muxer)
    {
        await using var pair = await InMemoryPair.CreateAsync(muxer);
        Assert.Equal(muxer, pair.Client.Muxer);
        Assert.Equal(muxer, pair.Server.Muxer);
        Assert.Equal(pair.Listener.PeerId, pair.Client.RemotePeerId);
        Assert.Equal(pair.Dialer.LocalPeerId, pair.Server.RemotePeerId);
        Assert.Equal(KeyType.Ed25519, pair.Client.RemotePublicKey.Type);
    }

    [Fact]
    public async Task Dialer_falls_back_to_mplex_when_listener_refuses_yamux()
    {
        await using var pair = await InMemoryPair.CreateAsync("/mplex/6.7.0", dialerMuxers: ["/yamux/1.0.0", "/mplex/6.7.0"]);
        Assert.Equal("/mplex/6.7.0", pair.Client.Muxer);
    }

    [Theory]
    [MemberData(nameof(Muxers))]
    public async Task Many_concurrent_streams_echo_their_own_data(string muxer)
    {
        await using var pair = await InMemoryPair.CreateAsync(muxer);
        using var cts = new CancellationTokenSource(HangGuard);
        await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            byte[] data = RandomNumberGenerator.GetBytes(100 + (i * 3001));
            await using var s = await pair.Client.OpenStreamAsync([InMemoryPair.Echo], cts.Token);
            var read = ReadAllAsync(s, cts.Token);
            await s.WriteAsync(data, cts.Token);
            await s.CloseWriteAsync(cts.Token);
            Assert.Equal(data, await read);
        }));
    }

    [Theory]
    [MemberData(nameof(Muxers))]
    public async Task Transfers_larger_than_the_window_arrive_intact_in_both_directions(string muxer)
    {
        await using var pair = await InMemoryPair.CreateAsync(muxer);
        using var cts = new CancellationTokenSource(HangGuard);
        byte[] data = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        await using var s = await pair.Client.OpenStreamAsync([InMemoryPair.Echo], cts.Token);
        var read = ReadAllAsync(s, cts.Token);
        await s.WriteAsync(data, cts.Token);
        await s.CloseWriteAsync(cts.Token);
        Assert.Equal(data, await read);
    }

    [Fact]
    public async Task Yamux_writer_blocks_when_the_remote_does_not_read_past_the_256_KiB_window()
    {
        var accepted = new TaskCompletionSource<Libp2pStream>();
        var release = new TaskCompletionSource();
        await using var pair = await InMemoryPair.CreateAsync("/yamux/1.0.0", l => l.Handle("/sink", async (s, c, ct) =>
        {
            accepted.SetResult(s);
            await release.Task;
            await ReadAllAsync(s, ct);
        }));
        using var cts = new CancellationTokenSource(HangGuard);
        await using var s = await pair.Client.OpenStreamAsync(["/sink"], cts.Token);
        // 200 KiB fit in the initial 256 KiB window without any read (negotiation used 27 bytes of it).
        await s.WriteAsync(new byte[200 * 1024], cts.Token);
        await accepted.Task;
        var blocked = s.WriteAsync(new byte[100 * 1024], cts.Token).AsTask();
        await ((MuxedStream)s).FirstFlowControlWait.WaitAsync(cts.Token);
        Assert.False(blocked.IsCompleted, "a write beyond the remote's window must wait for a window update");
        release.SetResult();
        await blocked.WaitAsync(cts.Token);
    }

    [Theory]
    [MemberData(nameof(Muxers))]
    public async Task Half_close_lets_the_remote_answer_after_our_eof(string muxer)
    {
        await using var pair = await InMemoryPair.CreateAsync(muxer, l => l.Handle("/reqresp", async (s, c, ct) =>
        {
            byte[] request = await ReadAllAsync(s, ct); // until our FIN
            await s.WriteAsync(request.Reverse().ToArray(), ct);
            await s.CloseWriteAsync(ct);
        }));
        using var cts = new CancellationTokenSource(HangGuard);
        await using var s = await pair.Client.OpenStreamAsync(["/reqresp"], cts.Token);
        await s.WriteAsync(new byte[] { 1, 2, 3 }, cts.Token);
        await s.CloseWriteAsync(cts.Token);
        await Assert.ThrowsAsync<IOException>(() => s.WriteAsync(new byte[] { 4 }, cts.Token).AsTask());
        Assert.Equal(new byte[] { 3, 2, 1 }, await ReadAllAsync(s, cts.Token));
    }

    [Theory]
    [MemberData(nameof(Muxers))]
    public async Task Remote_reset_makes_our_read_fail_and_other_streams_keep_working(string muxer)
    {
        await using var pair = await InMemoryPair.CreateAsync(muxer, l => l.Handle("/reset", async (s, c, ct) =>
        {
            await s.ReadExactlyAsync(new byte[1], ct);
            s.Reset();
        }));
        using var cts = new CancellationTokenSource(HangGuard);
        await using var s = await pair.Client.OpenStreamAsync(["/reset"], cts.Token);
        await s.WriteAsync(new byte[] { 9 }, cts.Token);
        await Assert.ThrowsAsync<IOException>(async () => await s.ReadExactlyAsync(new byte[10], cts.Token));

        await using var e = await pair.Client.OpenStreamAsync([InMemoryPair.Echo], cts.Token);
        await e.WriteAsync(new byte[] { 5 }, cts.Token);
        await e.CloseWriteAsync(cts.Token);
        Assert.Equal(new byte[] { 5 }, await ReadAllAsync(e, cts.Token));
    }

    [Theory]
    [MemberData(nameof(Muxers))]
    public async Task Local_reset_fails_our_pending_read(string muxer)
    {
        await using var pair = await InMemoryPair.CreateAsync(muxer, l => l.Handle("/hold", (s, c, ct) => Task.Delay(Timeout.Infinite, ct)));
        using var cts = new CancellationTokenSource(HangGuard);
        await using var s = await pair.Client.OpenStreamAsync(["/hold"], cts.Token);
        var read = s.ReadAsync(new byte[10], cts.Token).AsTask();
        s.Reset();
        await Assert.ThrowsAsync<IOException>(() => read);
        await Assert.ThrowsAsync<IOException>(() => s.WriteAsync(new byte[1], cts.Token).AsTask());
    }

    [Theory]
    [MemberData(nameof(Muxers))]
    public async Task Closing_one_side_completes_the_other_and_fails_new_streams(string muxer)
    {
        await using var pair = await InMemoryPair.CreateAsync(muxer);
        using var cts = new CancellationTokenSource(HangGuard);
        await pair.Server.DisposeAsync();
        await pair.Client.Completion.WaitAsync(cts.Token);
        var ex = await Assert.ThrowsAsync<DialException>(() => pair.Client.OpenStreamAsync([InMemoryPair.Echo], cts.Token));
        Assert.True(ex.Class is DialErrorClass.GoAway or DialErrorClass.Reset or DialErrorClass.Eof, ex.ToString());
    }

    [Theory]
    [MemberData(nameof(Muxers))]
    public async Task Identify_and_ping_work_between_our_own_hosts(string muxer)
    {
        await using var pair = await InMemoryPair.CreateAsync(muxer, l => l.Handle("/extra/1", (s, c, ct) => Task.CompletedTask));
        using var cts = new CancellationTokenSource(HangGuard);
        var info = await pair.Client.IdentifyAsync(cts.Token);
        Assert.Equal("clp2p/0.1", info.AgentVersion);
        Assert.Equal("ipfs/0.1.0", info.ProtocolVersion);
        Assert.Contains("/extra/1", info.Protocols);
        Assert.Contains("/ipfs/ping/1.0.0", info.Protocols);
        Assert.Equal(pair.Server.LocalPeerId, PeerId.FromPublicKey(info.PublicKey!));
        Assert.Equal("/ip4/127.0.0.1/tcp/1", info.ObservedAddr);
        Assert.True(await pair.Client.PingAsync(cts.Token) >= TimeSpan.Zero);
        // And the other way round: the listener can open streams to the dialer's built-in handlers.
        var back = await pair.Server.IdentifyAsync(cts.Token);
        Assert.Equal(pair.Client.LocalPeerId, PeerId.FromPublicKey(back.PublicKey!));
    }

    [Theory]
    [MemberData(nameof(Muxers))]
    public async Task Unknown_protocol_is_refused_with_na_and_next_proposal_is_tried(string muxer)
    {
        await using var pair = await InMemoryPair.CreateAsync(muxer);
        using var cts = new CancellationTokenSource(HangGuard);
        var ex = await Assert.ThrowsAsync<DialException>(() => pair.Client.OpenStreamAsync(["/nope/2", "/nope/1"], cts.Token));
        Assert.Equal(DialErrorClass.ProtocolNotSupported, ex.Class);
        await using var s = await pair.Client.OpenStreamAsync(["/nope/2", InMemoryPair.Echo], cts.Token);
        Assert.Equal(InMemoryPair.Echo, s.Protocol);
    }

    [Fact]
    public async Task Handler_exception_resets_only_that_stream()
    {
        await using var pair = await InMemoryPair.CreateAsync("/yamux/1.0.0", l => l.Handle("/boom", (s, c, ct) => throw new InvalidOperationException("boom")));
        using var cts = new CancellationTokenSource(HangGuard);
        try
        {
            await using var s = await pair.Client.OpenStreamAsync(["/boom"], cts.Token);
            await Assert.ThrowsAsync<IOException>(async () => await s.ReadExactlyAsync(new byte[1], cts.Token));
        }
        catch (DialException e)
        {
            Assert.Equal(DialErrorClass.Reset, e.Class); // the RST may overtake the negotiation echo
        }
        Assert.Equal("clp2p/0.1", (await pair.Client.IdentifyAsync(cts.Token)).AgentVersion);
    }
}
