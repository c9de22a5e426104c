using System.CommandLine;
using System.Globalization;
using ClP2p.Api.Export;
using ClP2p.Storage;

namespace ClP2p.Crawler.Cli;

/// <summary>`clp2p export`: one row per node seen in a crawl, as csv, ndjson or parquet (columns in docs/data-dictionary.md).</summary>
public static class ExportCommand
{
    public static readonly Option<string> Crawl = new("--crawl") { Description = "Crawl id, or 'latest' (default)", DefaultValueFactory = _ => "latest" };
    public static readonly Option<string> Format = new("--format") { Description = "csv (default), ndjson or parquet", DefaultValueFactory = _ => "csv" };
    public static readonly Option<string?> Out = new("--out", "-o") { Description = "Output file; '-' or absent writes csv/ndjson to standard output" };
    public static readonly Option<string?> Network = new("--network") { Description = "With --crawl latest: the latest crawl of this network" };

    public static Command Build()
    {
        var export = new Command("export", "Export one crawl's nodes (one row per node seen) as csv, ndjson or parquet.");
        CliOptions.AddCommon(export);
        export.Options.Add(Crawl);
        export.Options.Add(Format);
        export.Options.Add(Out);
        export.Options.Add(Network);
        export.SetAction(ExecuteAsync);
        return export;
    }

    private static async Task<int> ExecuteAsync(ParseResult p, CancellationToken ct)
    {
        var settings = CliOptions.Load(p);
        if (!ExportFormats.TryParse(p.GetValue(Format), out var format))
            return await FailAsync($"--format must be csv, ndjson or parquet, not '{p.GetValue(Format)}'").ConfigureAwait(false);
        if (!StorageOptions.TryParse(settings.Db, settings.DataDir, out var storage, out var error))
            return await FailAsync(error).ConfigureAwait(false);
        string? outPath = p.GetValue(Out);
        bool toStdout = outPath is null or "-";
        if (toStdout && format == ExportFormat.Parquet) return await FailAsync("--format parquet needs --out PATH").ConfigureAwait(false);

        await StorageMigrator.MigrateAsync(storage, ct).ConfigureAwait(false);
        var census = new CensusService(storage);
        string crawl = p.GetValue(Crawl) ?? "latest";
        long crawlId;
        if (crawl.Equals("latest", StringComparison.OrdinalIgnoreCase))
        {
            var latest = await census.GetLatestCrawlAsync(p.GetValue(Network), ct).ConfigureAwait(false);
            if (latest is null) return await FailAsync("no crawl in the database yet").ConfigureAwait(false);
            crawlId = latest.Id;
        }
        else if (!long.TryParse(crawl, NumberStyles.None, CultureInfo.InvariantCulture, out crawlId))
        {
            return await FailAsync($"--crawl must be a crawl id or 'latest', not '{crawl}'").ConfigureAwait(false);
        }
        else if (await census.GetCrawlAsync(crawlId, ct).ConfigureAwait(false) is null)
        {
            return await FailAsync($"no crawl {crawlId}").ConfigureAwait(false);
        }

        if (toStdout)
        {
            await using var stdout = Console.OpenStandardOutput();
            await Exporter.WriteAsync(census, crawlId, format, stdout, ct).ConfigureAwait(false);
            return 0;
        }
        string tmp = outPath + ".partial";
        await using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            await Exporter.WriteAsync(census, crawlId, format, file, ct).ConfigureAwait(false);
        File.Move(tmp, outPath!, overwrite: true);
        await Console.Error.WriteLineAsync($"exported crawl {crawlId} as {format.ToString().ToLowerInvariant()} to {outPath}").ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> FailAsync(string message)
    {
        await Console.Error.WriteLineAsync("clp2p export: " + message).ConfigureAwait(false);
        return 2;
    }
}
