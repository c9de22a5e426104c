using ClP2p.Api.CommandLine;
using ClP2p.Crawler.Config;
using ClP2p.Crawler.Jobs;
using ClP2p.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Quartz;

namespace ClP2p.Crawler.Cli;

/// <summary>
/// `clp2p run`: continuous crawling. Quartz runs a crawl now and then on the cron schedule (or interval), re-dials
/// known consensus nodes between crawls, and applies retention daily; the census API and /metrics are served in the
/// same process unless --no-api. SIGINT/SIGTERM stop the host: the running crawl is aborted gracefully (in-flight
/// dials end, the writer flushes, the crawl is marked aborted).
/// </summary>
public static class RunCommand
{
    public static async Task<int> ExecuteAsync(CrawlerSettings settings, TimeProvider time, CancellationToken ct)
    {
        using var loggers = Logging.Create(LogLevel.Information);
        var log = loggers.CreateLogger("clp2p");
        try
        {
            return await RunAsync(settings, time, loggers, log, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return await CommandRunner.ReportAsync(ex, Name, log).ConfigureAwait(false);
        }
    }

    public const string Name = "clp2p run";

    private static async Task<int> RunAsync(CrawlerSettings settings, TimeProvider time, ILoggerFactory loggers, ILogger log, CancellationToken ct)
    {
        if (settings.Run.Cron is { Length: > 0 } cron)
        {
            try { _ = new CronExpression(cron); }
            catch (FormatException ex)
            {
                throw new UsageException($"--cron '{cron}' is not a Quartz cron expression ({CommandRunner.Tidy(ex.Message)}): use six or seven fields, e.g. \"0 0/30 * * * ?\"", ex);
            }
        }
        var storage = CrawlCommand.Prepare(settings, log);
        if (!settings.Run.NoApi) Preflight.HttpUrlsFree(settings.Run.ApiUrls, "--urls");
        await Hosting.StoredData.MigrateAndRefreshAsync(storage, ClP2p.Eth2.Networks.NetworkRegistry.Builtin, null, ct).ConfigureAwait(false);
        var run = new RunContext(settings, storage, loggers) { Geo = Hosting.GeoServices.Create(settings.Geo, loggers, time), Time = time };
        // the listening node stays up between crawls (the inbound census): every crawl of this run uses it
        var selection = Eth2Crawl.NetworkSelection.Resolve(settings, log);
        var policy = new Eth2Crawl.AddressPolicy(settings.Crawl.AllowPrivate, settings.Crawl.AllowLoopback);
        var bootnodes = selection.Bootnodes.Where(Eth2Crawl.CrawlSession.ContactFilter(policy)).ToList();
        await using var inbound = await Inbound.InboundHost.StartAsync(settings, storage, selection, NodeKeyStore.LoadOrCreate(settings.DataDir), bootnodes, loggers, run.Time, ct, geo: run.Geo).ConfigureAwait(false);
        run.Inbound = inbound;

        if (settings.Run.NoApi)
        {
            var builder = Host.CreateApplicationBuilder();
            Configure(builder.Services, builder.Logging, run);
            using var host = builder.Build();
            await host.RunAsync(ct).ConfigureAwait(false);
        }
        else
        {
            var builder = WebApplication.CreateBuilder();
            builder.WebHost.UseUrls(settings.Run.ApiUrls.Split(';', StringSplitOptions.RemoveEmptyEntries));
            Configure(builder.Services, builder.Logging, run);
            Hosting.ApiHosting.AddServices(builder.Services, storage);
            await using var app = builder.Build();
            Hosting.ApiHosting.Map(app);
            app.MapMetrics();
            log.LogInformation("census API and /metrics on {Urls}", settings.Run.ApiUrls);
            await app.RunAsync(ct).ConfigureAwait(false);
        }
        return 0;
    }

    private static void Configure(IServiceCollection services, ILoggingBuilder logging, RunContext run)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o => { o.SingleLine = true; o.UseUtcTimestamp = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; });
        services.AddSingleton(run);
        services.AddSingleton(run.Time);   // the API's clock ("now" in its windows, the query deadline)
        var s = run.Settings.Run;
        services.AddQuartz(q =>
        {
            q.UseTimeProvider(run.Time);
            q.ScheduleJob<CrawlJob>(
                t =>
                {
                    t.WithIdentity("crawl-trigger").StartNow();
                    if (s.Cron is { Length: > 0 } cron) t.WithCronSchedule(cron);
                    else t.WithSimpleSchedule(x => x.WithInterval(s.Interval).RepeatForever());
                },
                j => j.WithIdentity("crawl"));
            if (s.RedialInterval > TimeSpan.Zero)
            {
                q.ScheduleJob<RedialJob>(
                    t => t.WithIdentity("redial-trigger").StartAt(run.Time.GetUtcNow() + s.RedialInterval)
                        .WithSimpleSchedule(x => x.WithInterval(s.RedialInterval).RepeatForever()),
                    j => j.WithIdentity("redial"));
            }
            q.ScheduleJob<RetentionJob>(
                t => t.WithIdentity("retention-trigger").StartNow().WithSimpleSchedule(x => x.WithInterval(TimeSpan.FromDays(1)).RepeatForever()),
                j => j.WithIdentity("retention"));
        });
        services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
    }
}
