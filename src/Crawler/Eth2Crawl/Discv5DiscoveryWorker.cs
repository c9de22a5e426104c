using System.Runtime.CompilerServices;
using ClP2p.Crawler.Engine;
using ClP2p.Discovery;

namespace ClP2p.Crawler.Eth2Crawl;

/// <summary>Discovery for the engine: a discv5 table enumeration plus random walks, from the seeds.</summary>
public sealed class Discv5DiscoveryWorker(Discv5Node node, DhtCrawlOptions options, IReadOnlyList<Enr> seeds, TimeProvider? time = null)
    : IDiscoveryWorker<Enr>
{
    public async IAsyncEnumerable<DiscoveryReport<Enr>> RunAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var crawler = new DhtCrawler(node, options, time);
        await foreach (var e in crawler.RunAsync(seeds, ct).ConfigureAwait(false))
        {
            switch (e)
            {
                case EnrDiscovered d:
                    yield return new NodeFound<Enr>(ToNode(d.Enr) with { AddressUntrusted = d.RelayUntrusted });
                    break;
                case NodeVisited v:
                    yield return new NodeQueried<Enr>(v.Enr.NodeId.ToString(), v.Answered, v.Neighbours, v.Error, v.Duration) { Complete = v.Complete };
                    break;
            }
        }
    }

    /// <summary>A consensus-layer node is one whose ENR has an eth2 field; it is dialled at its tcp (or tcp6) endpoint.</summary>
    public static DiscoveredNode<Enr> ToNode(Enr enr) =>
        new(enr.NodeId.ToString(), enr.Seq, enr.ContainsKey("eth2"), enr.TcpEndPoint, enr);
}
