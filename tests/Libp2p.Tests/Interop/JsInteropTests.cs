using System.Net;
using System.Security.Cryptography;
using ClP2p.Libp2p.Crypto;

namespace ClP2p.Libp2p.Tests.Interop;

public sealed class JsInteropTests
{
    private static Libp2pOptions Options(string agent = "clp2p-test/1.0") => new() { Identity = Identity.GenerateSecp256k1(), AgentVersion = agent };

    [Theory]
    [InlineData("secp256k1", "yamux", "/yamux/1.0.0")]
    [InlineData("secp256k1", "mplex", "/mplex/6.7.0")]
    [InlineData("ed25519", "yamux", "/yamux/1.0.0")]
    [InlineData("ed25519", "mplex", "/mplex/6.7.0")]
    public async Task Dialer_identifies_js_host_and_gets_its_exact_agent_and_protocols(string keyType, string muxer, string expectedMuxer)
    {
        string agent = $"js-host/{keyType}/{muxer}/v9.9.9-{Guid.NewGuid():N}";
        await using var js = await JsLibp2pHost.StartAsync(keyType, agent, muxer);
        using var dialer = new Libp2pDialer(Options());
        using var cts = new CancellationTokenSource(HangGuard);

        await using var conn = await dialer.DialAsync(js.EndPoint, js.PeerId, cts.Token);
        var info = await conn.IdentifyAsync(cts.Token);

        Assert.Equal(expectedMuxer, conn.Muxer);
        Assert.Equal(js.PeerId, conn.RemotePeerId);
        Assert.Equal(keyType == "ed25519" ? KeyType.Ed25519 : KeyType.Secp256k1, conn.RemotePublicKey.Type);
        Assert.Equal(agent, info.AgentVersion);
        Assert.Contains("/ipfs/id/1.0.0", info.Protocols);
        Assert.Contains(JsLibp2pHost.EchoProtocol, info.Protocols);
        Assert.Contains(info.ListenAddrs, a => a.StartsWith($"/ip4/127.0.0.1/tcp/{js.EndPoint.Port}", StringComparison.Ordinal));
        Assert.Equal(conn.RemotePublicKey, info.PublicKey);
        Assert.NotNull(info.ObservedAddr);
        Assert.StartsWith("/ip4/127.0.0.1/tcp/", info.ObservedAddr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("yamux")]
    [InlineData("mplex")]
    public async Task Echo_round_trips_small_and_large_payloads(string muxer)
    {
        await using var js = await JsLibp2pHost.StartAsync("secp256k1", "echo-host", muxer);
        using var dialer = new Libp2pDialer(Options());
        using var cts = new CancellationTokenSource(HangGuard);
        await using var conn = await dialer.DialAsync(js.EndPoint, js.PeerId, cts.Token);

        foreach (int size in new[] { 5, 1 << 20 })
        {
            byte[] payload = RandomNumberGenerator.GetBytes(size);
            await using var stream = await conn.OpenStreamAsync(["/does/not/exist/1", JsLibp2pHost.EchoProtocol], cts.Token);
            Assert.Equal(JsLibp2pHost.EchoProtocol, stream.Protocol);
            var reader = Task.Run(async () =>
            {
                var ms = new MemoryStream();
                await stream.CopyToAsync(ms, cts.Token);
                return ms.ToArray();
            });
            await stream.WriteAsync(payload, cts.Token);
            await stream.CloseWriteAsync(cts.Token);
            byte[] echoed = await reader;
            Assert.Equal(payload, echoed);
        }
    }

    [Theory]
    [InlineData("yamux")]
    [InlineData("mplex")]
    public async Task Concurrent_streams_to_js_host_all_echo_their_own_data(string muxer)
    {
        await using var js = await JsLibp2pHost.StartAsync("secp256k1", "echo-host", muxer);
        using var dialer = new Libp2pDialer(Options());
        using var cts = new CancellationTokenSource(HangGuard);
        await using var conn = await dialer.DialAsync(js.EndPoint, js.PeerId, cts.Token);

        var tasks = Enumerable.Range(0, 16).Select(async i =>
        {
            byte[] payload = RandomNumberGenerator.GetBytes(1000 + (i * 7919));
            await using var stream = await conn.OpenStreamAsync([JsLibp2pHost.EchoProtocol], cts.Token);
            var reader = Task.Run(async () =>
            {
                var ms = new MemoryStream();
                await stream.CopyToAsync(ms, cts.Token);
                return ms.ToArray();
            });
            await stream.WriteAsync(payload, cts.Token);
            await stream.CloseWriteAsync(cts.Token);
            Assert.Equal(payload, await reader);
        });
        await Task.WhenAll(tasks);
    }

    [Fact]
    public async Task Unsupported_protocol_is_ProtocolNotSupported_and_connection_stays_usable()
    {
        await using var js = await JsLibp2pHost.StartAsync("secp256k1", "host", "yamux");
        using var dialer = new Libp2pDialer(Options());
        using var cts = new CancellationTokenSource(HangGuard);
        await using var conn = await dialer.DialAsync(js.EndPoint, js.PeerId, cts.Token);

        var ex = await Assert.ThrowsAsync<DialException>(() => conn.OpenStreamAsync(["/eth2/beacon_chain/req/status/2/ssz_snappy", "/eth2/beacon_chain/req/status/1/ssz_snappy"], cts.Token));
        Assert.Equal(DialErrorClass.ProtocolNotSupported, ex.Class);
        Assert.Equal(DialStep.Stream, ex.Step);
        var info = await conn.IdentifyAsync(cts.Token);
        Assert.Equal("host", info.AgentVersion);
    }

    [Theory]
    [InlineData("yamux")]
    [InlineData("mplex")]
    public async Task Js_host_identifies_and_pings_our_listener(string muxer)
    {
        await using var js = await JsLibp2pHost.StartAsync("secp256k1", "pinger", muxer);
        var options = Options("clp2p-listener/7.7");
        await using var listener = new Libp2pListener(options);
        listener.Handle("/clp2p/custom/1", (s, c, ct) => Task.CompletedTask);
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        using var cts = new CancellationTokenSource(HangGuard);
        string addr = $"/ip4/127.0.0.1/tcp/{listener.LocalEndPoint!.Port}/p2p/{listener.PeerId}";

        await js.SendAsync(new { cmd = "ping", multiaddr = addr });
        var ping = await js.NextEventAsync("ping", cts.Token);
        Assert.True(ping.GetProperty("ok").GetBoolean(), ping.ToString());

        var identify = await js.NextEventAsync("identify", cts.Token);
        Assert.Equal(listener.PeerId.ToString(), identify.GetProperty("peerId").GetString());
        Assert.Equal("clp2p-listener/7.7", identify.GetProperty("agentVersion").GetString());
        var protocols = identify.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()).ToList();
        Assert.Contains("/ipfs/id/1.0.0", protocols);
        Assert.Contains("/ipfs/ping/1.0.0", protocols);
        Assert.Contains("/clp2p/custom/1", protocols);
        var conn = await listener.AcceptAsync(cts.Token);
        Assert.Equal(js.PeerId, conn.RemotePeerId);
    }

    [Fact]
    public async Task Js_host_identifies_our_dialer_over_the_dialled_connection()
    {
        await using var js = await JsLibp2pHost.StartAsync("ed25519", "host", "yamux");
        var options = Options("clp2p-dialer/1.2.3");
        using var dialer = new Libp2pDialer(options);
        using var cts = new CancellationTokenSource(HangGuard);
        await using var conn = await dialer.DialAsync(js.EndPoint, js.PeerId, cts.Token);

        var identify = await js.NextEventAsync("identify", cts.Token);
        Assert.Equal(dialer.LocalPeerId.ToString(), identify.GetProperty("peerId").GetString());
        Assert.Equal("clp2p-dialer/1.2.3", identify.GetProperty("agentVersion").GetString());
        Assert.Contains("/ipfs/ping/1.0.0", identify.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()));
    }

    [Fact]
    public async Task Js_host_with_fixed_secp256k1_key_has_the_peer_id_computed_from_its_compressed_key()
    {
        // The peer-ids spec secp256k1 key (test-vectors §10.1).
        await using var js = await JsLibp2pHost.StartAsync("secp256k1", "fixed", "yamux", "53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb");
        var expected = PeerId.FromSecp256k1PublicKey(Convert.FromHexString("037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"));
        Assert.Equal("16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY", js.PeerId.ToString());
        using var dialer = new Libp2pDialer(Options());
        using var cts = new CancellationTokenSource(HangGuard);
        await using var conn = await dialer.DialAsync(js.EndPoint, expected, cts.Token);
        Assert.Equal(expected, conn.RemotePeerId);
    }

    [Fact]
    public async Task Wrong_expected_peer_id_is_PeerIdMismatch_and_dialer_keeps_working()
    {
        await using var js = await JsLibp2pHost.StartAsync("secp256k1", "host", "yamux");
        using var dialer = new Libp2pDialer(Options());
        using var cts = new CancellationTokenSource(HangGuard);

        var other = Identity.GenerateSecp256k1().PeerId;
        var ex = await Assert.ThrowsAsync<DialException>(() => dialer.DialAsync(js.EndPoint, other, cts.Token));
        Assert.Equal(DialErrorClass.PeerIdMismatch, ex.Class);

        await using var conn = await dialer.DialAsync(js.EndPoint, js.PeerId, cts.Token);
        Assert.Equal("host", (await conn.IdentifyAsync(cts.Token)).AgentVersion);
    }

    [Theory]
    [InlineData(new[] { "/yamux/1.0.0", "/mplex/6.7.0" }, "/yamux/1.0.0")]
    [InlineData(new[] { "/mplex/6.7.0", "/yamux/1.0.0" }, "/mplex/6.7.0")]
    public async Task Dialer_gets_its_first_muxer_the_js_host_accepts(string[] muxers, string expected)
    {
        await using var js = await JsLibp2pHost.StartAsync("secp256k1", "both", "yamux,mplex");
        using var dialer = new Libp2pDialer(new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), Muxers = muxers });
        using var cts = new CancellationTokenSource(HangGuard);
        await using var conn = await dialer.DialAsync(js.EndPoint, js.PeerId, cts.Token);
        Assert.Equal(expected, conn.Muxer);
        Assert.Equal("both", (await conn.IdentifyAsync(cts.Token)).AgentVersion);
    }
}
