using System.Net;

namespace ClP2p.Crawler.Engine;

/// <summary>A node as the engine sees it: an id, whether it is a consensus-layer node, where to dial it, and the
/// discovery record itself, which the engine passes through without looking inside.</summary>
public sealed record DiscoveredNode(string NodeId, ulong Seq, bool IsConsensus, IPEndPoint? DialEndpoint, object Record)
{
    /// <summary>Discovery could not trust the record's address (a private address relayed by a public node): never dialled.</summary>
    public bool AddressUntrusted { get; init; }
}

/// <summary>What discovery reports to the engine.</summary>
public abstract record DiscoveryReport;

/// <summary>A new node, or a newer record (higher seq) of a known one.</summary>
public sealed record NodeFound(DiscoveredNode Node) : DiscoveryReport;

/// <summary>Discovery finished asking one node for its table.</summary>
public sealed record NodeQueried(string NodeId, bool Answered, int Neighbours, string? Error, TimeSpan Duration) : DiscoveryReport;

/// <summary>The result of dialling one node. <see cref="Outcome"/> is "ok" or an error class.</summary>
public sealed record DialReport(string Outcome, TimeSpan Duration, object? Detail)
{
    public bool Ok => Outcome == DialOutcomes.Ok;
}

/// <summary>Dial outcome names the engine itself produces.</summary>
public static class DialOutcomes
{
    public const string Ok = "ok";
    public const string NotDialled = "not_dialled";
}

/// <summary>Why a node was not dialled.</summary>
public static class NotDialledReasons
{
    public const string NotConsensus = "no_eth2_field";
    public const string NoTcp = "no_tcp_port";
    public const string AddressNotAllowed = "address_not_allowed";
    /// <summary>A private or loopback address returned by a node outside that network (PITFALLS 7); only reachable when private ranges are allowed.</summary>
    public const string AddressUntrusted = "address_untrusted";
    public const string CrawlStopped = "crawl_stopped";
    public const string DialingDisabled = "dialing_disabled";
}

/// <summary>Everything learned about one node in one crawl; written once per node.</summary>
public sealed record NodeOutcome(DiscoveredNode Node, NodeQueried? Discovery, DialReport? Dial, string? NotDialledReason, DateTimeOffset At);

/// <summary>Walks the DHT and reports nodes and per-node query outcomes until nothing is left to ask.</summary>
public interface IDiscoveryWorker
{
    IAsyncEnumerable<DiscoveryReport> RunAsync(CancellationToken ct);
}

/// <summary>Dials one node. Must not throw for anything the remote does; an exception is counted as outcome "other".</summary>
public interface IDialWorker
{
    Task<DialReport> DialAsync(DiscoveredNode node, CancellationToken ct);
}

/// <summary>Receives results as they come (storage).</summary>
public interface ICrawlSink
{
    ValueTask NodeFoundAsync(DiscoveredNode node, CancellationToken ct);
    ValueTask NodeDoneAsync(NodeOutcome outcome, CancellationToken ct);
}
