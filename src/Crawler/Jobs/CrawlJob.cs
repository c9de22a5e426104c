using ClP2p.Crawler.Eth2Crawl;
using Microsoft.Extensions.Logging;
using Quartz;

namespace ClP2p.Crawler.Jobs;

/// <summary>One scheduled crawl.</summary>
[DisallowConcurrentExecution]
public sealed class CrawlJob(RunContext run) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var log = run.Loggers.CreateLogger<CrawlJob>();
        await run.NetworkGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var session = new CrawlSession(run.Settings, run.Storage, run.Loggers, run.Time) { GeoLookup = run.Geo, Metrics = run.Metrics, Inbound = run.Inbound };
            var summary = await session.RunAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref run.CrawlsRun);
            log.LogInformation("scheduled crawl {CrawlId}: {Found} nodes, {Ok}/{Dialled} dials ok", summary.CrawlId, summary.NodesFound, summary.DialOk, summary.Dialled);
        }
#pragma warning disable CA1031 // one failed crawl must not stop the schedule; it is logged and the crawl row says failed
        catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
        {
            log.LogError(ex, "scheduled crawl failed");
        }
        finally
        {
            run.NetworkGate.Release();
        }
    }
}
