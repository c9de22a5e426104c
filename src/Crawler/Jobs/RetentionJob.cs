using ClP2p.Storage;
using Microsoft.Extensions.Logging;
using Quartz;

namespace ClP2p.Crawler.Jobs;

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
