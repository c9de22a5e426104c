using System.Text.Json;

namespace ClP2p.Storage;

/// <summary>
/// A network's clock: genesis time and slot timing, enough to turn a visit's time into the network's wall-clock slot
/// (phase0/beacon-chain.md: slot = (time - genesis_time) / SECONDS_PER_SLOT).
/// </summary>
/// <param name="Name">Network name as the crawler names fork digests ("mainnet", or a custom config's CONFIG_NAME).</param>
/// <param name="GenesisTime">Genesis, Unix seconds.</param>
/// <param name="SecondsPerSlot">SECONDS_PER_SLOT.</param>
/// <param name="SlotsPerEpoch">SLOTS_PER_EPOCH.</param>
public sealed record NetworkClock(string Name, long GenesisTime, long SecondsPerSlot, long SlotsPerEpoch)
{
    /// <summary>The wall-clock slot at <paramref name="at"/> (negative before genesis).</summary>
    public long SlotAt(DateTimeOffset at) => (long)Math.Floor((at.ToUnixTimeMilliseconds() / 1000.0 - GenesisTime) / SecondsPerSlot);

    /// <summary>Reads the clock a crawl stored in its parameters JSON (network_name, genesis_time, seconds_per_slot,
    /// slots_per_epoch), as `clp2p crawl` does for every network it knows, custom ones included. Null when absent.</summary>
    public static NetworkClock? FromCrawlParameters(string? parametersJson)
    {
        if (string.IsNullOrEmpty(parametersJson)) return null;
        try
        {
            using var doc = JsonDocument.Parse(parametersJson);
            var r = doc.RootElement;
            if (r.ValueKind == JsonValueKind.Object
                && r.TryGetProperty("network_name", out var n) && n.ValueKind == JsonValueKind.String
                && r.TryGetProperty("genesis_time", out var g) && g.TryGetInt64(out long genesis)
                && r.TryGetProperty("seconds_per_slot", out var s) && s.TryGetInt64(out long sps) && sps > 0
                && r.TryGetProperty("slots_per_epoch", out var e) && e.TryGetInt64(out long spe) && spe > 0)
                return new NetworkClock(n.GetString()!, genesis, sps, spe);
        }
        catch (JsonException)
        {
            // parameters written by an older crawler or by hand: no clock
        }
        return null;
    }
}

/// <summary>
/// Sync health of a dialled node from its Status (phase0/p2p-interface.md "Status"), against the wall-clock slot of
/// the network its ENR fork digest names, at the moment of the visit. Definitions (published in docs/api.md):
/// <list type="bullet">
/// <item><b>synced</b>: head_slot is at most 2 epochs behind the wall-clock slot (or ahead of it: clock skew);</item>
/// <item><b>behind</b>: more than 2 epochs and at most 8,192 slots behind;</item>
/// <item><b>far_behind</b>: more than 8,192 slots behind;</item>
/// <item><b>finalized lag</b>: wall-clock epoch minus finalized_epoch, bucketed 0-3 (normal: finality trails the head by
/// 2 epochs), 4-64, 65+.</item>
/// </list>
/// Nodes without a Status answer, or on a network whose genesis is not known, are in the null ("unknown") group.
/// </summary>
public static class SyncHealth
{
    /// <summary>Epochs of head lag still counted as synced.</summary>
    public const long SyncedEpochs = 2;

    /// <summary>Slots of head lag above which a node is far behind.</summary>
    public const long FarBehindSlots = 8192;

    public const string Synced = "synced";
    public const string Behind = "behind";
    public const string FarBehind = "far_behind";

    /// <summary>The finalized-lag buckets, in order.</summary>
    public static IReadOnlyList<string> FinalizedBuckets { get; } = ["0-3", "4-64", "65+"];

    /// <summary>The sync class of a head <paramref name="lagSlots"/> slots behind the wall clock.</summary>
    public static string Classify(long lagSlots, long slotsPerEpoch) =>
        lagSlots <= SyncedEpochs * slotsPerEpoch ? Synced : lagSlots <= FarBehindSlots ? Behind : FarBehind;

    /// <summary>The bucket of a finalized checkpoint <paramref name="lagEpochs"/> epochs behind the wall-clock epoch.</summary>
    public static string FinalizedBucket(long lagEpochs) => lagEpochs <= 3 ? "0-3" : lagEpochs <= 64 ? "4-64" : "65+";
}
