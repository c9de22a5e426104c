using ClP2p.Crawler.Engine;
using Spectre.Console;

namespace ClP2p.Crawler.Cli;

/// <summary>The crawl summary as a table on the terminal.</summary>
public static class CrawlSummaryTable
{
    public static void Render(CrawlSummary s, IAnsiConsole console)
    {
        var table = new Table().Title($"crawl {s.CrawlId} ({s.Network}): {s.State}, {s.EndedBy}").AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("duration", $"{s.DurationSeconds:0.0} s");
        table.AddRow("nodes found", s.NodesFound.ToString(System.Globalization.CultureInfo.InvariantCulture));
        table.AddRow("consensus-layer nodes", s.ConsensusNodes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        table.AddRow("discovery answered / queried", $"{s.Answered} / {s.Queried}");
        table.AddRow("answered, not fully enumerated", s.Incomplete.ToString(System.Globalization.CultureInfo.InvariantCulture));
        table.AddRow("dialled", s.Dialled.ToString(System.Globalization.CultureInfo.InvariantCulture));
        table.AddRow("dial ok", s.DialOk.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (s.Error is not null) table.AddRow("error", Markup.Escape($"{s.Error} (likely cause: {s.LikelyCause})"));
        foreach (var (cls, n) in s.FailuresByClass) table.AddRow($"  failed: {Markup.Escape(cls)}", n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var g in s.TopClients) table.AddRow($"  client: {Markup.Escape(g.Key ?? "(not identified)")}", g.Text);
        foreach (var g in s.TopForkDigests) table.AddRow($"  fork digest: {Markup.Escape(g.Key is null ? "(no eth2)" : g.Label is null ? g.Key : $"{g.Key} {g.Label}")}", g.Text);
        console.Write(table);
    }
}
