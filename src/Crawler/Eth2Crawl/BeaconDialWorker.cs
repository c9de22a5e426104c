using ClP2p.Crawler.Engine;
using ClP2p.Discovery;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.Dialing;

namespace ClP2p.Crawler.Eth2Crawl;

/// <summary>Dials a consensus node over libp2p and runs the eth2 handshake (identify, Status, MetaData, Ping, Goodbye).</summary>
public sealed class BeaconDialWorker(BeaconDialer dialer) : IDialWorker<Enr, BeaconDialResult>
{
    public async Task<DialReport<BeaconDialResult>> DialAsync(DiscoveredNode<Enr> node, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(node);
        var enr = node.Record;
        var endpoint = node.DialEndpoint ?? throw new InvalidOperationException("the engine dials only nodes with an endpoint");
        ForkDigest? digest = enr.TryGetValue(Eth2EnrFields.Eth2Key, out var eth2, out bool isList) && !isList
            && Eth2EnrFields.TryParseEth2(eth2.Span, out var forkId, out _) ? forkId.ForkDigest : null;
        var target = new BeaconDialTarget(endpoint, enr.PublicKey.ToArray(), digest);
        var result = await dialer.DialAsync(target, ct).ConfigureAwait(false);
        return new DialReport<BeaconDialResult>(result.Outcome.ToStorageString(), result.Duration, result);
    }
}
