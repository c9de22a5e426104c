namespace ClP2p.Storage;

/// <summary>What one vantage point saw in a merged census.</summary>
/// <param name="Vantage">The vantage's name.</param>
/// <param name="Crawls">Its crawls started in the window, by id.</param>
/// <param name="Seen">Distinct nodes it saw in those crawls.</param>
/// <param name="Only">Of those, nodes no other vantage saw.</param>
/// <param name="ShareOfObserved">Seen / nodes seen by any vantage, in [0, 1].</param>
/// <param name="EstimatedCoverage">Seen / estimated population; null without a valid estimate.</param>
public sealed record VantageCoverage(string Vantage, IReadOnlyList<long> Crawls, long Seen, long Only, double ShareOfObserved, double? EstimatedCoverage);

/// <summary>Nodes two vantages both saw.</summary>
/// <param name="A">First vantage (ordinal order).</param>
/// <param name="B">Second vantage.</param>
/// <param name="Both">Nodes seen by both.</param>
/// <param name="Jaccard">Both / nodes seen by either, in [0, 1].</param>
public sealed record VantageOverlap(string A, string B, long Both, double Jaccard);

/// <summary>Nodes seen by exactly one set of vantages (a capture history).</summary>
/// <param name="Vantages">The vantages that saw them (and no other), ordinal order.</param>
/// <param name="Count">How many nodes.</param>
public sealed record CaptureHistory(IReadOnlyList<string> Vantages, long Count);

/// <summary>
/// One census of several vantage points over a time window: each node seen by any crawl that started in the window is
/// counted once, with what each vantage saw, their overlaps, and a capture–recapture estimate of the whole population
/// (<see cref="CaptureRecapture"/>).
/// </summary>
public sealed record MergedCensus
{
    /// <summary>Window start (inclusive), on crawl start times.</summary>
    public required DateTimeOffset From { get; init; }
    /// <summary>Window end (exclusive).</summary>
    public required DateTimeOffset To { get; init; }
    /// <summary>ENR network filter applied (e.g. "mainnet"), or null for all nodes.</summary>
    public string? Network { get; init; }
    /// <summary>Network-crawled filter applied to the crawls, or null.</summary>
    public string? CrawlNetwork { get; init; }
    /// <summary>Distinct nodes seen by at least one vantage.</summary>
    public required long Observed { get; init; }
    /// <summary>One entry per vantage, ordinal order of names.</summary>
    public required IReadOnlyList<VantageCoverage> Vantages { get; init; }
    /// <summary>Every pair of vantages.</summary>
    public required IReadOnlyList<VantageOverlap> Overlaps { get; init; }
    /// <summary>Every capture history observed, by count descending.</summary>
    public required IReadOnlyList<CaptureHistory> Histories { get; init; }
    /// <summary>The population estimate; null with fewer than two vantages (nothing is seen twice).</summary>
    public PopulationEstimate? Estimate { get; init; }
}
