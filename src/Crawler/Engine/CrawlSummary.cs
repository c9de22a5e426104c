using System.Text.Json;
using System.Text.Json.Serialization;

namespace ClP2p.Crawler.Engine;

/// <summary>What `clp2p crawl --summary-json` writes and the summary table shows.</summary>
public sealed record CrawlSummary
{
    [JsonPropertyName("crawl_id")] public long CrawlId { get; init; }
    [JsonPropertyName("network")] public required string Network { get; init; }
    [JsonPropertyName("state")] public required string State { get; init; }
    /// <summary>completed (discovery ran out, dials done), max_duration (cut by --max-duration), aborted (SIGINT/SIGTERM) or error.</summary>
    [JsonPropertyName("ended_by")] public string EndedBy { get; init; } = "completed";
    /// <summary>Why the crawl failed (null when it did not).</summary>
    [JsonPropertyName("error")] public string? Error { get; init; }
    /// <summary>The likely cause of the failure, in the user's words (e.g. no network, loopback not allowed).</summary>
    [JsonPropertyName("likely_cause")] public string? LikelyCause { get; init; }
    [JsonPropertyName("bootnodes")] public int Bootnodes { get; init; }
    [JsonPropertyName("bootnodes_allowed")] public int BootnodesAllowed { get; init; }
    [JsonPropertyName("started_at")] public DateTimeOffset StartedAt { get; init; }
    [JsonPropertyName("finished_at")] public DateTimeOffset FinishedAt { get; init; }
    [JsonPropertyName("duration_s")] public double DurationSeconds => Math.Round((FinishedAt - StartedAt).TotalSeconds, 3);
    [JsonPropertyName("nodes_found")] public long NodesFound { get; init; }
    [JsonPropertyName("cl_nodes")] public long ConsensusNodes { get; init; }
    [JsonPropertyName("discovery_queried")] public long Queried { get; init; }
    [JsonPropertyName("discovery_answered")] public long Answered { get; init; }
    /// <summary>Nodes that answered discovery but were not fully enumerated (they stopped answering): 0 in a healthy crawl.</summary>
    [JsonPropertyName("discovery_incomplete")] public long Incomplete { get; init; }
    [JsonPropertyName("dialled")] public long Dialled { get; init; }
    [JsonPropertyName("dial_ok")] public long DialOk { get; init; }
    [JsonPropertyName("dial_failed")] public long DialFailed { get; init; }
    [JsonPropertyName("failures_by_class")] public IReadOnlyDictionary<string, long> FailuresByClass { get; init; } = new Dictionary<string, long>();
    [JsonPropertyName("nodes_written")] public long NodesWritten { get; init; }
    /// <summary>ENRs with a malformed consensus field (eth2, attnets, syncnets, cgc, nfd); an absent field is not malformed.</summary>
    [JsonPropertyName("malformed_enr_fields")] public long MalformedEnrFields { get; init; }
    /// <summary>The crawl's most common clients (identify agent) and ENR fork digests, as its census counts them.</summary>
    [JsonPropertyName("top_clients")] public IReadOnlyList<SummaryGroup> TopClients { get; init; } = [];
    [JsonPropertyName("top_fork_digests")] public IReadOnlyList<SummaryGroup> TopForkDigests { get; init; } = [];

    /// <summary>How many groups of each kind the summary keeps.</summary>
    public const int TopCount = 8;

    public static CrawlSummary From(long crawlId, string network, string state, DateTimeOffset started, DateTimeOffset finished, CrawlCounters c) => new()
    {
        CrawlId = crawlId, Network = network, State = state, StartedAt = started, FinishedAt = finished,
        NodesFound = c.NodesFound, ConsensusNodes = c.ConsensusNodes, Queried = c.Queried, Answered = c.Answered, Incomplete = c.Incomplete,
        Dialled = c.Dialled, DialOk = c.DialOk, DialFailed = c.DialFailed, FailuresByClass = c.FailuresByClass,
        NodesWritten = c.NodesWritten,
    };

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public async Task WriteJsonAsync(string path, CancellationToken ct)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(path, ToJson(), ct).ConfigureAwait(false);
    }
}

/// <summary>One group of the summary's top lists: key (null: unknown), label, nodes and share of the crawl's nodes.</summary>
public sealed record SummaryGroup(
    [property: JsonPropertyName("key")] string? Key,
    [property: JsonPropertyName("label")] string? Label,
    [property: JsonPropertyName("count")] long Count,
    [property: JsonPropertyName("share")] double Share)
{
    [JsonIgnore] public string Text => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Count} ({Share * 100:0.0}%)");
}
