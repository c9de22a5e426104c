using System.Net;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Service;
using ClP2p.Discovery.Transport;
using Microsoft.Extensions.Logging;

namespace ClP2p.Discovery.Handler;

/// <summary>What every handler shard shares: all of it immutable or safe to use from any thread.</summary>
internal sealed class HandlerContext
{
    private Enr? _localEnr;

    public required Discv5Options Options { get; init; }
    public required ILogger Log { get; init; }
    public required TimeProvider Time { get; init; }
    /// <summary>Must be safe to call from several threads at once (shards run in parallel).</summary>
    public required IDiscoveryRandom Random { get; init; }
    public required byte[] PrivateKey { get; init; }
    public required NodeId LocalId { get; init; }
    public required Discv5Socket Socket { get; init; }
    public required NodeService Service { get; init; }
    public required VerifiedRecords Records { get; init; }
    public required UnsolicitedLimiter WhoAreYouLimiter { get; init; }
    public required UnsolicitedLimiter UnsolicitedLimiter { get; init; }
    public required Discv5Counters Counters { get; init; }
    public required AddressVotes Votes { get; init; }
    /// <summary>Called with a new endpoint the votes adopted (the node puts it in its record).</summary>
    public required Action<IPEndPoint> AddressAdopted { get; init; }

    /// <summary>The local record; replaced whole (a new seq) by <see cref="Discv5Node.UpdateLocalEnr"/>.</summary>
    public Enr LocalEnr
    {
        get => Volatile.Read(ref _localEnr) ?? throw new InvalidOperationException("call StartAsync first");
        set => Volatile.Write(ref _localEnr, value);
    }

    public Enr? LocalEnrOrNull => Volatile.Read(ref _localEnr);
}

internal enum ShardItemKind
{
    Packet,
    StartRequest,
    DeadlinesDue,
    CancelRequest,
    /// <summary>A request group was cancelled: the shard ends its requests of every cancelled group.</summary>
    CancelGroups,
    Housekeeping,
}

/// <summary>One unit of work for a shard's loop: a received datagram (its rented buffer), or a request event.</summary>
internal readonly record struct ShardItem(ShardItemKind Kind, byte[]? Buffer, int Length, System.Net.IPEndPoint? From, PendingRequest? Request)
{
    public static ShardItem Packet(byte[] buffer, int length, System.Net.IPEndPoint from) => new(ShardItemKind.Packet, buffer, length, from, null);
    public static ShardItem Start(PendingRequest r) => new(ShardItemKind.StartRequest, null, 0, null, r);
    public static readonly ShardItem DeadlinesDue = new(ShardItemKind.DeadlinesDue, null, 0, null, null);
    public static ShardItem Cancel(PendingRequest r) => new(ShardItemKind.CancelRequest, null, 0, null, r);
    public static readonly ShardItem Housekeeping = new(ShardItemKind.Housekeeping, null, 0, null, null);
    public static readonly ShardItem CancelGroups = new(ShardItemKind.CancelGroups, null, 0, null, null);
}
