using System.Net;
using System.Net.Sockets;
using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Eth2.Dialing;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.ReqResp;
using ClP2p.Eth2.Ssz;
using ClP2p.Libp2p;
using ClP2p.Libp2p.Crypto;
using ClP2p.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Crawler.Tests;

/// <summary>
/// The crawler's dialer (<see cref="CrawlSession.CreateDialerOptions"/>) against a peer on a slow link: its first
/// reply arrives 6.5 s after the dial, as a 3 s round trip plus a lost and resent segment does on the internet.
/// </summary>
public sealed class DialStepTimeoutTests : IAsyncDisposable
{
    private static readonly TimeSpan FirstReplyDelay = TimeSpan.FromSeconds(6.5);

    private readonly List<IAsyncDisposable> _disposables = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TcpListener _relay = new(IPAddress.Loopback, 0);

    [Fact]
    public async Task A_peer_whose_first_reply_takes_longer_than_the_libp2p_default_step_timeout_is_dialled_ok()
    {
        var identity = Identity.GenerateSecp256k1();
        // the peer itself is patient (as the simulator's are): only the dialer's step timeout is tested
        var listener = new Libp2pListener(new Libp2pOptions
        {
            Identity = identity,
            AgentVersion = "slow-peer/v1.0.0",
            HandshakeTimeout = TimeSpan.FromSeconds(30),
            StreamTimeout = TimeSpan.FromSeconds(30),
        });
        _disposables.Add(listener);
        var status = new StatusMessage(ForkDigest.Parse("8c9f62fe"), Root.Parse("0x" + new string('a', 64)), 77, Root.Zero, 2500, 0);
        var session = new PeerSession(status, new MetaDataMessage(3, AttestationSubnets.FromSubnets([1]), new SyncCommitteeSubnets(0), 0)) { EchoRemoteStatus = false };
        var server = new ReqRespServer(_ => session, () => session);
        foreach (var p in ReqRespServer.Protocols) listener.Handle(p, server.HandleAsync);
        listener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var relay = StartDelayingRelay(listener.LocalEndPoint!);

        var settings = new CrawlerSettings { Network = "mainnet" };
        var selection = NetworkSelection.Resolve(settings, NullLogger.Instance);
        var options = CrawlSession.CreateDialerOptions(settings, selection, Identity.GenerateSecp256k1().ExportSecp256k1PrivateKey()!);
        // the step is what this test is about: the library's own default would end the dial at the first reply
        Assert.True(options.Libp2p.HandshakeTimeout > FirstReplyDelay && new Libp2pOptions { Identity = identity }.HandshakeTimeout < FirstReplyDelay);

        using var dialer = new BeaconDialer(options);
        var r = await dialer.DialAsync(new BeaconDialTarget(relay, identity.PublicKey.Data.ToArray(), ForkDigest.Parse("8c9f62fe")), CancellationToken.None)
            .WaitAsync(Waits.HangGuard);
        Assert.True(r.Success, $"{r.Outcome} {r.FailedStep} {r.Error}");
        Assert.Equal(identity.PeerId.ToString(), r.PeerId);
        Assert.Equal(status, r.Status);
        Assert.Equal("slow-peer/v1.0.0", r.AgentVersion);
    }

    /// <summary>A TCP relay to <paramref name="backend"/> that holds back the backend's first bytes for
    /// <see cref="FirstReplyDelay"/>, then forwards everything as it comes.</summary>
    private IPEndPoint StartDelayingRelay(IPEndPoint backend)
    {
        _relay.Start();
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket client;
                try { client = await _relay.AcceptSocketAsync(_stop.Token); }
                catch (OperationCanceledException) { return; }
                catch (SocketException) { return; }
                _ = RelayAsync(client, backend);
            }
        });
        return (IPEndPoint)_relay.LocalEndpoint;
    }

    private async Task RelayAsync(Socket client, IPEndPoint backend)
    {
        using var c = client;
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await b.ConnectAsync(backend, _stop.Token);
            var up = CopyAsync(c, b, TimeSpan.Zero);
            var down = CopyAsync(b, c, FirstReplyDelay);
            await Task.WhenAny(up, down);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // the dial or the test ended
        }
    }

    private async Task CopyAsync(Socket from, Socket to, TimeSpan firstDelay)
    {
        var buffer = new byte[16 * 1024];
        bool first = true;
        while (true)
        {
            int n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            if (n == 0)
            {
                to.Shutdown(SocketShutdown.Send);
                return;
            }
            if (first && firstDelay > TimeSpan.Zero) await Task.Delay(firstDelay, _stop.Token);   // the slow link, not a wait for anything
            first = false;
            await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _relay.Stop();
        foreach (var d in _disposables) await d.DisposeAsync();
        _stop.Dispose();
    }
}
