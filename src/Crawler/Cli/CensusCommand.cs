using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ClP2p.Crawler.Config;
using ClP2p.Storage;

namespace ClP2p.Crawler.Cli;

/// <summary>
/// `clp2p census`: the census of the latest crawl by one dimension, or with --merged the census of every vantage point
/// over a time window (each node once, per-vantage coverage, overlaps, a capture–recapture estimate of the population).
/// </summary>
public static class CensusCommand
{
    public static readonly Option<bool> Merged = new("--merged") { Description = "Merge every vantage point's crawls started in the window into one census" };
    public static readonly Option<string?> From = new("--from") { Description = "Window start: an ISO 8601 time, or a duration before now (default 24h)" };
    public static readonly Option<string?> To = new("--to") { Description = "Window end (exclusive): an ISO 8601 time, or a duration before now (default: now)" };
    public static readonly Option<string?> EnrNetwork = new("--enr-network") { Description = "Count only nodes whose ENR fork digest names this network (e.g. mainnet)" };
    public static readonly Option<string?> CrawlNetwork = new("--crawl-network") { Description = "Merge only crawls of this network" };
    public static readonly Option<string?> Dimension = new("--dimension") { Description = "Without --merged: the grouping of the latest crawl's census (default client)" };
    public static readonly Option<bool> Json = new("--json") { Description = "Print JSON instead of a table" };

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static Command Build()
    {
        var census = new Command("census", "Print a census: the latest crawl's by a dimension, or with --merged every vantage point's over a time window.");
        CliOptions.AddCommon(census);
        foreach (Option o in new Option[] { Merged, From, To, EnrNetwork, CrawlNetwork, Dimension, Json }) census.Options.Add(o);
        census.SetAction(ExecuteAsync);
        return census;
    }

    private static async Task<int> ExecuteAsync(ParseResult p, CancellationToken ct)
    {
        var settings = CliOptions.Load(p);
        if (!StorageOptions.TryParse(settings.Db, settings.DataDir, out var storage, out var error)) return Fail(error);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        if (!TryTime(p.GetValue(From), now.AddDays(-1), now, out var from)) return Fail($"--from must be an ISO 8601 time or a duration such as 24h, not '{p.GetValue(From)}'");
        if (!TryTime(p.GetValue(To), now.AddMinutes(1), now, out var to)) return Fail($"--to must be an ISO 8601 time or a duration such as 1h, not '{p.GetValue(To)}'");
        if (to <= from) return Fail("--to must be after --from");
        CensusDimension dimension = default;
        if (!p.GetValue(Merged) && !CensusDimensions.TryParse(p.GetValue(Dimension) ?? "client", out dimension))
            return Fail($"--dimension must be one of {string.Join(", ", CensusDimensions.All.Select(CensusDimensions.Name))}");

        await StorageMigrator.MigrateAsync(storage, ct).ConfigureAwait(false);
        var census = new CensusService(storage);
        bool json = p.GetValue(Json);
        if (p.GetValue(Merged))
        {
            MergedCensus merged = await census.GetMergedCensusAsync(from, to, p.GetValue(EnrNetwork), p.GetValue(CrawlNetwork), ct).ConfigureAwait(false);
            await Console.Out.WriteAsync(json ? JsonSerializer.Serialize(merged, JsonOptions) + "\n" : Render(merged)).ConfigureAwait(false);
            return 0;
        }
        CensusResult? result = await census.GetCensusAsync(dimension, null, p.GetValue(EnrNetwork), ct).ConfigureAwait(false);
        if (result is null) return Fail("no crawl in the database yet");
        if (json)
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(result, JsonOptions)).ConfigureAwait(false);
            return 0;
        }
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Census of crawl {result.Crawl.Id} (vantage {result.Crawl.Vantage}) by {CensusDimensions.Name(dimension)}: {result.Total} nodes\n");
        Table(sb, [CensusDimensions.Name(dimension), "nodes", "share"],
            result.Groups.Select(g => new[] { g.Key ?? "(none)", Num(g.Count), Pct(g.Share) }).ToList());
        await Console.Out.WriteAsync(sb.ToString()).ConfigureAwait(false);
        return 0;
    }

    /// <summary>The merged census as the text `clp2p census --merged` prints.</summary>
    public static string Render(MergedCensus m)
    {
        ArgumentNullException.ThrowIfNull(m);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Merged census of crawls started {Time(m.From)} .. {Time(m.To)}");
        if (m.CrawlNetwork is not null) sb.Append(CultureInfo.InvariantCulture, $", crawls of {m.CrawlNetwork}");
        sb.Append(m.Network is null ? ", all nodes\n" : $", nodes of {m.Network}\n");
        sb.Append(CultureInfo.InvariantCulture, $"Nodes seen by at least one vantage (each counted once): {m.Observed}\n\n");
        if (m.Vantages.Count == 0)
        {
            sb.Append("No crawl started in the window.\n");
            return sb.ToString();
        }
        Table(sb, ["vantage", "crawls", "seen", "only this vantage", "share of seen", "est. coverage"],
            m.Vantages.Select(v => new[]
            {
                v.Vantage, Num(v.Crawls.Count), Num(v.Seen), Num(v.Only), Pct(v.ShareOfObserved), v.EstimatedCoverage is { } c ? Pct(c) : "-",
            }).ToList());
        if (m.Overlaps.Count > 0)
        {
            sb.Append('\n');
            Table(sb, ["overlap", "seen by both", "jaccard"],
                m.Overlaps.Select(o => new[] { $"{o.A} & {o.B}", Num(o.Both), Pct(o.Jaccard) }).ToList());
        }
        sb.Append('\n');
        Table(sb, ["seen by exactly", "nodes"], m.Histories.Select(h => new[] { string.Join(" + ", h.Vantages), Num(h.Count) }).ToList());
        sb.Append('\n');
        if (m.Estimate is not { } e)
        {
            sb.Append("Population estimate: none (it needs at least two vantages).\n");
        }
        else if (!e.Valid)
        {
            sb.Append(CultureInfo.InvariantCulture, $"Population estimate ({e.Method}): not valid: {e.Note}\n");
        }
        else
        {
            sb.Append(CultureInfo.InvariantCulture,
                $"Population estimate ({e.Method}): {e.Estimate:0.0} nodes, 95% interval {e.Low:0.0} .. {e.High:0.0} (standard error {e.StandardError:0.0}); {m.Observed} seen\n");
            if (e.Note is not null) sb.Append(CultureInfo.InvariantCulture, $"  note: {e.Note}\n");
        }
        sb.Append("  assumes independent vantages and equal catchability; see docs/api.md (merged census)\n");
        return sb.ToString();
    }

    private static void Table(StringBuilder sb, string[] header, List<string[]> rows)
    {
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        void Line(string[] cells)
        {
            for (int i = 0; i < cells.Length; i++)
            {
                bool left = i == 0;
                string cell = left ? cells[i].PadRight(widths[i]) : cells[i].PadLeft(widths[i]);
                sb.Append(cell);
                if (i < cells.Length - 1) sb.Append("  ");
            }
            sb.Append('\n');
        }
        Line(header);
        Line(widths.Select(w => new string('-', w)).ToArray());
        foreach (var r in rows) Line(r);
    }

    private static string Num(long n) => n.ToString(CultureInfo.InvariantCulture);
    private static string Pct(double share) => (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";
    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static bool TryTime(string? text, DateTimeOffset fallback, DateTimeOffset now, out DateTimeOffset value)
    {
        if (string.IsNullOrWhiteSpace(text)) { value = fallback; return true; }
        if (Duration.TryParse(text, out TimeSpan ago)) { value = now - ago; return true; }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value);
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("clp2p census: " + message);
        return 2;
    }
}
