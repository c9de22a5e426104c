using System.Globalization;

namespace ClP2p.Eth2.Networks;

/// <summary>
/// A consensus-layer <c>config.yaml</c> (the flat <c>KEY: value</c> format used by eth-clients and consensus-specs,
/// plus the one nested form they use: a list of maps such as <c>BLOB_SCHEDULE</c>). Parsed without a YAML library:
/// comments, quotes, <c>[]</c> and <c>- KEY: value</c> list items are understood; anything else is rejected.
/// </summary>
public sealed class ConsensusConfig
{
    /// <summary>Regular forks in activation order as they appear in configs (<c>&lt;NAME&gt;_FORK_VERSION/EPOCH</c>).</summary>
    public static IReadOnlyList<string> KnownForks { get; } = ["altair", "bellatrix", "capella", "deneb", "electra", "fulu", "gloas"];

    private ConsensusConfig(Dictionary<string, string> values, Dictionary<string, List<Dictionary<string, string>>> lists)
    {
        Values = values;
        Lists = lists;
    }

    public IReadOnlyDictionary<string, string> Values { get; }

    public IReadOnlyDictionary<string, List<Dictionary<string, string>>> Lists { get; }

    public static bool TryParse(string text, out ConsensusConfig config, out string error)
    {
        config = null!;
        error = string.Empty;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var lists = new Dictionary<string, List<Dictionary<string, string>>>(StringComparer.Ordinal);
        string? openList = null;
        Dictionary<string, string>? currentItem = null;
        int lineNo = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNo++;
            var line = StripComment(rawLine.TrimEnd('\r'));
            if (line.Trim().Length == 0) continue;
            bool indented = char.IsWhiteSpace(line[0]);
            var trimmed = line.Trim();
            if (!indented)
            {
                openList = null;
                currentItem = null;
                int colon = trimmed.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0) { error = $"line {lineNo}: expected 'KEY: value'"; return false; }
                var key = trimmed[..colon].Trim();
                var value = Unquote(trimmed[(colon + 1)..].Trim());
                if (value.Length == 0) { openList = key; lists[key] = []; }
                else if (value == "[]") lists[key] = [];
                else values[key] = value;
                continue;
            }
            if (openList is null) { error = $"line {lineNo}: indented line outside a list"; return false; }
            if (trimmed.StartsWith('-'))
            {
                currentItem = new Dictionary<string, string>(StringComparer.Ordinal);
                lists[openList].Add(currentItem);
                trimmed = trimmed[1..].Trim();
                if (trimmed.Length == 0) continue;
            }
            if (currentItem is null) { error = $"line {lineNo}: list entry without '-'"; return false; }
            int c = trimmed.IndexOf(':', StringComparison.Ordinal);
            if (c <= 0) { error = $"line {lineNo}: expected 'KEY: value' in list item"; return false; }
            currentItem[trimmed[..c].Trim()] = Unquote(trimmed[(c + 1)..].Trim());
        }
        config = new ConsensusConfig(values, lists);
        return true;
    }

    public static ConsensusConfig Parse(string text) =>
        TryParse(text, out var c, out var e) ? c : throw new FormatException("config.yaml: " + e);

    public string? Get(string key) => Values.TryGetValue(key, out var v) ? v : null;

    public ulong? GetUInt64(string key) =>
        Get(key) is { } v && ulong.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var u) ? u : null;

    /// <summary>
    /// Builds a network from this config and the genesis validators root (from genesis.ssz or a beacon API).
    /// Genesis time defaults to MIN_GENESIS_TIME + GENESIS_DELAY, which is exact for networks that started from a
    /// fixed genesis state; pass the real value when known.
    /// </summary>
    public Eth2Network ToNetwork(Root genesisValidatorsRoot, ulong? genesisTime = null, IReadOnlyList<string>? bootnodes = null, string? name = null)
    {
        var forks = new List<(string, ForkVersion, ulong)>
        {
            ("phase0", RequireVersion("GENESIS_FORK_VERSION"), 0),
        };
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "GENESIS" };
        foreach (var f in KnownForks)
        {
            var prefix = f.ToUpperInvariant();
            seen.Add(prefix);
            if (Get(prefix + "_FORK_VERSION") is null) continue;
            forks.Add((f, RequireVersion(prefix + "_FORK_VERSION"), GetUInt64(prefix + "_FORK_EPOCH") ?? ForkDigests.FarFutureEpoch));
        }
        // Forks this code does not know by name yet (e.g. after gloas), in epoch order.
        // (a stable insertion sort by epoch, not LINQ over the tuples: see Eth2Network's constructor)
        int known = forks.Count;
        foreach (var k in Values.Keys)
        {
            if (!k.EndsWith("_FORK_VERSION", StringComparison.Ordinal)) continue;
            var p = k[..^"_FORK_VERSION".Length];
            if (seen.Contains(p)) continue;
            var fork = (p.ToLowerInvariant(), RequireVersion(p + "_FORK_VERSION"), GetUInt64(p + "_FORK_EPOCH") ?? ForkDigests.FarFutureEpoch);
            int at = forks.Count;
            while (at > known && forks[at - 1].Item3 > fork.Item3) at--;
            forks.Insert(at, fork);
        }

        var schedule = new List<BlobParameters>();
        if (Lists.TryGetValue("BLOB_SCHEDULE", out var entries))
            foreach (var e in entries)
            {
                if (!e.TryGetValue("EPOCH", out var ep) || !e.TryGetValue("MAX_BLOBS_PER_BLOCK", out var mb)
                    || !ulong.TryParse(ep, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)
                    || !ulong.TryParse(mb, NumberStyles.None, CultureInfo.InvariantCulture, out var max))
                    throw new FormatException("config.yaml: BLOB_SCHEDULE entries need numeric EPOCH and MAX_BLOBS_PER_BLOCK");
                schedule.Add(new BlobParameters(epoch, max));
            }

        ulong secondsPerSlot = GetUInt64("SECONDS_PER_SLOT") ?? (GetUInt64("SLOT_DURATION_MS") is { } ms ? ms / 1000 : 12);
        ulong slotsPerEpoch = GetUInt64("SLOTS_PER_EPOCH") ?? (Get("PRESET_BASE")?.ToLowerInvariant() switch
        {
            "minimal" => 8UL,
            "gnosis" => 16UL,
            _ => 32UL,
        });
        ulong genesis = genesisTime ?? (GetUInt64("MIN_GENESIS_TIME") ?? 0) + (GetUInt64("GENESIS_DELAY") ?? 0);
        return new Eth2Network(
            name ?? Get("CONFIG_NAME") ?? "custom",
            genesis,
            genesisValidatorsRoot,
            secondsPerSlot,
            slotsPerEpoch,
            forks,
            schedule,
            GetUInt64("MAX_BLOBS_PER_BLOCK_ELECTRA") ?? 9,
            bootnodes);
    }

    private ForkVersion RequireVersion(string key) =>
        ForkVersion.TryParse(Get(key), out var v) ? v : throw new FormatException($"config.yaml: {key} is missing or not a 4-byte hex version");

    private static string StripComment(string line)
    {
        bool inSingle = false, inDouble = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (ch == '\'' && !inDouble) inSingle = !inSingle;
            else if (ch == '"' && !inSingle) inDouble = !inDouble;
            else if (ch == '#' && !inSingle && !inDouble && (i == 0 || char.IsWhiteSpace(line[i - 1]))) return line[..i];
        }
        return line;
    }

    private static string Unquote(string v) =>
        v.Length >= 2 && ((v[0] == '\'' && v[^1] == '\'') || (v[0] == '"' && v[^1] == '"')) ? v[1..^1] : v;
}
