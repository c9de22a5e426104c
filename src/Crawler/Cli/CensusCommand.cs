using System.CommandLine;
using System.Globalization;
using System.Text;
using ClP2p.Crawler.Config;
using System.Text.Json;
using ClP2p.Api;
using ClP2p.Api.Readiness;
using ClP2p.Eth2.Networks;
using ClP2p.Storage;
using Spectre.Console;

namespace ClP2p.Crawler.Cli;

/// <summary>
/// `clp2p census`: the API's census on the command line, as a table (Spectre.Console) or the API's JSON (--json).
/// `clp2p census --dimension D`, `clp2p census readiness`, `clp2p census diff A B`.
/// </summary>
public static class CensusCommand
{
    public static readonly Option<string> Dimension = new("--dimension", "-d")
    {
        Description = "Grouping: " + string.Join(", ", CensusDimensions.All.Select(CensusDimensions.Name)) + " (default client)",
        DefaultValueFactory = _ => "client",
    };
    public static readonly Option<string> Crawl = new("--crawl") { Description = "Crawl id, or 'latest' (default)", DefaultValueFactory = _ => "latest" };
    public static readonly Option<string?> Network = new("--network", "-n") { Description = "Only nodes whose ENR fork digest names this network (readiness: the network, default the crawl's)" };
    public static readonly Option<bool> Json = new("--json") { Description = "Print the API's JSON instead of a table" };
    public static readonly Option<string?> Fork = new("--fork") { Description = "readiness: this fork or BPO instead of the next scheduled one" };
    public static readonly Option<bool> Merged = new("--merged") { Description = "Merge every vantage point's crawls started in the window (--from, --to) into one census" };
    public static readonly Option<string?> WindowFrom = new("--from") { Description = "With --merged: window start, an ISO 8601 time or a duration before now (default 24h)" };
    public static readonly Option<string?> WindowTo = new("--to") { Description = "With --merged: window end (exclusive), an ISO 8601 time or a duration before now (default: now)" };
    public static readonly Option<string?> CrawlNetwork = new("--crawl-network") { Description = "With --merged: merge only crawls of this network" };
    public static readonly Argument<string> From = new("from") { Description = "The earlier crawl id" };
    public static readonly Argument<string> To = new("to") { Description = "The later crawl id, or 'latest'" };

    public static Command Build(TimeProvider time)
    {
        var census = new Command("census", "Print a crawl's census (the API's /api/v1/census) as a table or JSON.");
        CliOptions.AddCommon(census);
        census.Options.Add(Dimension);
        census.Options.Add(Crawl);
        census.Options.Add(Network);
        census.Options.Add(Json);
        census.Options.Add(Merged);
        census.Options.Add(WindowFrom);
        census.Options.Add(WindowTo);
        census.Options.Add(CrawlNetwork);
        census.SetAction((p, ct) => CensusAsync(p, time, ct));

        var readiness = new Command("readiness", "Print the next-fork readiness of a network's nodes (the API's /api/v1/networks/{network}/readiness).");
        CliOptions.AddCommon(readiness);
        readiness.Options.Add(Crawl);
        readiness.Options.Add(Network);
        readiness.Options.Add(Fork);
        readiness.Options.Add(Json);
        readiness.SetAction((p, ct) => ReadinessAsync(p, time, ct));
        census.Subcommands.Add(readiness);

        var diff = new Command("diff", "Nodes that appeared, vanished, changed client version or fork digest between crawls A and B (the API's /api/v1/churn).");
        CliOptions.AddCommon(diff);
        diff.Arguments.Add(From);
        diff.Arguments.Add(To);
        diff.Options.Add(Network);
        diff.Options.Add(Json);
        diff.SetAction(DiffAsync);
        census.Subcommands.Add(diff);
        return census;
    }

    private static async Task<CensusService?> OpenAsync(ParseResult p, string command, CancellationToken ct)
    {
        var settings = CliOptions.Load(p);
        if (!StorageOptions.TryParse(settings.Db, settings.DataDir, out var storage, out var error))
        {
            await Console.Error.WriteLineAsync($"clp2p {command}: {error}").ConfigureAwait(false);
            return null;
        }
        // Read-only: an existing database only (a typo in --db names no database, it does not create one).
        storage = await StorageMigrator.OpenExistingAsync(storage, ct).ConfigureAwait(false);
        return new CensusService(storage, NetworkClocks.Builtin);
    }

    private static async Task<int> FailAsync(string command, string message)
    {
        await Console.Error.WriteLineAsync($"clp2p {command}: {message}").ConfigureAwait(false);
        return 2;
    }

    /// <summary>An existing database with no crawl yet: not a bad option (exit 1, as export says it).</summary>
    private static async Task<int> NoCrawlYetAsync(string command)
    {
        await Console.Error.WriteLineAsync($"clp2p {command}: no crawl in the database yet (run `clp2p crawl` first)").ConfigureAwait(false);
        return 1;
    }

    private static void PrintJson<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, ApiEndpoints.Json));

    private static string Share(double share) => (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static async Task<int> CensusAsync(ParseResult p, TimeProvider time, CancellationToken ct)
    {
        if (p.GetValue(Merged)) return await MergedAsync(p, time, ct).ConfigureAwait(false);
        string? dimension = p.GetValue(Dimension);
        if (!CensusDimensions.TryParse(dimension, out var dim))
            return await FailAsync("census", $"--dimension must be one of {string.Join(", ", CensusDimensions.All.Select(CensusDimensions.Name))}, not '{dimension}'").ConfigureAwait(false);
        if (!ApiEndpoints.TryCrawl(p.GetValue(Crawl), out long? crawlId)) return await FailAsync("census", $"--crawl must be a crawl id or 'latest', not '{p.GetValue(Crawl)}'").ConfigureAwait(false);
        if (await OpenAsync(p, "census", ct).ConfigureAwait(false) is not { } census) return 2;
        var result = await census.GetCensusAsync(dim, crawlId, p.GetValue(Network), ct).ConfigureAwait(false);
        if (result is null) return crawlId is null ? await NoCrawlYetAsync("census").ConfigureAwait(false) : await FailAsync("census", $"no crawl {crawlId}").ConfigureAwait(false);
        if (p.GetValue(Json)) { PrintJson(result); return 0; }
        string name = CensusDimensions.Name(dim);
        var table = new Table()
            .Title($"crawl {result.Crawl.Id} ({result.Crawl.Network}, {result.Crawl.State}) by {name}{(result.Network is null ? "" : " on " + result.Network)}")
            .AddColumn(name).AddColumn("label").AddColumn(new TableColumn("nodes").RightAligned()).AddColumn(new TableColumn("share").RightAligned());
        foreach (var g in result.Groups)
            table.AddRow(Markup.Escape(g.Key ?? "(unknown)"), Markup.Escape(g.Label ?? ""), N(g.Count), Share(g.Share));
        table.AddRow("[bold]total[/]", "", $"[bold]{N(result.Total)}[/]", result.Total == 0 ? "" : "100.0%");
        AnsiConsole.Write(table);
        return 0;
    }

    private static async Task<int> ReadinessAsync(ParseResult p, TimeProvider time, CancellationToken ct)
    {
        if (!ApiEndpoints.TryCrawl(p.GetValue(Crawl), out long? crawlId)) return await FailAsync("census readiness", $"--crawl must be a crawl id or 'latest', not '{p.GetValue(Crawl)}'").ConfigureAwait(false);
        string? networkName = p.GetValue(Network);
        if (networkName is not null && !NetworkRegistry.Builtin.TryGet(networkName, out _))
            return await FailAsync("census readiness", $"--network must be one of {string.Join(", ", NetworkRegistry.BuiltinNames)}, not '{networkName}'").ConfigureAwait(false);
        if (await OpenAsync(p, "census readiness", ct).ConfigureAwait(false) is not { } census) return 2;
        if (networkName is null)
        {
            var crawl = crawlId is { } id ? await census.GetCrawlAsync(id, ct).ConfigureAwait(false) : await census.GetLatestCrawlAsync(null, ct).ConfigureAwait(false);
            if (crawl is null) return crawlId is null ? await NoCrawlYetAsync("census readiness").ConfigureAwait(false) : await FailAsync("census readiness", $"no crawl {crawlId}").ConfigureAwait(false);
            networkName = crawl.Network;
        }
        if (!NetworkRegistry.Builtin.TryGet(networkName, out var network))
            return await FailAsync("census readiness", $"--network must be one of {string.Join(", ", NetworkRegistry.BuiltinNames)}, not '{networkName}'").ConfigureAwait(false);
        var now = time.GetUtcNow();
        if (ForkReadiness.Target(network, now, p.GetValue(Fork)) is not { } fork)
            return await FailAsync("census readiness", $"--fork must be a scheduled fork of {network.Name}, not '{p.GetValue(Fork)}'").ConfigureAwait(false);
        var found = await census.GetForkFieldsAsync(crawlId, network.Name, ct).ConfigureAwait(false);
        if (found is not { } f) return await FailAsync("census readiness", $"no crawl {crawlId}").ConfigureAwait(false);
        var report = ForkReadiness.Compute(network, fork, now, f.Crawl, f.Rows, ForkReleases.Builtin);
        if (p.GetValue(Json)) { PrintJson(report); return 0; }
        var table = new Table()
            .Title($"{report.Network} readiness for {report.Fork.Name} (epoch {report.Fork.Epoch}, {(report.Fork.Active ? "active" : "activates")} {report.Fork.ActivatesAt:yyyy-MM-dd}), crawl {report.CrawlId}")
            .AddColumn("client").AddColumn(new TableColumn("nodes").RightAligned()).AddColumn(new TableColumn("announcing").RightAligned())
            .AddColumn(new TableColumn("share").RightAligned()).AddColumn("first release").AddColumn(new TableColumn("at or above").RightAligned())
            .AddColumn(new TableColumn("share").RightAligned());
        foreach (var c in report.Clients)
            table.AddRow(Markup.Escape(c.Client ?? "(unknown)"), N(c.Nodes), N(c.Announcing), Share(c.AnnouncingShare), Markup.Escape(c.FirstRelease?.Version ?? "-"),
                c.AtOrAboveRelease is { } a ? N(a) : "-", c.ReleaseShare is { } s ? Share(s) : "-");
        table.AddRow("[bold]all[/]", N(report.Nodes), N(report.Announcing), Share(report.AnnouncingShare), "", N(report.AtOrAboveRelease), Share(report.ReleaseShare));
        AnsiConsole.Write(table);
        return 0;
    }

    private static async Task<int> DiffAsync(ParseResult p, CancellationToken ct)
    {
        if (!long.TryParse(p.GetValue(From), NumberStyles.None, CultureInfo.InvariantCulture, out long from))
            return await FailAsync("census diff", $"A must be a crawl id, not '{p.GetValue(From)}'").ConfigureAwait(false);
        if (!ApiEndpoints.TryCrawl(p.GetValue(To), out long? to)) return await FailAsync("census diff", $"B must be a crawl id or 'latest', not '{p.GetValue(To)}'").ConfigureAwait(false);
        if (await OpenAsync(p, "census diff", ct).ConfigureAwait(false) is not { } census) return 2;
        var churn = await census.GetChurnAsync(from, to, p.GetValue(Network), CensusService.MaxChurnList, ct).ConfigureAwait(false);
        if (churn is null) return await FailAsync("census diff", $"no crawl {(await census.GetCrawlAsync(from, ct).ConfigureAwait(false) is null ? from : to)}").ConfigureAwait(false);
        if (p.GetValue(Json)) { PrintJson(churn); return 0; }
        var table = new Table().Title($"crawl {churn.From.Id} -> crawl {churn.To.Id}{(churn.Network is null ? "" : " on " + churn.Network)}")
            .AddColumn("change").AddColumn(new TableColumn("nodes").RightAligned()).AddColumn("first nodes (node id: from -> to)");
        void Row(string name, long count, IReadOnlyList<ChurnNode> nodes) => table.AddRow(name, N(count), Markup.Escape(string.Join("\n",
            nodes.Take(5).Select(n => n.NodeId[..16] + (n.From is null ? (n.To is null ? "" : " " + n.To) : $": {n.From} -> {n.To}")))));
        Row("appeared", churn.Appeared, churn.AppearedNodes);
        Row("vanished", churn.Vanished, churn.VanishedNodes);
        Row("client version changed", churn.ClientVersionChanged, churn.ClientVersionChangedNodes);
        Row("fork digest changed", churn.ForkChanged, churn.ForkChangedNodes);
        AnsiConsole.Write(table);
        return 0;
    }

    private static async Task<int> MergedAsync(ParseResult p, TimeProvider time, CancellationToken ct)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (!TryTime(p.GetValue(WindowFrom), now.AddDays(-1), now, out var from))
            return await FailAsync("census", $"--from must be an ISO 8601 time or a duration such as 24h, not '{p.GetValue(WindowFrom)}'").ConfigureAwait(false);
        if (!TryTime(p.GetValue(WindowTo), now.AddMinutes(1), now, out var to))
            return await FailAsync("census", $"--to must be an ISO 8601 time or a duration such as 1h, not '{p.GetValue(WindowTo)}'").ConfigureAwait(false);
        if (to <= from) return await FailAsync("census", "--to must be after --from").ConfigureAwait(false);
        if (await OpenAsync(p, "census", ct).ConfigureAwait(false) is not { } census) return 2;
        MergedCensus merged = await census.GetMergedCensusAsync(from, to, p.GetValue(Network), p.GetValue(CrawlNetwork), ct).ConfigureAwait(false);
        if (p.GetValue(Json)) { PrintJson(merged); return 0; }
        await Console.Out.WriteAsync(Render(merged)).ConfigureAwait(false);
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
}
