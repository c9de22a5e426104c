using System.Net;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Transport;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>Our dialer and our listener connected over an in-memory duplex pipe (no sockets).</summary>
public sealed class InMemoryPair : IAsyncDisposable
{
    public const string Echo = "/test/echo/1";

    private InMemoryPair(Libp2pDialer dialer, Libp2pListener listener, Libp2pConnection client, Libp2pConnection server)
    {
        Dialer = dialer;
        Listener = listener;
        Client = client;
        Server = server;
    }

    public Libp2pDialer Dialer { get; }
    public Libp2pListener Listener { get; }
    public Libp2pConnection Client { get; }
    public Libp2pConnection Server { get; }

    /// <summary><paramref name="clientTransport"/> wraps the dialer's end of the pipe (to watch what it writes).</summary>
    public static async Task<InMemoryPair> CreateAsync(string muxer, Action<Libp2pListener>? configure = null, IReadOnlyList<string>? dialerMuxers = null, Func<Stream, Stream>? clientTransport = null, Libp2pMetrics? dialerMetrics = null, Func<Stream, Stream>? serverTransport = null)
    {
        var dialer = new Libp2pDialer(new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), Muxers = dialerMuxers ?? [muxer] }, metrics: dialerMetrics);
        var listener = new Libp2pListener(new Libp2pOptions { Identity = Identity.GenerateEd25519(), Muxers = [muxer] });
        listener.Handle(Echo, async (s, c, ct) =>
        {
            await s.CopyToAsync(s, ct);
            await s.CloseWriteAsync(ct);
        });
        configure?.Invoke(listener);
        var (a, b) = DuplexPipe.CreatePair();
        var ep = new IPEndPoint(IPAddress.Loopback, 1);
        using var cts = new CancellationTokenSource(HangGuard);
        var server = listener.UpgradeInboundAsync(serverTransport?.Invoke(b) ?? b, ep, cts.Token);
        var client = await dialer.UpgradeOutboundAsync(clientTransport?.Invoke(a) ?? a, ep, listener.PeerId, cts.Token);
        return new InMemoryPair(dialer, listener, client, await server);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        await Listener.DisposeAsync();
        Dialer.Dispose();
    }
}
