using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ClP2p.Libp2p.Codecs;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Multistream;
using ClP2p.Libp2p.Noise;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>Remote endpoints that misbehave at each step; each ends in its class within its timeout and the dialer keeps working.</summary>
public sealed class MisbehavingPeerTests
{
    // Generous enough for a cold (JIT) first dial on a loaded 2-core CI machine; the misbehaving cases still end on it.
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(2);

    private static Libp2pDialer NewDialer() => new(new Libp2pOptions
    {
        Identity = Identity.GenerateSecp256k1(),
        ConnectTimeout = StepTimeout,
        HandshakeTimeout = StepTimeout,
        StreamTimeout = StepTimeout,
    });

    /// <summary>A loopback TCP server running <paramref name="behaviour"/> for each accepted socket.</summary>
    private sealed class RawServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _cts = new();
        private readonly Task _loop;
        private readonly List<Socket> _clients = [];

        public RawServer(Func<NetworkStream, CancellationToken, Task> behaviour)
        {
            _listener.Start();
            _loop = Task.Run(async () =>
            {
                while (!_cts.IsCancellationRequested)
                {
                    Socket s;
                    try
                    {
                        s = await _listener.AcceptSocketAsync(_cts.Token);
                    }
                    catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                    {
                        return;
                    }
                    lock (_clients)
                    {
                        _clients.Add(s);
                    }
                    _ = Task.Run(async () =>
                    {
                        try
                        {
                            await behaviour(new NetworkStream(s, ownsSocket: false), _cts.Token);
                        }
                        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException or EndOfStreamException)
                        {
                            // the dialer gave up
                        }
                    });
                }
            });
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        public async ValueTask DisposeAsync()
        {
            await _cts.CancelAsync();
            _listener.Stop();
            await _loop;
            lock (_clients)
            {
                _clients.ForEach(c => c.Dispose());
            }
            _cts.Dispose();
        }
    }

    private static async Task<DialException> DialFailsAsync(Libp2pDialer dialer, IPEndPoint ep, PeerId? expected = null)
    {
        // Each step has its own timeout (StepTimeoutTests checks the deadlines on a fake clock); here only the class counts.
        return await Assert.ThrowsAsync<DialException>(() => dialer.DialAsync(ep, expected, CancellationToken.None));
    }

    private static async Task AssertDialerStillWorksAsync(Libp2pDialer dialer)
    {
        await using var listener = new Libp2pListener(new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), AgentVersion = "good/1" });
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        await using var conn = await dialer.DialAsync(listener.LocalEndPoint!, listener.PeerId, CancellationToken.None);
        Assert.Equal("good/1", (await conn.IdentifyAsync(CancellationToken.None)).AgentVersion);
    }

    [Fact]
    public async Task Closed_port_is_Refused_at_Connect()
    {
        using var dialer = NewDialer();
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var ep = (IPEndPoint)l.LocalEndpoint;
        l.Stop();
        var ex = await DialFailsAsync(dialer, ep);
        Assert.Equal(DialErrorClass.Refused, ex.Class);
        Assert.Equal(DialStep.Connect, ex.Step);
        await AssertDialerStillWorksAsync(dialer);
    }

    [Fact]
    public async Task Accept_then_silence_is_Timeout_at_SecurityNegotiation()
    {
        using var dialer = NewDialer();
        await using var server = new RawServer((s, ct) => Task.Delay(Timeout.Infinite, ct));
        var ex = await DialFailsAsync(dialer, server.EndPoint);
        Assert.Equal(DialErrorClass.Timeout, ex.Class);
        Assert.Equal(DialStep.SecurityNegotiation, ex.Step);
        await AssertDialerStillWorksAsync(dialer);
    }

    [Fact]
    public async Task Garbage_bytes_fail_security_negotiation()
    {
        using var dialer = NewDialer();
        await using var server = new RawServer(async (s, ct) =>
        {
            await s.WriteAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray(), ct);
            await Task.Delay(Timeout.Infinite, ct);
        });
        var ex = await DialFailsAsync(dialer, server.EndPoint);
        Assert.Contains(ex.Class, new[] { DialErrorClass.SecurityNegotiation, DialErrorClass.Malformed });
        Assert.Equal(DialStep.SecurityNegotiation, ex.Step);
        await AssertDialerStillWorksAsync(dialer);
    }

    [Fact]
    public async Task Oversized_multistream_length_is_Malformed_without_reading_it()
    {
        using var dialer = NewDialer();
        await using var server = new RawServer(async (s, ct) =>
        {
            await s.WriteAsync(new byte[] { 0xff, 0xff, 0xff, 0x7f }, ct); // ~268 MB declared
            await Task.Delay(Timeout.Infinite, ct);
        });
        var ex = await DialFailsAsync(dialer, server.EndPoint);
        Assert.Equal(DialErrorClass.Malformed, ex.Class);
        await AssertDialerStillWorksAsync(dialer);
    }

    [Fact]
    public async Task Remote_refusing_noise_is_SecurityNegotiation()
    {
        using var dialer = NewDialer();
        await using var server = new RawServer(async (s, ct) =>
        {
            await MultistreamSelect.HandleAsync(s, p => p == "/tls/1.0.0", ct);
        });
        var ex = await DialFailsAsync(dialer, server.EndPoint);
        Assert.Equal(DialErrorClass.SecurityNegotiation, ex.Class);
        await AssertDialerStillWorksAsync(dialer);
    }

    [Fact]
    public async Task Silence_after_noise_negotiation_is_Timeout_at_NoiseHandshake()
    {
        using var dialer = NewDialer();
        await using var server = new RawServer(async (s, ct) =>
        {
            await MultistreamSelect.HandleAsync(s, p => p == "/noise", ct);
            await Task.Delay(Timeout.Infinite, ct);
        });
        var ex = await DialFailsAsync(dialer, server.EndPoint);
        Assert.Equal(DialErrorClass.Timeout, ex.Class);
        Assert.Equal(DialStep.NoiseHandshake, ex.Step);
    }

    [Fact]
    public async Task Close_during_noise_handshake_is_Eof()
    {
        using var dialer = NewDialer();
        await using var server = new RawServer(async (s, ct) =>
        {
            await MultistreamSelect.HandleAsync(s, p => p == "/noise", ct);
            await s.ReadExactlyAsync(new byte[34], ct);
            s.Socket.Shutdown(SocketShutdown.Both);
        });
        var ex = await DialFailsAsync(dialer, server.EndPoint);
        Assert.Contains(ex.Class, new[] { DialErrorClass.Eof, DialErrorClass.Reset });
        Assert.Equal(DialStep.NoiseHandshake, ex.Step);
    }

    [Fact]
    public async Task Responder_signing_a_different_static_key_is_NoiseFailure()
    {
        using var dialer = NewDialer();
        var identity = Identity.GenerateSecp256k1();
        using var liar = new NoiseLocalIdentity(identity); // signs liar.StaticKey
        using var actualStatic = X25519KeyPair.Generate(); // but the handshake uses this one
        await using var server = new RawServer(async (s, ct) =>
        {
            await MultistreamSelect.HandleAsync(s, p => p == "/noise", ct);
            using var hs = new NoiseHandshakeState(false, actualStatic, ReadOnlySpan<byte>.Empty);
            var buf = new byte[65537];
            await s.ReadExactlyAsync(buf.AsMemory(0, 2), ct);
            int len = BinaryPrimitives.ReadUInt16BigEndian(buf);
            await s.ReadExactlyAsync(buf.AsMemory(0, len), ct);
            Assert.True(hs.TryReadMessage(buf.AsSpan(0, len), new byte[100], out _));
            int n = hs.WriteMessage(liar.Payload, buf.AsSpan(2));
            BinaryPrimitives.WriteUInt16BigEndian(buf, (ushort)n);
            await s.WriteAsync(buf.AsMemory(0, n + 2), ct);
            await Task.Delay(Timeout.Infinite, ct);
        });
        var ex = await DialFailsAsync(dialer, server.EndPoint);
        Assert.Equal(DialErrorClass.NoiseFailure, ex.Class);
        Assert.Equal(DialStep.NoiseHandshake, ex.Step);
        await AssertDialerStillWorksAsync(dialer);
    }

    [Fact]
    public async Task Garbage_noise_message_is_NoiseFailure()
    {
        using var dialer = NewDialer();
        await using var server = new RawServer(async (s, ct) =>
        {
            await MultistreamSelect.HandleAsync(s, p => p == "/noise", ct);
            await s.ReadExactlyAsync(new byte[34], ct);
            byte[] junk = new byte[2 + 200];
            BinaryPrimitives.WriteUInt16BigEndian(junk, 200);
            new Random(1).NextBytes(junk.AsSpan(2));
            await s.WriteAsync(junk, ct);
            await Task.Delay(Timeout.Infinite, ct);
        });
        var ex = await DialFailsAsync(dialer, server.EndPoint);
        Assert.Equal(DialErrorClass.NoiseFailure, ex.Class);
    }

    [Fact]
    public async Task Wrong_expected_peer_is_PeerIdMismatch_against_our_listener()
    {
        using var dialer = NewDialer();
        await using var listener = new Libp2pListener(new Libp2pOptions { Identity = Identity.GenerateSecp256k1() });
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var ex = await DialFailsAsync(dialer, listener.LocalEndPoint!, Identity.GenerateSecp256k1().PeerId);
        Assert.Equal(DialErrorClass.PeerIdMismatch, ex.Class);
        Assert.Equal(DialStep.NoiseHandshake, ex.Step);
        await AssertDialerStillWorksAsync(dialer);
    }

    [Fact]
    public async Task Listener_offering_no_common_muxer_is_MuxerNegotiation()
    {
        var dialer = new Libp2pDialer(new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), Muxers = ["/mplex/6.7.0"], HandshakeTimeout = StepTimeout });
        using var _ = dialer;
        await using var listener = new Libp2pListener(new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), Muxers = ["/yamux/1.0.0"] });
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var ex = await DialFailsAsync(dialer, listener.LocalEndPoint!);
        Assert.Equal(DialErrorClass.MuxerNegotiation, ex.Class);
        Assert.Equal(DialStep.MuxerNegotiation, ex.Step);
    }
}
