using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using ClP2p.Crawler.Engine;
using ClP2p.Discovery;

namespace ClP2p.Crawler.Eth2Crawl;

/// <summary>
/// Discovery for the engine: a discv5 table enumeration plus random walks, from the seeds. A node that answered over
/// one family and whose record has an address of the other (ip/udp and ip6/udp6) is also PINGed there, when the node
/// can send IPv6 and <paramref name="allowed"/> lets us contact that address: its report says whether it answered
/// (<see cref="NodeQueried{TRecord}.OtherFamilyAnswered"/>).
/// </summary>
public sealed class Discv5DiscoveryWorker(Discv5Node node, DhtCrawlOptions options, IReadOnlyList<Enr> seeds, TimeProvider? time = null, Func<IPAddress, bool>? allowed = null)
    : IDiscoveryWorker<Enr>
{
    /// <summary>Second-family PINGs in flight at once.</summary>
    public const int MaxFamilyProbes = 256;

    private DhtCrawler? _crawler;

    /// <summary>The discv5 request window of the run (its sizes and cuts); null before the run started.</summary>
    public CrawlWindowStats? Window => _crawler?.WindowStats;

    public async IAsyncEnumerable<DiscoveryReport<Enr>> RunAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var output = Channel.CreateUnbounded<DiscoveryReport<Enr>>(new UnboundedChannelOptions { SingleReader = true });
        var producer = Task.Run(() => ProduceAsync(output.Writer, ct), CancellationToken.None);
        await foreach (var r in output.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false)) yield return r;
        await producer.ConfigureAwait(false);
    }

    private async Task ProduceAsync(ChannelWriter<DiscoveryReport<Enr>> output, CancellationToken ct)
    {
        var probes = new List<Task>();
        using var slots = new SemaphoreSlim(MaxFamilyProbes);
        try
        {
            var crawler = new DhtCrawler(node, options, time);
            _crawler = crawler;
            await foreach (var e in crawler.RunAsync(seeds, ct).ConfigureAwait(false))
            {
                switch (e)
                {
                    case EnrDiscovered d:
                        output.TryWrite(new NodeFound<Enr>(ToNode(d.Enr) with { AddressUntrusted = d.RelayUntrusted }));
                        break;
                    case NodeVisited v:
                        var report = new NodeQueried<Enr>(v.Enr.NodeId.ToString(), v.Answered, v.Neighbours, v.Error, v.Duration) { Complete = v.Complete };
                        if (v.Answered && OtherFamilyEndpoint(v.Enr) is { } other && (allowed?.Invoke(other.Address) ?? false))
                        {
                            await slots.WaitAsync(ct).ConfigureAwait(false);
                            probes.RemoveAll(t => t.IsCompleted);
                            probes.Add(ProbeAsync(v.Enr, other, report, output, slots, ct));
                        }
                        else output.TryWrite(report);
                        break;
                }
            }
            await Task.WhenAll(probes).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            output.TryComplete(ex);
            return;
        }
        output.TryComplete();
    }

    private async Task ProbeAsync(Enr enr, IPEndPoint at, NodeQueried<Enr> report, ChannelWriter<DiscoveryReport<Enr>> output, SemaphoreSlim slots, CancellationToken ct)
    {
        try
        {
            var pong = await node.PingAtAsync(enr, at, ct).ConfigureAwait(false);
            output.TryWrite(report with { OtherFamilyAnswered = pong.IsOk });
        }
        catch (OperationCanceledException)
        {
            output.TryWrite(report);
        }
        finally
        {
            slots.Release();
        }
    }

    /// <summary>The record's IPv6 UDP endpoint when the node was asked over IPv4 (it has both; the socket prefers IPv4)
    /// and our socket can send IPv6 (EIP-778: udp6 defaults to udp when absent).</summary>
    private IPEndPoint? OtherFamilyEndpoint(Enr enr) =>
        node.HasIPv6 && enr.Ip is not null && enr.Udp is > 0 && enr.Ip6 is not null && (enr.Udp6 ?? enr.Udp) is int u6 && u6 > 0
            ? new IPEndPoint(enr.Ip6, u6) : null;

    /// <summary>A consensus-layer node is one whose ENR has an eth2 field; it is dialled at its tcp (or tcp6) endpoint.</summary>
    public static DiscoveredNode<Enr> ToNode(Enr enr) =>
        new(enr.NodeId.ToString(), enr.Seq, enr.ContainsKey("eth2"), enr.TcpEndPoint, enr);
}
