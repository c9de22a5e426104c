using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Crawler.Engine;
using ClP2p.Discovery;
using ClP2p.Eth2.Dialing;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;
using Quartz;

namespace ClP2p.Crawler.Jobs;

/// <summary>Re-dials the consensus nodes known from the database between crawls to track liveness; writes visits
/// of kind "redial" (no crawl id).</summary>
[DisallowConcurrentExecution]
public sealed class RedialJob(RunContext run) : IJob
{
    /// <summary>Most nodes re-dialled per run (newest first).</summary>
    public const int MaxNodesPerRun = 5_000;

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var log = run.Loggers.CreateLogger<RedialJob>();
        if (!await run.NetworkGate.WaitAsync(TimeSpan.Zero, cancellationToken).ConfigureAwait(false))
        {
            log.LogInformation("re-dial skipped: a crawl is running");
            return;
        }
        try
        {
            int n = await RedialAsync(run, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref run.RedialsRun);
            log.LogInformation("re-dialled {Count} known consensus nodes", n);
        }
#pragma warning disable CA1031 // logged; the next run tries again
        catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
        {
            log.LogError(ex, "re-dial failed");
        }
        finally
        {
            run.NetworkGate.Release();
        }
    }

    public static async Task<int> RedialAsync(RunContext run, CancellationToken ct)
    {
        var settings = run.Settings;
        var policy = new AddressPolicy(settings.Crawl.AllowPrivate, settings.Crawl.AllowLoopback);
        var raws = await MaintenanceQueries.LatestConsensusRecordsAsync(run.Storage, MaxNodesPerRun, ct).ConfigureAwait(false);
        var targets = raws.Select(r => Enr.TryDecode(r, out var enr, out _) ? enr : null)
            .Where(e => e?.TcpEndPoint is { } ep && policy.IsAllowed(ep.Address))
            .Select(e => e!)
            .ToList();
        if (targets.Count == 0) return 0;

        var selection = NetworkSelection.Resolve(settings, run.Loggers.CreateLogger<RedialJob>());
        byte[] key = NodeKeyStore.LoadOrCreate(settings.DataDir);
        using var dialer = CrawlSession.CreateDialer(settings, selection, key, run.Loggers, run.Time);
        await using var writer = new ResultWriter(run.Storage, null, run.Loggers.CreateLogger<ResultWriter>(), time: run.Time);
        var worker = new BeaconDialWorker(dialer);
        await Parallel.ForEachAsync(targets, new ParallelOptions { MaxDegreeOfParallelism = settings.Crawl.DialConcurrency, CancellationToken = ct }, async (enr, token) =>
        {
            var node = Discv5DiscoveryWorker.ToNode(enr);
            var report = await worker.DialAsync(node, token).ConfigureAwait(false);
            var outcome = new NodeOutcome<Enr, BeaconDialResult>(node, null, report, null, run.Time.GetUtcNow());
            var visit = StorageCrawlSink.ToVisit(null, outcome, node.DialEndpoint!.Address.ToString()) with { Kind = VisitKinds.Redial };
            await writer.AddVisitAsync(visit, CancellationToken.None).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return targets.Count;
    }
}
