using System.Net;

namespace ClP2p.Crawler.Engine;

/// <summary>A node as the engine sees it: an id, whether it is a consensus-layer node, where to dial it, and the
/// discovery record itself (<typeparamref name="TRecord"/>), which the engine passes through without looking inside.</summary>
public sealed record DiscoveredNode<TRecord>(string NodeId, ulong Seq, bool IsConsensus, IPEndPoint? DialEndpoint, TRecord Record)
{
    /// <summary>Discovery could not trust the record's address (a private address relayed by a public node): never dialled.</summary>
    public bool AddressUntrusted { get; init; }
}

/// <summary>What discovery reports to the engine.</summary>
public abstract record DiscoveryReport<TRecord>;

/// <summary>A new node, or a newer record (higher seq) of a known one.</summary>
public sealed record NodeFound<TRecord>(DiscoveredNode<TRecord> Node) : DiscoveryReport<TRecord>;

/// <summary>Discovery finished asking one node for its table. <see cref="Complete"/>: it answered every request the
/// enumeration meant to send (false for a node that did not answer, or answered and then stopped).</summary>
public sealed record NodeQueried<TRecord>(string NodeId, bool Answered, int Neighbours, string? Error, TimeSpan Duration) : DiscoveryReport<TRecord>
{
    public bool Complete { get; init; } = Answered && Error is null;

    /// <summary>For a node with an address of each family, asked over one: whether it answered a PING at the other
    /// (null when it was not asked there).</summary>
    public bool? OtherFamilyAnswered { get; init; }
}

/// <summary>The result of dialling one node. <see cref="Outcome"/> is "ok" or an error class; <see cref="Detail"/> is
/// what the dialer learnt (<typeparamref name="TDetail"/>), <see cref="Error"/> a text when the dialer itself failed.</summary>
public sealed record DialReport<TDetail>(string Outcome, TimeSpan Duration, TDetail? Detail, string? Error = null)
{
    public bool Ok => Outcome == DialOutcomes.Ok;
}

/// <summary>Dial outcome names the engine itself produces.</summary>
public static class DialOutcomes
{
    public const string Ok = "ok";
    public const string NotDialled = "not_dialled";
    /// <summary>The dialer threw (a bug of ours, logged); the engine records it under this class.</summary>
    public const string Other = "other";
}

/// <summary>Why a node was not dialled.</summary>
public static class NotDialledReasons
{
    public const string NotConsensus = "no_eth2_field";
    public const string NoTcp = "no_tcp_port";
    public const string AddressNotAllowed = "address_not_allowed";
    /// <summary>A private or loopback address returned by a node outside that network (go-ethereum netutil.CheckRelayIP refuses such records); only reachable when private ranges are allowed.</summary>
    public const string AddressUntrusted = "address_untrusted";
    public const string CrawlStopped = "crawl_stopped";
    public const string DialingDisabled = "dialing_disabled";
}

/// <summary>Everything learned about one node in one crawl; written once per node.</summary>
public sealed record NodeOutcome<TRecord, TDetail>(
    DiscoveredNode<TRecord> Node, NodeQueried<TRecord>? Discovery, DialReport<TDetail>? Dial, string? NotDialledReason, DateTimeOffset At);

/// <summary>Walks the DHT and reports nodes and per-node query outcomes until nothing is left to ask.</summary>
public interface IDiscoveryWorker<TRecord>
{
    IAsyncEnumerable<DiscoveryReport<TRecord>> RunAsync(CancellationToken ct);
}

/// <summary>Dials one node. Must not throw for anything the remote does; an exception is counted as outcome "other".</summary>
public interface IDialWorker<TRecord, TDetail>
{
    Task<DialReport<TDetail>> DialAsync(DiscoveredNode<TRecord> node, CancellationToken ct);
}

/// <summary>Receives results as they come (storage).</summary>
public interface ICrawlSink<TRecord, TDetail>
{
    ValueTask NodeFoundAsync(DiscoveredNode<TRecord> node, CancellationToken ct);
    ValueTask NodeDoneAsync(NodeOutcome<TRecord, TDetail> outcome, CancellationToken ct);
}

/// <summary>Which addresses the engine may dial (the crawl's driver decides what is public, private or loopback).</summary>
public interface IAddressPolicy
{
    bool IsAllowed(IPAddress? address);
}
