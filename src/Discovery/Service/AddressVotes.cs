using System.Net;
using System.Net.Sockets;

namespace ClP2p.Discovery.Service;

/// <summary>
/// The node's public address as its peers see it: each PONG names the address and port the remote saw our PING come
/// from (discv5-wire.md PONG "recipient-ip", "recipient-port"). As sigp discv5 ("ip_votes", enr_update) and geth
/// (v5 "ipTracker") do, a node keeps the latest vote of each distinct peer per address family and adopts an endpoint
/// once <see cref="Discv5Options.AddressVotesNeeded"/> distinct peers agree on it. A single peer cannot move our record.
/// </summary>
internal sealed class AddressVotes(int needed, Func<IPAddress, bool> acceptable)
{
    /// <summary>Voters remembered per family; the oldest vote goes first when full (geth ipTracker keeps a window too).</summary>
    public const int MaxVoters = 256;

    private readonly object _gate = new();
    private readonly Dictionary<NodeId, (IPEndPoint EndPoint, long Order)>[] _votes = [new(), new()];
    private readonly IPEndPoint?[] _winners = new IPEndPoint?[2];
    private long _order;

    /// <summary>Records a peer's vote. Returns the endpoint of that family when this vote made a new winner, else null.</summary>
    public IPEndPoint? Add(NodeId voter, IPEndPoint observed)
    {
        if (needed <= 0) return null;
        if (observed.Address.IsIPv4MappedToIPv6) observed = new IPEndPoint(observed.Address.MapToIPv4(), observed.Port);
        if (observed.Port <= 0 || !acceptable(observed.Address)) return null;
        int family = observed.AddressFamily == AddressFamily.InterNetworkV6 ? 1 : 0;
        lock (_gate)
        {
            var votes = _votes[family];
            if (!votes.ContainsKey(voter) && votes.Count >= MaxVoters)
            {
                var oldest = votes.MinBy(kv => kv.Value.Order).Key;
                votes.Remove(oldest);
            }
            votes[voter] = (observed, ++_order);
            var best = votes.Values.GroupBy(v => v.EndPoint).Select(g => (EndPoint: g.Key, Count: g.Count())).MaxBy(g => g.Count);
            if (best.Count < needed || best.EndPoint.Equals(_winners[family])) return null;
            _winners[family] = best.EndPoint;
            return best.EndPoint;
        }
    }

    /// <summary>The adopted endpoint of a family (null until enough peers agreed).</summary>
    public IPEndPoint? Winner(AddressFamily family)
    {
        lock (_gate) return _winners[family == AddressFamily.InterNetworkV6 ? 1 : 0];
    }
}
