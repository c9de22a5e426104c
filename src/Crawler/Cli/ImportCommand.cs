using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ClP2p.Api.Export;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Discovery;
using ClP2p.Eth2.Networks;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Cli;

/// <summary>
/// `clp2p import FILE`: brings the crawls of another crawler's export (csv, ndjson or parquet, as `clp2p export` writes
/// them) into this database under their vantage, so that a merged census counts them. Each exported crawl becomes one
/// crawl here (its source id kept); importing it again adds nothing. Records that do not read are skipped and counted.
/// </summary>
public static class ImportCommand
{
    public static readonly Argument<string> File = new("FILE") { Description = "An export written by `clp2p export` (.csv, .ndjson or .parquet)" };
    public static readonly Option<string?> Format = new("--format") { Description = "csv, ndjson or parquet (default: from the file's extension)" };
    public static readonly Option<string?> Vantage = new("--vantage") { Description = "File the crawls under this vantage instead of the one the export names" };

    /// <summary>Most skipped records listed one by one (the rest are only counted).</summary>
    public const int MaxListedErrors = 10;

    public static Command Build(TimeProvider time)
    {
        var import = new Command("import", "Import another crawler's export (csv, ndjson, parquet) as crawls of its vantage point.");
        CliOptions.AddCommon(import);
        import.Arguments.Add(File);
        import.Options.Add(Format);
        import.Options.Add(Vantage);
        import.SetAction((p, ct) => ExecuteAsync(p, time, ct));
        return import;
    }

    private sealed class Target
    {
        public long? LocalId { get; init; }
        public long? AlreadyAs { get; init; }
        public required string Vantage { get; init; }
        public DateTimeOffset? FinishedAt { get; set; }
        public DateTimeOffset LastVisit { get; set; }
        public int Rows { get; set; }
        public int Consensus { get; set; }
        public int Dialled { get; set; }
        public int Ok { get; set; }
    }

    private static async Task<int> ExecuteAsync(ParseResult p, TimeProvider time, CancellationToken ct)
    {
        var settings = CliOptions.Load(p);
        string path = p.GetValue(File)!;
        ExportFormat format;
        if (p.GetValue(Format) is { } f)
        {
            if (!ExportFormats.TryParse(f, out format)) return Fail($"--format must be csv, ndjson or parquet, not '{f}'");
        }
        else if (!ExportReader.TryFormatOf(path, out format))
        {
            return Fail($"cannot tell the format of '{path}' from its extension: give --format csv, ndjson or parquet");
        }
        string? vantageOverride = p.GetValue(Vantage);
        if (vantageOverride is not null && !CrawlVantage.IsValid(vantageOverride))
            return Fail($"--vantage must be 1 to {CrawlVantage.MaxLength} letters, digits, '.', '_' or '-', not '{vantageOverride}'");
        if (!System.IO.File.Exists(path)) return Fail($"no file '{path}'");
        if (!StorageOptions.TryParse(settings.Db, settings.DataDir, out var storage, out var error)) return Fail(error);

        using var loggers = Logging.Create(LogLevel.Warning);
        await StorageMigrator.MigrateAsync(storage, ct).ConfigureAwait(false);
        var crawls = new CrawlStore(storage, time);
        var targets = new Dictionary<long, Target>();
        var skipped = new List<string>();
        long skippedCount = 0;
        await using (var writer = new ResultWriter(storage, new ResultWriterOptions(), loggers.CreateLogger<ResultWriter>(), time: time))
        {
            var sinks = new Dictionary<long, StorageCrawlSink>();
            await using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            try
            {
                await foreach (ExportRecord record in ExportReader.ReadAsync(input, format, ct).ConfigureAwait(false))
                {
                    string? problem = record.Error;
                    if (record.Row is { } row)
                    {
                        if (!targets.TryGetValue(row.CrawlId, out Target? target))
                        {
                            target = await StartAsync(crawls, row, vantageOverride ?? row.Vantage, path, ct).ConfigureAwait(false);
                            targets[row.CrawlId] = target;
                            if (target.LocalId is { } id) sinks[row.CrawlId] = new StorageCrawlSink(writer, id, NetworkRegistry.Builtin, time);
                        }
                        if (target.LocalId is not { } localId) continue;
                        problem = await AddAsync(writer, sinks[row.CrawlId], localId, row, target, ct).ConfigureAwait(false);
                    }
                    if (problem is not null)
                    {
                        skippedCount++;
                        if (skipped.Count < MaxListedErrors) skipped.Add($"record {record.Line}: {problem}");
                    }
                }
            }
            catch (ExportFormatException ex)
            {
                return Fail($"{path}: {ex.Message}");
            }
            await writer.FlushAsync(ct).ConfigureAwait(false);
        }

        foreach ((long source, Target t) in targets)
        {
            if (t.AlreadyAs is { } existing)
            {
                await Console.Out.WriteLineAsync($"crawl {source} of vantage {t.Vantage} was imported before, as crawl {existing}: skipped").ConfigureAwait(false);
                continue;
            }
            var counts = new CrawlCounts(t.Rows, t.Consensus, t.Dialled, t.Ok, t.Dialled - t.Ok);
            await crawls.FinishCrawlAsync(t.LocalId!.Value, CrawlStates.Succeeded, counts, null, t.FinishedAt ?? t.LastVisit, ct).ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"imported crawl {source} of vantage {t.Vantage} as crawl {t.LocalId}: {t.Rows} nodes").ConfigureAwait(false);
        }
        if (skippedCount > 0)
        {
            await Console.Error.WriteLineAsync($"clp2p import: skipped {skippedCount} record(s) that did not read:").ConfigureAwait(false);
            foreach (string s in skipped) await Console.Error.WriteLineAsync("  " + s).ConfigureAwait(false);
        }
        return 0;
    }

    private static async Task<Target> StartAsync(CrawlStore crawls, ExportRow row, string vantage, string path, CancellationToken ct)
    {
        if (await crawls.FindImportedAsync(vantage, row.CrawlId, ct).ConfigureAwait(false) is { } existing)
            return new Target { Vantage = vantage, AlreadyAs = existing };
        string parameters = JsonSerializer.Serialize(new { imported_from = Path.GetFileName(path), source_crawl_id = row.CrawlId, vantage });
        long id = await crawls.StartCrawlAsync(row.CrawlNetwork ?? "custom", vantage, row.CrawlStartedAt ?? row.VisitedAt, parameters, row.CrawlId, ct)
            .ConfigureAwait(false);
        return new Target { Vantage = vantage, LocalId = id, FinishedAt = row.CrawlFinishedAt };
    }

    /// <summary>Queues the row's ENR, visit and geo row; returns why it cannot be imported, or null.</summary>
    private static async Task<string?> AddAsync(ResultWriter writer, StorageCrawlSink sink, long crawlId, ExportRow row, Target target, CancellationToken ct)
    {
        if (!Enr.TryParse(row.Enr, out Enr? enr, out EnrError enrError)) return $"enr does not decode ({enrError})";
        if (!string.Equals(Convert.ToHexStringLower(enr!.NodeId.ToByteArray()), row.NodeId, StringComparison.OrdinalIgnoreCase))
            return "node_id is not the id of the record in enr";
        VisitObservation visit;
        try
        {
            visit = row.ToVisit(crawlId, enr.NodeId.ToByteArray(), enr.Seq);
        }
        catch (FormatException ex)
        {
            return ex.Message;
        }
        EnrObservation observed = sink.ToObservation(enr, row.VisitedAt);
        // A custom network's digests are named by the exporting crawler's configuration: keep its names.
        observed = observed with { NetworkName = observed.NetworkName ?? row.NetworkName, ForkName = observed.ForkName ?? row.ForkName };
        await writer.AddEnrAsync(observed, ct).ConfigureAwait(false);
        await writer.AddVisitAsync(visit, ct).ConfigureAwait(false);
        if (row.Ip is { } ip && (row.Country is not null || row.City is not null || row.Asn is not null || row.AsOrg is not null))
            await writer.AddGeoAsync(new IpGeo { Ip = ip, Country = row.Country, City = row.City, Asn = row.Asn, AsOrg = row.AsOrg, LookedUpAt = row.VisitedAt }, ct)
                .ConfigureAwait(false);
        target.Rows++;
        if (observed.ForkDigest is not null) target.Consensus++;
        if (visit.DialOutcome != DialOutcomes.NotDialled) target.Dialled++;
        if (visit.DialOutcome == DialOutcomes.Ok) target.Ok++;
        if (row.VisitedAt > target.LastVisit) target.LastVisit = row.VisitedAt;
        return null;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("clp2p import: " + message);
        return 2;
    }
}
