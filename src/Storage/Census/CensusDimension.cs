namespace ClP2p.Storage;

/// <summary>
/// A census grouping of the nodes seen in a crawl (its visits). Every node falls in exactly one group of each
/// dimension; a null key is the "unknown" group (e.g. not dialled, so no client; no geo data; no eth2 field).
/// Wire names (<see cref="CensusDimensions.Name"/>) are snake_case: client, client_version, fork_digest, ...
/// </summary>
public enum CensusDimension
{
    /// <summary>Client parsed from the agent string ("lighthouse"). Null for nodes not dialled or not answering identify.</summary>
    Client,
    /// <summary>Client version ("v7.1.0"), grouped per client; label: client. Null when the agent names no version (a bare
    /// "nimbus") or names only its libp2p library.</summary>
    ClientVersion,
    /// <summary>ENR eth2 fork digest, 8 hex digits; label: "network/fork" when the network registry names it.</summary>
    ForkDigest,
    /// <summary>Fork name of the ENR fork digest ("electra"), named at query time from the network registry.</summary>
    ForkName,
    /// <summary>Network of the node: the one its Status digest names when it answered Status, else its ENR digest's.</summary>
    Network,
    /// <summary>ENR next fork "version@epoch" ("06000000@411392", or "...@far_future" when none is scheduled).</summary>
    NextFork,
    /// <summary>Country code of the visit's IP (GeoIP).</summary>
    Country,
    /// <summary>Autonomous system number of the visit's IP; label: AS organisation.</summary>
    Asn,
    /// <summary>Operating system parsed from the agent string.</summary>
    Os,
    /// <summary>CPU architecture parsed from the agent string.</summary>
    Arch,
    /// <summary>"ipv4" or "ipv6": the family of the visit's IP.</summary>
    IpVersion,
    /// <summary>"ok", an error class (io_timeout, connection_refused, ...) or "not_dialled".</summary>
    DialOutcome,
    /// <summary>"true" when the node's Status fork digest differed from its ENR's, "false" when equal, null when not both known.</summary>
    DigestMismatch,
    /// <summary>PeerDAS custody group count: MetaData v3 custody_group_count, else the ENR "cgc" field (fulu/p2p-interface.md).</summary>
    Cgc,
    /// <summary>How many of the 64 attestation subnets the node subscribes to: bits set in MetaData attnets, else ENR attnets.</summary>
    Attnets,
    /// <summary>How many of the 4 sync committee subnets the node subscribes to: bits set in MetaData syncnets, else ENR syncnets.</summary>
    Syncnets,
    /// <summary>"answered" when the node answered discovery (FINDNODE) during the crawl and was fully enumerated,
    /// "incomplete" when it answered but was not fully enumerated (a distance stayed unanswered, or the crawl ended first: the
    /// crawl summary's discovery_incomplete; 0 in a healthy crawl), "silent" when it did not answer.</summary>
    Discovery,
    /// <summary>
    /// How the node can be reached (docs/data-dictionary.md "Reachability"): <c>dialable</c> (our dial of it succeeded),
    /// <c>discovery_only</c> (it answered discovery but no dial succeeded), <c>inbound_only</c> (neither, but it contacted
    /// us in the 24 hours before the crawl ended: behind NAT or a firewall), <c>unreachable</c> (none of these).
    /// </summary>
    Reachability,
    /// <summary>"true" when the node contacted us (discv5 or libp2p) in the 24 hours before the crawl ended, "false" when
    /// not, null when the crawler did not listen.</summary>
    SeenInbound,
    /// <summary>Address families that answered: <c>ipv4_only</c>, <c>ipv6_only</c>, <c>dual_stack</c>; null when none answered.</summary>
    IpFamily,
    /// <summary><see cref="IpFamily"/> per client: key "client/family" ("lighthouse/dual_stack", "unknown/ipv4_only"); label: client.</summary>
    IpFamilyByClient,
    /// <summary>
    /// Status head slot against the network's wall-clock slot at the visit (<see cref="SyncHealth"/>): synced, behind,
    /// far_behind; null when there was no Status or the network's genesis is not known. Computed per query, not stored.
    /// </summary>
    SyncHealth,
    /// <summary>Wall-clock epoch minus the Status finalized epoch, bucketed (<see cref="SyncHealth"/>). Computed per query.</summary>
    FinalizedLag,
}

/// <summary>Wire names of <see cref="CensusDimension"/> values.</summary>
public static class CensusDimensions
{
    /// <summary>All dimensions, in declaration order.</summary>
    public static IReadOnlyList<CensusDimension> All { get; } = Enum.GetValues<CensusDimension>();

    /// <summary>True for the dimensions computed per query from each visit's Status and the network's clock (not kept in crawl_census).</summary>
    public static bool IsComputed(CensusDimension dimension) => dimension is CensusDimension.SyncHealth or CensusDimension.FinalizedLag;

    /// <summary>The snake_case name ("client_version").</summary>
    public static string Name(CensusDimension dimension) => CensusSql.DimensionName(dimension);

    /// <summary>Parses a snake_case name (or the enum name, case-insensitive).</summary>
    public static bool TryParse(string? name, out CensusDimension dimension)
    {
        dimension = default;
        if (string.IsNullOrWhiteSpace(name)) return false;
        foreach (CensusDimension d in All)
        {
            if (string.Equals(Name(d), name, StringComparison.OrdinalIgnoreCase) || string.Equals(d.ToString(), name, StringComparison.OrdinalIgnoreCase))
            {
                dimension = d;
                return true;
            }
        }
        return false;
    }
}
