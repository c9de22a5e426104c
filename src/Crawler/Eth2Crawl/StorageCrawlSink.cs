using System.Collections.Concurrent;
using System.Net;
using ClP2p.Crawler.Engine;
using ClP2p.Discovery;
using ClP2p.Eth2.Agents;
using ClP2p.Eth2.Dialing;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;
using ClP2p.Libp2p.Crypto;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Eth2Crawl;

/// <summary>
/// Turns what the engine learns into Storage observations: every ENR (CL or not) with its decoded eth2 fields and the
/// network/fork its digest names; one visit per node per crawl with discovery and dial outcome; geo/ASN once per IP.
/// The crawl's id may come later than the first results (the crawl row is written while discovery already runs):
/// visits wait for it; if it never comes (the database failed), they are not written and the crawl reports the failure.
/// </summary>
public sealed class StorageCrawlSink(
    ResultWriter writer, Task<long> crawlId, NetworkRegistry registry, TimeProvider time,
    Func<IPAddress, IpGeo?>? geoLookup = null, ILogger? logger = null) : ICrawlSink<Enr, BeaconDialResult>
{
    public StorageCrawlSink(ResultWriter writer, long crawlId, NetworkRegistry registry, TimeProvider time,
        Func<IPAddress, IpGeo?>? geoLookup = null, ILogger? logger = null)
        : this(writer, Task.FromResult(crawlId), registry, time, geoLookup, logger) { }

    private readonly ConcurrentDictionary<string, byte> _geoDone = new(StringComparer.Ordinal);
    private long _malformedEth2;

    /// <summary>ENRs whose consensus fields could not be decoded (each also logged at debug level).</summary>
    public long MalformedEth2Fields => Interlocked.Read(ref _malformedEth2);

    public async ValueTask NodeFoundAsync(DiscoveredNode<Enr> node, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(node);
        var enr = node.Record;
        await writer.AddEnrAsync(ToObservation(enr, time.GetUtcNow()), ct).ConfigureAwait(false);
    }

    public async ValueTask NodeDoneAsync(NodeOutcome<Enr, BeaconDialResult> outcome, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var enr = outcome.Node.Record;
        IPAddress? ip = outcome.Node.DialEndpoint?.Address ?? enr.UdpEndPoint?.Address ?? enr.Ip ?? enr.Ip6;
        string? ipText = ip?.ToString();
        long id;
        if (crawlId.IsCompletedSuccessfully) id = crawlId.Result;
        else
        {
            // the session awaits the same task and reports the database's failure
            await ((Task)crawlId).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!crawlId.IsCompletedSuccessfully) return;
            id = crawlId.Result;
        }
        var visit = ToVisit(id, outcome, ipText);
        await writer.AddVisitAsync(visit, ct).ConfigureAwait(false);
        if (ip is not null && geoLookup is not null && _geoDone.TryAdd(ipText!, 0) && geoLookup(ip) is { } geo)
            await writer.AddGeoAsync(geo, ct).ConfigureAwait(false);
    }

    public EnrObservation ToObservation(Enr enr, DateTimeOffset seenAt)
    {
        var info = Eth2EnrInfo.From((string key, out ReadOnlyMemory<byte> v) => enr.TryGetValue(key, out v, out bool isList) && !isList);
        if (info.Errors.Count > 0)
        {
            Interlocked.Increment(ref _malformedEth2);
            logger?.LogDebug("ENR {NodeId} has malformed consensus fields: {Errors}", enr.NodeId, string.Join(", ", info.Errors));
        }
        string? network = null, fork = null;
        if (info.Eth2 is { } id && registry.TryNameDigest(id.ForkDigest, out var name))
        {
            network = name.Network;
            fork = name.Fork;
        }
        byte[] publicKey = enr.PublicKey.ToArray();
        return new EnrObservation
        {
            NodeId = enr.NodeId.ToByteArray(),
            Seq = enr.Seq,
            Raw = enr.Raw.ToArray(),
            SeenAt = seenAt,
            PublicKey = publicKey,
            // the record's signature was verified with this key when it was decoded, so it is a valid secp256k1 point
            PeerId = publicKey.Length == 33 ? PeerId.FromVerifiedSecp256k1PublicKey(publicKey).ToString() : null,
            Ip4 = enr.Ip?.ToString(),
            Ip6 = enr.Ip6?.ToString(),
            Udp = enr.Udp,
            Tcp = enr.Tcp,
            Quic = enr.Quic,
            Udp6 = enr.Udp6,
            Tcp6 = enr.Tcp6,
            ForkDigest = info.Eth2?.ForkDigest.ToArray(),
            ForkName = fork,
            NetworkName = network,
            NextForkVersion = info.Eth2 is { } f ? Version(f.NextForkVersion) : null,
            NextForkEpoch = info.Eth2?.NextForkEpoch,
            Attnets = info.Attnets is { } a ? Attnets(a) : null,
            Syncnets = info.Syncnets is { } s ? [s.Bits] : null,
            Cgc = info.CustodyGroupCount,
            Nfd = info.NextForkDigest?.ToArray(),
        };
    }

    /// <summary>The visit row of one node's outcome (a crawl's, or a re-dial's when <paramref name="crawlId"/> is null).</summary>
    public static VisitObservation ToVisit(long? crawlId, NodeOutcome<Enr, BeaconDialResult> outcome, string? ip)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var enr = outcome.Node.Record;
        var dial = outcome.Dial?.Detail;
        var status = dial?.Status;
        ForkDigest? enrDigest = enr.TryGetValue(Eth2EnrFields.Eth2Key, out var eth2, out bool isList) && !isList
            && Eth2EnrFields.TryParseEth2(eth2.Span, out var forkId, out _) ? forkId.ForkDigest : null;
        var families = FamiliesAnswered(outcome);
        return WithDialColumns(new VisitObservation
        {
            CrawlId = crawlId,
            NodeId = enr.NodeId.ToByteArray(),
            VisitedAt = outcome.At,
            Kind = VisitKinds.Crawl,
            EnrSeq = enr.Seq,
            Ip = ip,
            DiscoveryAnswered = outcome.Discovery?.Answered,
            Neighbours = outcome.Discovery?.Neighbours,
            DiscoveryError = outcome.Discovery?.Error,
            DialOutcome = outcome.Dial?.Outcome ?? Storage.DialOutcomes.NotDialled,
            DialError = outcome.Dial is null ? outcome.NotDialledReason : dial?.Error ?? (outcome.Dial.Ok ? null : outcome.Dial.Error),
            DigestMismatch = status is not null && enrDigest is { } d ? status.ForkDigest != d : null,
            Ipv4Answered = families.V4,
            Ipv6Answered = families.V6,
        }, dial);
    }

    /// <summary>
    /// <paramref name="visit"/> with the columns a libp2p exchange fills (step, latency, identify agent, Status,
    /// MetaData, Goodbye, the Status sent), from our dial or from a peer's inbound connection; the outcome and error stay
    /// the caller's. Null: the visit as it is.
    /// </summary>
    public static VisitObservation WithDialColumns(VisitObservation visit, BeaconDialResult? dial)
    {
        ArgumentNullException.ThrowIfNull(visit);
        if (dial is null) return visit;
        AgentInfo? agent = dial.AgentVersion is { } raw ? AgentParser.Parse(raw) : null;
        var status = dial.Status;
        var meta = dial.MetaData;
        return visit with
        {
            FailedStep = dial.FailedStep?.ToStorageString(),
            LatencyMs = dial.Latency is { } l ? (int)Math.Round(l.TotalMilliseconds) : null,
            AgentVersion = dial.AgentVersion,
            Client = agent?.Client,
            ClientInferred = agent?.ClientInferred,
            ClientVersion = agent?.Version,
            Os = agent?.Os,
            Arch = agent?.Arch,
            PeerId = dial.PeerId,
            Muxer = dial.Muxer,
            StatusForkDigest = status?.ForkDigest.ToArray(),
            FinalizedRoot = status?.FinalizedRoot.ToArray(),
            FinalizedEpoch = status?.FinalizedEpoch,
            HeadRoot = status?.HeadRoot.ToArray(),
            HeadSlot = status?.HeadSlot,
            EarliestAvailableSlot = status?.EarliestAvailableSlot,
            StatusVersion = dial.StatusVersion,
            MetadataSeq = meta?.SeqNumber,
            MetadataAttnets = meta is not null ? Attnets(meta.Attnets) : null,
            MetadataSyncnets = meta is not null ? [meta.Syncnets.Bits] : null,
            CustodyGroupCount = meta?.CustodyGroupCount,
            MetadataVersion = dial.MetaDataVersion,
            GoodbyeReason = dial.GoodbyeReason,
            StatusDigestSent = dial.StatusSent?.ForkDigest.ToArray(),
        };
    }

    /// <summary>
    /// Whether the node answered over IPv4 and over IPv6: discovery answered over the family of the UDP endpoint it was
    /// asked at (IPv4 when the record has both, as the socket chooses), or a dial over that family connected (TCP). Null
    /// for a family the record has no address of.
    /// </summary>
    public static (bool? V4, bool? V6) FamiliesAnswered(NodeOutcome<Enr, BeaconDialResult> outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var enr = outcome.Node.Record;
        bool? v4 = enr.Ip is null ? null : false, v6 = enr.Ip6 is null ? null : false;
        if (outcome.Discovery?.Answered == true)
        {
            if (enr.Ip is not null && enr.Udp is > 0) v4 = true;
            else if (enr.Ip6 is not null) v6 = true;
        }
        if (outcome.Discovery?.OtherFamilyAnswered == true) v6 = true;
        void Dialled(IPEndPoint? at, BeaconDialResult? d)
        {
            if (at is null || d?.Latency is null) return;
            if (at.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !at.Address.IsIPv4MappedToIPv6) v6 = true; else v4 = true;
        }
        var dial = outcome.Dial?.Detail;
        if (outcome.Node.DialEndpoint is { } first)
        {
            Dialled(first, dial);
            Dialled(dial?.OtherFamily is not null ? BeaconDialWorker.OtherFamilyEndpoint(enr, first) : null, dial?.OtherFamily);
        }
        return (v4, v6);
    }

    /// <summary>The attnets bitvector as its 8 bytes.</summary>
    public static byte[] Attnets(AttestationSubnets a)
    {
        var b = new byte[AttestationSubnets.Length];
        a.WriteTo(b);
        return b;
    }

    private static byte[] Version(ForkVersion v)
    {
        var b = new byte[ForkVersion.Length];
        v.WriteTo(b);
        return b;
    }
}
