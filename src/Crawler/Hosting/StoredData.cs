using ClP2p.Api;
using ClP2p.Discovery;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Hosting;

/// <summary>
/// Migrates the database, then brings stored rows in line with this build: digest names and agent parts always
/// (<see cref="StoredNames"/>), and, the first time migration DataCorrectness is applied, the cgc of stored ENRs decoded
/// again from the records (before it, a record without cgc was stored as 0 and Nimbus's one-byte 0 as null); the first
/// time migration DiscoveryIncomplete is applied, the census of finished crawls with nodes not fully enumerated.
/// </summary>
public static class StoredData
{
    /// <summary>The migration whose application triggers the cgc repair.</summary>
    public const string CgcRepairMigration = "_DataCorrectness";

    /// <summary>The migration whose application triggers a rebuild of the census of finished crawls that hold nodes
    /// which answered discovery but were not fully enumerated (counted "answered" by the census built before it).</summary>
    public const string DiscoveryCensusMigration = "_DiscoveryIncomplete";

    public static async Task<IReadOnlyList<string>> MigrateAndRefreshAsync(StorageOptions storage, NetworkRegistry registry, ILogger? log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(storage);
        IReadOnlyList<string> applied = await StorageMigrator.MigrateAsync(storage, ct).ConfigureAwait(false);
        if (applied.Any(m => m.EndsWith(CgcRepairMigration, StringComparison.Ordinal)))
        {
            int repaired = await StoredDataRepair.RedecodeEnrCgcAsync(storage, RedecodeCgc, ct).ConfigureAwait(false);
            log?.LogInformation("re-decoded the cgc of stored ENRs: {Rows} rows corrected", repaired);
        }
        if (applied.Any(m => m.EndsWith(DiscoveryCensusMigration, StringComparison.Ordinal)))
        {
            int rebuilt = await StoredDataRepair.RebuildCensusOfCrawlsWithIncompleteDiscoveryAsync(storage, ct: ct).ConfigureAwait(false);
            if (rebuilt > 0) log?.LogInformation("rebuilt the census of {Crawls} crawls with nodes not fully enumerated", rebuilt);
        }
        (int digests, int agents) = await StoredNames.RefreshAsync(storage, registry, ct).ConfigureAwait(false);
        if (digests + agents > 0) log?.LogInformation("refreshed stored names: {Digests} digest names, {Agents} agent strings", digests, agents);
        return applied;
    }

    /// <summary>The cgc of a stored record (raw RLP), decoded as the crawler decodes it now; null when absent or undecodable.</summary>
    public static EnrRedecode RedecodeCgc(byte[] raw)
    {
        if (!Enr.TryDecode(raw, out var enr, out _) || enr is null) return new EnrRedecode(null);
        if (!enr.TryGetValue(Eth2EnrFields.CustodyGroupCountKey, out var value, out bool isList) || isList) return new EnrRedecode(null);
        return new EnrRedecode(Eth2EnrFields.TryParseCustodyGroupCount(value.Span, out ulong cgc, out _) ? cgc : null);
    }
}
