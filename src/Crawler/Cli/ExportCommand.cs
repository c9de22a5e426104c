using System.CommandLine;
using System.Globalization;
using ClP2p.Api.CommandLine;
using ClP2p.Api.Export;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Cli;

/// <summary>`clp2p export`: one row per node seen in a crawl, as csv, ndjson or parquet (columns in docs/data-dictionary.md).</summary>
public static class ExportCommand
{
    public static readonly Option<string> Crawl = new("--crawl") { Description = "Crawl id, or 'latest' (default)", DefaultValueFactory = _ => "latest" };
    public static readonly Option<string?> Format = OptionParsers.OneOf("--format", "csv (default), ndjson or parquet", "csv", "ndjson", "parquet");
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

    public const string Name = "clp2p export";

    private static async Task<int> ExecuteAsync(ParseResult p, CancellationToken ct)
    {
        using var loggers = Logging.Create(LogLevel.Warning);
        try
        {
            return await ExportAsync(p, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return await CommandRunner.ReportAsync(ex, Name, loggers.CreateLogger("clp2p")).ConfigureAwait(false);
        }
    }

    /// <summary>Export only reads: it opens an existing database (never creates one) and checks --out before the query.</summary>
    private static async Task<int> ExportAsync(ParseResult p, CancellationToken ct)
    {
        var settings = CliOptions.Load(p);
        if (!ExportFormats.TryParse(p.GetValue(Format) ?? "csv", out var format))
            throw new UsageException($"--format must be csv, ndjson or parquet, not '{p.GetValue(Format)}'");
        if (!StorageOptions.TryParse(settings.Db, settings.DataDir, out var storage, out var error)) throw new UsageException(error);
        string? outPath = p.GetValue(Out);
        bool toStdout = outPath is null or "-";
        if (toStdout && format == ExportFormat.Parquet) throw new UsageException("--format parquet needs --out PATH");
        string crawl = p.GetValue(Crawl) ?? "latest";
        bool latestCrawl = crawl.Equals("latest", StringComparison.OrdinalIgnoreCase);
        long crawlId = 0;
        if (!latestCrawl && !long.TryParse(crawl, NumberStyles.None, CultureInfo.InvariantCulture, out crawlId))
            throw new UsageException($"--crawl must be a crawl id or 'latest', not '{crawl}'");
        if (!toStdout && !OptionParsers.TryCheckOutputFile(outPath, out string? outError))
            throw new EnvironmentFailureException($"cannot write the export: --out '{outPath}' {outError}");

        storage = await StorageMigrator.OpenExistingAsync(storage, ct).ConfigureAwait(false);
        var census = new CensusService(storage);
        if (latestCrawl)
        {
            var latest = await census.GetLatestCrawlAsync(p.GetValue(Network), ct).ConfigureAwait(false);
            if (latest is null) throw new EnvironmentFailureException($"{storage.Describe()} holds no crawl yet{(p.GetValue(Network) is { } n ? $" of network {n}" : "")}");
            crawlId = latest.Id;
        }
        else if (await census.GetCrawlAsync(crawlId, ct).ConfigureAwait(false) is null)
        {
            throw new UsageException($"no crawl {crawlId} in {storage.Describe()}");
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
}
