using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Crawler.Engine;
using ClP2p.Discovery;
using ClP2p.Eth2.Dialing;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;
using Quartz;

namespace ClP2p.Crawler.Jobs;

/// <summary>What the scheduled jobs share in a `clp2p run` process.</summary>
public sealed class RunContext(CrawlerSettings settings, StorageOptions storage, ILoggerFactory loggers)
{
    public CrawlerSettings Settings { get; } = settings;
    public StorageOptions Storage { get; } = storage;
    public ILoggerFactory Loggers { get; } = loggers;
    public Func<System.Net.IPAddress, IpGeo?>? Geo { get; init; }

    /// <summary>The clock of every job: visit timestamps, retention cutoffs, dial timeouts.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The process's crawl metrics (exported at /metrics), pointed at each scheduled crawl.</summary>
    public CrawlGauges Metrics { get; } = new();

    /// <summary>The listening node kept up for the whole run (crawls use its discv5 node); null until the run starts it.</summary>
    public Inbound.InboundHost? Inbound { get; set; }

    /// <summary>Crawls and re-dials never overlap: a re-dial waits for a crawl and the other way round.</summary>
    public SemaphoreSlim NetworkGate { get; } = new(1, 1);

    public long CrawlsRun;
    public long RedialsRun;
}

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

/// <summary>Deletes visits older than the retention period (nodes, ENR history and crawls stay).</summary>
[DisallowConcurrentExecution]
public sealed class RetentionJob(RunContext run) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        if (run.Settings.Run.Retention <= TimeSpan.Zero) return;
        int deleted = await ApplyAsync(run.Storage, run.Time.GetUtcNow() - run.Settings.Run.Retention, cancellationToken).ConfigureAwait(false);
        run.Loggers.CreateLogger<RetentionJob>().LogInformation("retention: deleted {Count} visits older than {Retention}", deleted, run.Settings.Run.Retention);
    }

    public static Task<int> ApplyAsync(StorageOptions storage, DateTimeOffset cutoff, CancellationToken ct) =>
        MaintenanceQueries.DeleteVisitsBeforeAsync(storage, cutoff, ct);
}
