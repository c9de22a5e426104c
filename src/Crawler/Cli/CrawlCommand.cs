using System.Net;
using ClP2p.Api.CommandLine;
using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace ClP2p.Crawler.Cli;

/// <summary>`clp2p crawl`: one crawl, a summary, exit. Exit codes: 0 crawl done, 1 crawl failed (it reached nobody, or
/// the environment failed: database, port, data directory), 2 bad options, 130 aborted (SIGINT/SIGTERM; results found
/// so far are kept and the crawl is marked aborted). Every failure is one line on standard error.</summary>
public static class CrawlCommand
{
    public const string Name = "clp2p crawl";

    public static async Task<int> ExecuteAsync(CrawlerSettings settings, TimeProvider time, CancellationToken ct)
    {
        bool terminal = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        using var loggers = Logging.Create(terminal ? LogLevel.Warning : LogLevel.Information);
        var log = loggers.CreateLogger("clp2p");
        if (Hosting.HeapHugePages.Last is { } pages) log.LogDebug("{HeapPages}", pages);
        if (Hosting.PoolThreads.Last is { } pool) log.LogDebug("{PoolThreads}", pool);
        try
        {
            var storage = Prepare(settings, log);
            var geo = Hosting.GeoServices.Create(settings.Geo, loggers, time);
            var session = new CrawlSession(settings, storage, loggers, time)
            {
                // migrated while discovery already runs, so that the first packet leaves within half a second of start
                PrepareStorage = c => Hosting.StoredData.MigrateAndRefreshAsync(storage, ClP2p.Eth2.Networks.NetworkRegistry.Builtin, log, c),
                GeoLookup = geo,
                Progress = (counters, until) => CrawlProgress.RunAsync(counters, log, time, until),
            };
            var summary = await session.RunAsync(ct).ConfigureAwait(false);
            if (settings.Crawl.SummaryJson is { } path) await summary.WriteJsonAsync(path, CancellationToken.None).ConfigureAwait(false);
            if (terminal) CrawlSummaryTable.Render(summary, AnsiConsole.Console);
            else log.LogInformation("summary: {Summary}", summary.ToJson());
            if (summary.State == CrawlStates.Aborted) return 130;
            if (summary.State == CrawlStates.Failed)
            {
                await Console.Error.WriteLineAsync($"{Name}: crawl {summary.CrawlId} failed: {summary.Error} (likely cause: {summary.LikelyCause})").ConfigureAwait(false);
                return CommandRunner.ExitFailure;
            }
            return CommandRunner.ExitOk;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return await CommandRunner.ReportAsync(ex, Name, log).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// What `crawl` and `run` check before they touch the database: the --db value, the network options, that the
    /// data directory is writable and that the UDP port is free. Bad options throw <see cref="UsageException"/> (exit
    /// 2), a failing environment <see cref="EnvironmentFailureException"/> (exit 1); no crawl row is written before.
    /// </summary>
    public static StorageOptions Prepare(CrawlerSettings settings, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!StorageOptions.TryParse(settings.Db, settings.DataDir, out var storage, out var error)) throw new UsageException(error);
        try
        {
            NetworkSelection.Resolve(settings, log);
        }
        catch (ArgumentException ex)
        {
            throw new UsageException(ex.Message, ex);
        }
        Preflight.WritableDirectory(settings.DataDir, "data directory (--data-dir)");
        Preflight.UdpPortFree(settings.Crawl.BindAddress(), settings.Crawl.UdpPort, "--listen-address/--udp-port");
        Preflight.TcpPortFree(settings.Crawl.BindAddress(), settings.Crawl.TcpPort, "--listen-address/--tcp-port");
        return storage;
    }
}
