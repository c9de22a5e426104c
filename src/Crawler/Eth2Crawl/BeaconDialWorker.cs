using System.Net;
using System.Net.Sockets;
using ClP2p.Crawler.Engine;
using ClP2p.Discovery;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.Dialing;

namespace ClP2p.Crawler.Eth2Crawl;

/// <summary>
/// Dials a consensus node over libp2p and runs the eth2 handshake (identify, Status, MetaData, Ping, Goodbye). A node
/// whose record has a TCP address of each family (ip/tcp and ip6/tcp6) is dialled at both, one after the other, so that
/// the census knows which families answer (<see cref="BeaconDialResult.OtherFamily"/>).
/// </summary>
public sealed class BeaconDialWorker(BeaconDialer dialer, Func<IPAddress, bool>? allowed = null) : IDialWorker<Enr, BeaconDialResult>
{
    public async Task<DialReport<BeaconDialResult>> DialAsync(DiscoveredNode<Enr> node, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(node);
        var enr = node.Record;
        var endpoint = node.DialEndpoint ?? throw new InvalidOperationException("the engine dials only nodes with an endpoint");
        ForkDigest? digest = enr.TryGetValue(Eth2EnrFields.Eth2Key, out var eth2, out bool isList) && !isList
            && Eth2EnrFields.TryParseEth2(eth2.Span, out var forkId, out _) ? forkId.ForkDigest : null;
        var target = new BeaconDialTarget(endpoint, enr.PublicKey.ToArray(), digest) { KeyFromVerifiedRecord = true };
        var result = await dialer.DialAsync(target, ct).ConfigureAwait(false);
        if (OtherFamilyEndpoint(enr, endpoint) is { } other && (allowed?.Invoke(other.Address) ?? false) && !ct.IsCancellationRequested)
        {
            var second = await dialer.DialAsync(target with { Endpoint = other }, ct).ConfigureAwait(false);
            result = result with { OtherFamily = second };
        }
        return new DialReport<BeaconDialResult>(result.Outcome.ToStorageString(), result.Duration, result);
    }

    /// <summary>The TCP endpoint of the record's other address family than <paramref name="dialled"/>'s, if it has one
    /// (EIP-778: tcp6 defaults to tcp when absent).</summary>
    public static IPEndPoint? OtherFamilyEndpoint(Enr enr, IPEndPoint dialled)
    {
        ArgumentNullException.ThrowIfNull(enr);
        ArgumentNullException.ThrowIfNull(dialled);
        if (dialled.AddressFamily == AddressFamily.InterNetwork)
            return enr.Ip6 is not null && (enr.Tcp6 ?? enr.Tcp) is int t6 && t6 > 0 ? new IPEndPoint(enr.Ip6, t6) : null;
        return enr.Ip is not null && enr.Tcp is int t && t > 0 ? new IPEndPoint(enr.Ip, t) : null;
    }
}
