using System.Text.Json;
using System.Text.Json.Serialization;
using ClP2p.Crawler.Engine;
using Spectre.Console;

namespace ClP2p.Crawler.Cli;

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
    [JsonPropertyName("dialled")] public long Dialled { get; init; }
    [JsonPropertyName("dial_ok")] public long DialOk { get; init; }
    [JsonPropertyName("dial_failed")] public long DialFailed { get; init; }
    [JsonPropertyName("failures_by_class")] public IReadOnlyDictionary<string, long> FailuresByClass { get; init; } = new Dictionary<string, long>();
    [JsonPropertyName("nodes_written")] public long NodesWritten { get; init; }

    public static CrawlSummary From(long crawlId, string network, string state, DateTimeOffset started, DateTimeOffset finished, CrawlCounters c) => new()
    {
        CrawlId = crawlId, Network = network, State = state, StartedAt = started, FinishedAt = finished,
        NodesFound = c.NodesFound, ConsensusNodes = c.ConsensusNodes, Queried = c.Queried, Answered = c.Answered,
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

    public void Render(IAnsiConsole console)
    {
        var table = new Table().Title($"crawl {CrawlId} ({Network}): {State}, {EndedBy}").AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("duration", $"{DurationSeconds:0.0} s");
        table.AddRow("nodes found", NodesFound.ToString(System.Globalization.CultureInfo.InvariantCulture));
        table.AddRow("consensus-layer nodes", ConsensusNodes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        table.AddRow("discovery answered / queried", $"{Answered} / {Queried}");
        table.AddRow("dialled", Dialled.ToString(System.Globalization.CultureInfo.InvariantCulture));
        table.AddRow("dial ok", DialOk.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (Error is not null) table.AddRow("error", Markup.Escape($"{Error} (likely cause: {LikelyCause})"));
        foreach (var (cls, n) in FailuresByClass) table.AddRow($"  failed: {Markup.Escape(cls)}", n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        console.Write(table);
    }
}
