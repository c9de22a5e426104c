using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;

namespace ClP2p.Eth2.Networks;

public enum DigestKind
{
    /// <summary>The digest of a fork period (regular or BPO) of a known network.</summary>
    Fork,

    /// <summary>compute_fork_digest(GENESIS_FORK_VERSION, zero root): a stale pre-genesis value, not a live network.</summary>
    PreGenesis,

    /// <summary>The digest a fork without an epoch yet will have (after the last scheduled fork): nodes carry it the day it forks.</summary>
    Unscheduled,
}

/// <summary>The name of a known fork digest.</summary>
/// <param name="Fork">The fork name, or <c>pre-genesis</c> for <see cref="DigestKind.PreGenesis"/>.</param>
public readonly record struct DigestName(string Network, string Fork, DigestKind Kind)
{
    public const string PreGenesisFork = "pre-genesis";

    /// <summary>True for digests of a fork period, scheduled or coming; pre-genesis digests are stale and name no live network.</summary>
    public bool IsLiveNetwork => Kind != DigestKind.PreGenesis;

    /// <summary>The kind as stored (fork, unscheduled, pre_genesis).</summary>
    public string KindName => Kind switch { DigestKind.PreGenesis => "pre_genesis", DigestKind.Unscheduled => "unscheduled", _ => "fork" };

    public override string ToString() => $"{Network}/{Fork}";
}

/// <summary>Where a digest stands relative to its network's wall clock.</summary>
public enum DigestAge
{
    /// <summary>Not a digest of any known network.</summary>
    Unknown,

    /// <summary>A pre-genesis digest (zero genesis_validators_root): stale by construction.</summary>
    PreGenesis,

    /// <summary>The network's digest right now.</summary>
    Current,

    /// <summary>A digest of an earlier fork period: the node (or its ENR) has not moved on.</summary>
    Past,

    /// <summary>A digest of a scheduled, not yet active fork period.</summary>
    Future,

    /// <summary>A fork that never had its own period (a later fork activated at the same epoch).</summary>
    NeverActive,
}

/// <summary>
/// The built-in networks (mainnet, sepolia, holesky, hoodi, gnosis, chiado from networks.json / bootnodes.json,
/// embedded) plus any custom networks, and the digest → (network, fork) index across all of them.
/// </summary>
public sealed class NetworkRegistry
{
    private static readonly Lazy<NetworkRegistry> BuiltinLazy = new(LoadBuiltin);

    private readonly FrozenDictionary<string, Eth2Network> _byName;
    private readonly FrozenDictionary<ForkDigest, DigestName> _byDigest;

    public NetworkRegistry(IEnumerable<Eth2Network> networks)
    {
        Networks = networks.ToArray();
        _byName = Networks.ToFrozenDictionary(n => n.Name, StringComparer.OrdinalIgnoreCase);
        var index = new Dictionary<ForkDigest, DigestName>();
        foreach (var n in Networks)
        {
            foreach (var f in n.Forks)
                if (f.Digest is { } d && f.IsScheduled) index.TryAdd(d, new DigestName(n.Name, f.Name, DigestKind.Fork));
        }
        // Coming forks after every scheduled one, so that a scheduled period always wins a collision.
        foreach (var n in Networks)
        {
            foreach (var f in n.Forks)
                if (f.Digest is { } d && !f.IsScheduled) index.TryAdd(d, new DigestName(n.Name, f.Name, DigestKind.Unscheduled));
        }
        // Pre-genesis digests last, so that a real fork digest always wins a (theoretical) collision.
        foreach (var n in Networks)
            index.TryAdd(n.PreGenesisDigest, new DigestName(n.Name, DigestName.PreGenesisFork, DigestKind.PreGenesis));
        _byDigest = index.ToFrozenDictionary();
    }

    /// <summary>mainnet, sepolia, holesky, hoodi, gnosis, chiado.</summary>
    public static NetworkRegistry Builtin => BuiltinLazy.Value;

    public static IReadOnlyList<string> BuiltinNames { get; } = ["mainnet", "sepolia", "holesky", "hoodi", "gnosis", "chiado"];

    /// <summary>
    /// Built-in networks that are no longer run, with why: kept so that old crawls keep their names, not offered for
    /// new crawls without a warning.
    /// </summary>
    public static IReadOnlyDictionary<string, string> RetiredNetworks { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["holesky"] = "shut down after the Fusaka fork (EF announcement of Holesky's sunset, 2025; replaced by hoodi)",
    };

    public IReadOnlyList<Eth2Network> Networks { get; }

    public Eth2Network Get(string name) =>
        _byName.TryGetValue(name, out var n) ? n : throw new KeyNotFoundException($"unknown network '{name}'");

    public bool TryGet(string name, out Eth2Network network) => _byName.TryGetValue(name, out network!);

    /// <summary>A registry with <paramref name="network"/> added (replacing one with the same name).</summary>
    public NetworkRegistry With(Eth2Network network) =>
        new(Networks.Where(n => !string.Equals(n.Name, network.Name, StringComparison.OrdinalIgnoreCase)).Append(network));

    /// <summary>Every digest this registry names: fork periods, coming (unscheduled) forks and pre-genesis values.</summary>
    public IEnumerable<(ForkDigest Digest, DigestName Name)> DigestNames => _byDigest.Select(kv => (kv.Key, kv.Value));

    /// <summary>Names a digest across all networks. Unknown digests return false and stay raw.</summary>
    public bool TryNameDigest(ForkDigest digest, out DigestName name) => _byDigest.TryGetValue(digest, out name);

    public bool TryNameDigest(ForkDigest digest, out string network, out string fork)
    {
        if (_byDigest.TryGetValue(digest, out var name))
        {
            (network, fork) = (name.Network, name.Fork);
            return true;
        }
        (network, fork) = (string.Empty, string.Empty);
        return false;
    }

    /// <summary>Names a digest and says whether it is its network's current one at <paramref name="now"/> (testnet nodes share the DHT: counts agree only once filtered by digest).</summary>
    public (DigestName? Name, DigestAge Age) Classify(ForkDigest digest, DateTimeOffset now)
    {
        if (!_byDigest.TryGetValue(digest, out var name)) return (null, DigestAge.Unknown);
        if (name.Kind == DigestKind.PreGenesis) return (name, DigestAge.PreGenesis);
        if (name.Kind == DigestKind.Unscheduled) return (name, DigestAge.Future);
        var network = _byName[name.Network];
        var fork = network.Forks.First(f => f.Digest == digest);
        if (fork.NeverActive) return (name, DigestAge.NeverActive);
        var current = network.GetCurrentFork(now);
        if (current.Digest == digest) return (name, DigestAge.Current);
        return (name, fork.Epoch > current.Epoch ? DigestAge.Future : DigestAge.Past);
    }

    /// <summary>The network whose live fork period has this digest (never a pre-genesis match).</summary>
    public bool TryGetNetworkByDigest(ForkDigest digest, out Eth2Network network)
    {
        network = null!;
        return _byDigest.TryGetValue(digest, out var name) && name.IsLiveNetwork && _byName.TryGetValue(name.Network, out network!);
    }

    private static NetworkRegistry LoadBuiltin()
    {
        var asm = typeof(NetworkRegistry).Assembly;
        using var networksStream = asm.GetManifestResourceStream("ClP2p.Eth2.Data.networks.json")
            ?? throw new InvalidOperationException("embedded networks.json missing");
        using var bootStream = asm.GetManifestResourceStream("ClP2p.Eth2.Data.bootnodes.json")
            ?? throw new InvalidOperationException("embedded bootnodes.json missing");
        using var networksDoc = JsonDocument.Parse(networksStream);
        using var bootDoc = JsonDocument.Parse(bootStream);
        var list = new List<Eth2Network>();
        foreach (var name in BuiltinNames)
        {
            var n = networksDoc.RootElement.GetProperty("networks").GetProperty(name);
            var boot = new List<string>();
            if (bootDoc.RootElement.GetProperty("networks").TryGetProperty(name, out var bl))
                foreach (var b in bl.EnumerateArray())
                    if (b.TryGetProperty("enr", out var enr) && enr.GetString() is { } text) boot.Add(text);
            list.Add(FromJson(name, n, boot));
        }
        return new NetworkRegistry(list);
    }

    internal static Eth2Network FromJson(string name, JsonElement n, IReadOnlyList<string> bootnodes)
    {
        var regular = new List<(string, ForkVersion, ulong)>();
        var unverified = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in n.GetProperty("forks").EnumerateArray())
        {
            if (f.GetProperty("kind").GetString() != "regular") continue; // BPO entries are derived from blob_schedule
            var forkName = f.GetProperty("name").GetString()!;
            var epochEl = f.GetProperty("epoch");
            ulong epoch = epochEl.ValueKind == JsonValueKind.Number ? epochEl.GetUInt64() : ForkDigests.FarFutureEpoch;
            regular.Add((forkName, ForkVersion.Parse(f.GetProperty("fork_version").GetString()!), epoch));
            if (f.TryGetProperty("status", out var st) && st.GetString()?.Contains("UNVERIFIED", StringComparison.Ordinal) == true)
                unverified.Add(forkName);
        }
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        if (n.TryGetProperty("sources", out var src) && src.ValueKind == JsonValueKind.Object)
            foreach (var p in src.EnumerateObject())
                if (p.Value.ValueKind == JsonValueKind.String) sources[p.Name] = p.Value.GetString()!;
        var schedule = new List<BlobParameters>();
        if (n.TryGetProperty("blob_schedule", out var bs))
            foreach (var e in bs.EnumerateArray())
                schedule.Add(new BlobParameters(e.GetProperty("epoch").GetUInt64(), e.GetProperty("max_blobs_per_block").GetUInt64()));
        return new Eth2Network(
            name,
            n.GetProperty("genesis_time").GetUInt64(),
            Root.Parse(n.GetProperty("genesis_validators_root").GetString()!),
            n.GetProperty("seconds_per_slot").GetUInt64(),
            n.GetProperty("slots_per_epoch").GetUInt64(),
            regular,
            schedule,
            n.TryGetProperty("max_blobs_per_block_electra", out var mb) ? mb.GetUInt64() : 9,
            bootnodes,
            unverified,
            sources,
            RetiredNetworks.GetValueOrDefault(name));
    }

    internal static string FormatEpoch(ulong epoch) =>
        epoch == ForkDigests.FarFutureEpoch ? "FAR_FUTURE" : epoch.ToString(CultureInfo.InvariantCulture);
}
