namespace ClP2p.Eth2.Networks;

public enum ForkKind
{
    /// <summary>A fork with its own fork version (phase0, altair, …, fulu, gloas).</summary>
    Regular,

    /// <summary>A Blob-Parameters-Only fork (EIP-7892): same version, new blob parameters, new digest.</summary>
    BlobParametersOnly,
}

/// <summary>One fork boundary of a network: a regular fork or a BPO entry.</summary>
/// <param name="Name">phase0, altair, …, fulu, bpo1, bpo2, gloas.</param>
/// <param name="Epoch">Activation epoch; <see cref="ForkDigests.FarFutureEpoch"/> when unscheduled.</param>
/// <param name="Digest">Digest of the period the fork starts. For an unscheduled fork, the digest it will have if it
/// activates after the last scheduled fork (with the last blob parameters): what nodes carry the day it forks.</param>
/// <param name="NeverActive">True when a later fork activates at the same epoch (e.g. hoodi phase0..capella at 0).</param>
/// <param name="Unverified">True when the schedule comes from a single unverified source (networks.json notes).</param>
public sealed record Fork(
    string Name,
    ForkKind Kind,
    ForkVersion Version,
    ulong Epoch,
    ForkDigest? Digest,
    BlobParameters? BlobParameters,
    bool NeverActive,
    bool Unverified)
{
    public bool IsScheduled => Epoch != ForkDigests.FarFutureEpoch;

    /// <summary>True when the schedule of this fork is confirmed by more than one source (the opposite of <see cref="Unverified"/>).</summary>
    public bool Verified => !Unverified;
}

/// <summary>A consensus-layer network: genesis, fork schedule with digests, bootnodes, slot timing.</summary>
public sealed class Eth2Network
{
    private readonly Fork[] _scheduled; // chronological, ties in declaration order

    public Eth2Network(
        string name,
        ulong genesisTime,
        Root genesisValidatorsRoot,
        ulong secondsPerSlot,
        ulong slotsPerEpoch,
        IEnumerable<(string Name, ForkVersion Version, ulong Epoch)> regularForks,
        IReadOnlyList<BlobParameters> blobSchedule,
        ulong maxBlobsPerBlockElectra,
        IReadOnlyList<string>? bootnodes = null,
        IReadOnlySet<string>? unverifiedForks = null,
        IReadOnlyDictionary<string, string>? sources = null,
        string? retired = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (secondsPerSlot == 0) throw new ArgumentOutOfRangeException(nameof(secondsPerSlot));
        if (slotsPerEpoch == 0) throw new ArgumentOutOfRangeException(nameof(slotsPerEpoch));
        Name = name;
        GenesisTime = genesisTime;
        GenesisValidatorsRoot = genesisValidatorsRoot;
        SecondsPerSlot = secondsPerSlot;
        SlotsPerEpoch = slotsPerEpoch;
        // Loops rather than LINQ over value types in this constructor: the registry builds every network at start, and
        // the LINQ instantiations over these structs and tuples are not in the ahead-of-time image: each was compiled by
        // the JIT before the crawler's first packet (~50 methods; DOTNET_JitStdOutFile with DOTNET_JitDisasmSummary=1).
        BlobSchedule = StableSortedByEpoch(blobSchedule.ToArray());
        MaxBlobsPerBlockElectra = maxBlobsPerBlockElectra;
        Bootnodes = bootnodes ?? [];
        Sources = sources ?? new Dictionary<string, string>();
        Retired = retired;

        var regular = regularForks.ToList();
        if (regular.Count == 0) throw new ArgumentException("a network needs at least its genesis fork", nameof(regularForks));
        ElectraForkEpoch = EpochOf(regular, "electra");
        FuluForkEpoch = EpochOf(regular, "fulu");
        GenesisForkVersion = regular[0].Version;

        // Merge regular forks and BPO entries (BPO entries from FULU_FORK_EPOCH on; one at the same epoch as a
        // regular fork is part of that regular fork, fulu/p2p-interface.md "eth2 field").
        var merged = new List<(string Name, ForkKind Kind, ForkVersion Version, ulong Epoch)>();
        foreach (var f in regular) merged.Add((f.Name, ForkKind.Regular, f.Version, f.Epoch));
        int bpoIndex = 0;
        foreach (var bp in BlobSchedule)
        {
            if (FuluForkEpoch == ForkDigests.FarFutureEpoch || bp.Epoch <= FuluForkEpoch) continue;
            bpoIndex++;
            bool atRegular = false;
            foreach (var r in regular) atRegular |= r.Epoch == bp.Epoch;
            if (atRegular) continue;
            merged.Add(($"bpo{bpoIndex}", ForkKind.BlobParametersOnly, default, bp.Epoch));
        }
        // in epoch order, forks of one epoch in the order above (a stable insertion sort: a network has a few dozen)
        var ordered = new List<(string Name, ForkKind Kind, ForkVersion Version, ulong Epoch)>(merged.Count);
        foreach (var f in merged)
        {
            int at = ordered.Count;
            while (at > 0 && ordered[at - 1].Epoch > f.Epoch) at--;
            ordered.Insert(at, f);
        }

        var all = new List<Fork>();
        for (int i = 0; i < ordered.Count; i++)
        {
            var f = ordered[i];
            var version = f.Kind == ForkKind.Regular ? f.Version : RegularVersionAt(regular, f.Epoch);
            bool scheduled = f.Epoch != ForkDigests.FarFutureEpoch;
            bool neverActive = false;
            for (int j = i + 1; scheduled && j < ordered.Count; j++) neverActive |= ordered[j].Epoch == f.Epoch;
            BlobParameters? bp = scheduled && f.Epoch >= FuluForkEpoch ? BlobParametersAt(f.Epoch) : null;
            // An unscheduled fork (epoch FAR_FUTURE) gets the digest it will have when it activates after every scheduled
            // fork: blob parameters at FAR_FUTURE are the last entry of the schedule (fulu/beacon-chain.md
            // "get_blob_parameters"), as the digest of a fork scheduled after the last BPO is (consensus-specs #4354).
            ForkDigest? digest = DigestFor(version, f.Epoch);
            all.Add(new Fork(f.Name, f.Kind, version, f.Epoch, digest, bp, neverActive, unverifiedForks?.Contains(f.Name) == true));
        }
        Forks = all;
        _scheduled = all.Where(f => f.IsScheduled).ToArray();
        PreGenesisDigest = ForkDigests.Compute(GenesisForkVersion, Root.Zero);
    }

    public string Name { get; }

    /// <summary>Unix seconds of slot 0.</summary>
    public ulong GenesisTime { get; }

    public DateTimeOffset GenesisTimeUtc => DateTimeOffset.FromUnixTimeSeconds((long)GenesisTime);

    public Root GenesisValidatorsRoot { get; }

    public ulong SecondsPerSlot { get; }

    public ulong SlotsPerEpoch { get; }

    public ForkVersion GenesisForkVersion { get; }

    public ulong ElectraForkEpoch { get; }

    public ulong FuluForkEpoch { get; }

    public ulong MaxBlobsPerBlockElectra { get; }

    public IReadOnlyList<BlobParameters> BlobSchedule { get; }

    /// <summary>All forks (regular and BPO) in activation order; unscheduled ones last, with no digest.</summary>
    public IReadOnlyList<Fork> Forks { get; }

    /// <summary>Where the fork schedule comes from: topic (forks_phase0_to_electra, gloas, …) → source.</summary>
    public IReadOnlyDictionary<string, string> Sources { get; }

    /// <summary>True when every fork's schedule is confirmed by more than one source.</summary>
    public bool Verified => Forks.All(f => f.Verified);

    /// <summary>Why the network is retired (no longer run; kept to name old data), or null for a live network.</summary>
    public string? Retired { get; }

    /// <summary>Bootnode ENR texts (<c>enr:…</c>).</summary>
    public IReadOnlyList<string> Bootnodes { get; }

    /// <summary>compute_fork_digest(GENESIS_FORK_VERSION, Root(0x00*32)): seen in stale ENRs, never a live network.</summary>
    public ForkDigest PreGenesisDigest { get; }

    /// <summary>compute_fork_digest(genesis_validators_root, epoch) for this network.</summary>
    public ForkDigest ComputeForkDigest(ulong epoch) => DigestFor(GetForkAt(epoch).Version, epoch);

    /// <summary>The fork (regular or BPO) in force at <paramref name="epoch"/>.</summary>
    public Fork GetForkAt(ulong epoch)
    {
        Fork current = _scheduled[0];
        foreach (var f in _scheduled)
        {
            if (f.Epoch > epoch) break;
            current = f;
        }
        return current;
    }

    /// <summary>The next scheduled fork (regular or BPO) after <paramref name="epoch"/>, if any.</summary>
    public Fork? GetNextFork(ulong epoch) => _scheduled.FirstOrDefault(f => f.Epoch > epoch);

    /// <summary>Current slot by the wall clock (0 before genesis).</summary>
    public ulong GetSlot(DateTimeOffset time)
    {
        long now = time.ToUnixTimeSeconds();
        if (now <= (long)GenesisTime) return 0;
        return ((ulong)now - GenesisTime) / SecondsPerSlot;
    }

    public ulong GetEpoch(DateTimeOffset time) => GetSlot(time) / SlotsPerEpoch;

    public Fork GetCurrentFork(DateTimeOffset time) => GetForkAt(GetEpoch(time));

    public ForkDigest GetCurrentDigest(DateTimeOffset time) => ComputeForkDigest(GetEpoch(time));

    /// <summary>The ENRForkID a node following this network advertises at <paramref name="epoch"/> (fulu/p2p-interface.md "eth2 field").</summary>
    public Enr.EnrForkId GetEnrForkId(ulong epoch)
    {
        var current = GetForkAt(epoch);
        var next = GetNextFork(epoch);
        // A BPO fork keeps the current version, so next_fork_version only changes when the next boundary is regular.
        return new Enr.EnrForkId(
            ComputeForkDigest(epoch),
            next?.Version ?? current.Version,
            next?.Epoch ?? ForkDigests.FarFutureEpoch);
    }

    /// <summary>The ENR <c>nfd</c> value at <paramref name="epoch"/>: digest of the next scheduled fork, zero when none.</summary>
    public ForkDigest GetNextForkDigest(ulong epoch) => GetNextFork(epoch)?.Digest ?? ForkDigest.Zero;

    public override string ToString() => Name;

    private ForkDigest DigestFor(ForkVersion version, ulong epoch) =>
        epoch >= FuluForkEpoch
            ? ForkDigests.Compute(version, GenesisValidatorsRoot, BlobParametersAt(epoch))
            : ForkDigests.Compute(version, GenesisValidatorsRoot);

    private BlobParameters BlobParametersAt(ulong epoch) =>
        ForkDigests.GetBlobParameters(BlobSchedule, epoch, ElectraForkEpoch, MaxBlobsPerBlockElectra);

    private static ulong EpochOf(List<(string Name, ForkVersion Version, ulong Epoch)> regular, string name)
    {
        foreach (var r in regular)
            if (string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase)) return r.Epoch;
        return ForkDigests.FarFutureEpoch;
    }

    private static ForkVersion RegularVersionAt(List<(string Name, ForkVersion Version, ulong Epoch)> regular, ulong epoch)
    {
        // the version of the latest scheduled fork at or before epoch (of forks at one epoch, the last listed)
        var v = regular[0].Version;
        ulong latest = 0;
        bool found = false;
        foreach (var r in regular)
        {
            if (r.Epoch == ForkDigests.FarFutureEpoch || r.Epoch > epoch || (found && r.Epoch < latest)) continue;
            (v, latest, found) = (r.Version, r.Epoch, true);
        }
        return v;
    }

    private static BlobParameters[] StableSortedByEpoch(BlobParameters[] schedule)
    {
        for (int i = 1; i < schedule.Length; i++)
        {
            var b = schedule[i];
            int at = i;
            while (at > 0 && schedule[at - 1].Epoch > b.Epoch)
            {
                schedule[at] = schedule[at - 1];
                at--;
            }
            schedule[at] = b;
        }
        return schedule;
    }
}
