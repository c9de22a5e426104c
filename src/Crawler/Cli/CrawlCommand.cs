using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace ClP2p.Crawler.Cli;

/// <summary>`clp2p crawl`: one crawl, a summary, exit. Exit codes: 0 crawl done, 1 crawl failed, 2 bad options,
/// 130 aborted (SIGINT/SIGTERM; results found so far are kept and the crawl is marked aborted).</summary>
public static class CrawlCommand
{
    public static async Task<int> ExecuteAsync(CrawlerSettings settings, CancellationToken ct)
    {
        bool terminal = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        using var loggers = Logging.Create(terminal ? LogLevel.Warning : LogLevel.Information);
        var log = loggers.CreateLogger("clp2p");
        if (!StorageOptions.TryParse(settings.Db, settings.DataDir, out var storage, out var error))
        {
            await Console.Error.WriteLineAsync($"clp2p crawl: {error}").ConfigureAwait(false);
            return 2;
        }
        try
        {
            await Hosting.StoredData.MigrateAndRefreshAsync(storage, ClP2p.Eth2.Networks.NetworkRegistry.Builtin, log, ct).ConfigureAwait(false);
            var geo = Hosting.GeoServices.Create(settings.Geo, loggers);
            var session = new CrawlSession(settings, storage, loggers)
            {
                GeoLookup = geo,
                Progress = (counters, until) => CrawlProgress.RunAsync(counters, log, TimeProvider.System, until),
            };
            var summary = await session.RunAsync(ct).ConfigureAwait(false);
            if (settings.Crawl.SummaryJson is { } path) await summary.WriteJsonAsync(path, CancellationToken.None).ConfigureAwait(false);
            if (terminal) CrawlSummaryTable.Render(summary, AnsiConsole.Console);
            else log.LogInformation("summary: {Summary}", summary.ToJson());
            return summary.State == CrawlStates.Aborted ? 130 : 0;
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"clp2p crawl: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
#pragma warning disable CA1031 // the command reports any failure as exit code 1 with its message
        catch (Exception ex)
#pragma warning restore CA1031
        {
            log.LogError(ex, "crawl failed");
            return 1;
        }
    }
}
