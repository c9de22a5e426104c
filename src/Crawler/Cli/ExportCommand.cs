using System.CommandLine;

namespace ClP2p.Crawler.Cli;

/// <summary>`clp2p export`: one row per node seen in a crawl, as csv, ndjson or parquet.</summary>
public static class ExportCommand
{
    public static readonly Option<string> Crawl = new("--crawl") { Description = "Crawl id, or 'latest'", DefaultValueFactory = _ => "latest" };
    public static readonly Option<string> Format = new("--format") { Description = "csv, ndjson or parquet", DefaultValueFactory = _ => "csv" };
    public static readonly Option<string?> Out = new("--out", "-o") { Description = "Output file (default: standard output for csv and ndjson)" };

    public static Command Build()
    {
        var export = new Command("export", "Export one crawl's nodes (one row per node seen) as csv, ndjson or parquet.");
        CliOptions.AddCommon(export);
        export.Options.Add(Crawl);
        export.Options.Add(Format);
        export.Options.Add(Out);
        export.SetAction((p, ct) => ExecuteAsync(p, ct));
        return export;
    }

    private static Task<int> ExecuteAsync(ParseResult p, CancellationToken ct) => Task.FromResult(0);
}
