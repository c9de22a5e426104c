using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace ClP2p.Storage;

/// <summary>The queries of the crawler's scheduled jobs between crawls: which nodes to re-dial, and retention.</summary>
public static class MaintenanceQueries
{
    /// <summary>
    /// The latest stored record (raw ENR) of up to <paramref name="max"/> nodes that have a fork digest and a TCP port,
    /// most recently seen first: the consensus nodes a re-dial checks.
    /// </summary>
    public static async Task<IReadOnlyList<byte[]>> LatestConsensusRecordsAsync(StorageOptions storage, int max, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(storage);
        await using var db = storage.CreateDbContext();
        return await db.Enrs.AsNoTracking()
            .Join(db.Nodes, e => new { e.NodeId, e.Seq }, n => new { n.NodeId, Seq = n.LatestSeq }, (e, n) => new { e, n.LastSeen })
            .Where(x => x.e.ForkDigest != null && x.e.Tcp != null)
            .OrderByDescending(x => x.LastSeen)
            .Take(max)
            .Select(x => x.e.Raw)
            .ToListAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Deletes visits older than <paramref name="cutoff"/> (nodes, ENR history and crawls stay); returns how many.</summary>
    public static async Task<int> DeleteVisitsBeforeAsync(StorageOptions storage, DateTimeOffset cutoff, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(storage);
        await using var db = storage.CreateDbContext();
        var before = cutoff.UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(ct).ConfigureAwait(false);
        int deleted = await db.Visits.Where(v => EF.Property<DateTime>(v, "VisitedAt") < before).ExecuteDeleteAsync(ct).ConfigureAwait(false);
        // visits deleted, not appended: running censuses count again
        if (deleted > 0)
            await CensusChanges.AllAsync(db.Database.GetDbConnection(), tx.GetDbTransaction(), storage.Provider, TimeProvider.System.GetUtcNow().UtcDateTime, null, ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return deleted;
    }
}
