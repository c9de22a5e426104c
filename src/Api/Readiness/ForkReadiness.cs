using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ClP2p.Eth2.Networks;
using ClP2p.Storage;

namespace ClP2p.Api.Readiness;

/// <summary>The first release of a client that supports a fork, and where that comes from.</summary>
public sealed record FirstRelease(string Version, string Source, bool Verified);

/// <summary>
/// Client first releases per (network, fork), from the embedded data file Data/fork-releases.json (easy to extend:
/// one entry per network and set of forks, with its source).
/// </summary>
public sealed class ForkReleases
{
    private readonly Dictionary<(string Network, string Fork, string Client), FirstRelease> _byKey = [];

    /// <summary>The releases in the data file compiled into this assembly.</summary>
    public static ForkReleases Builtin { get; } = Load();

    private static ForkReleases Load()
    {
        using Stream s = typeof(ForkReleases).Assembly.GetManifestResourceStream("data/fork-releases.json")
            ?? throw new InvalidOperationException("embedded resource data/fork-releases.json is missing");
        return Parse(s);
    }

    /// <summary>Parses the data file's JSON.</summary>
    public static ForkReleases Parse(Stream json)
    {
        var result = new ForkReleases();
        using var doc = JsonDocument.Parse(json);
        foreach (JsonElement e in doc.RootElement.GetProperty("releases").EnumerateArray())
        {
            string network = e.GetProperty("network").GetString()!;
            string source = e.GetProperty("source").GetString()!;
            bool verified = e.TryGetProperty("verified", out var v) && v.GetBoolean();
            foreach (JsonElement fork in e.GetProperty("forks").EnumerateArray())
                foreach (JsonProperty c in e.GetProperty("clients").EnumerateObject())
                    result._byKey[(network, fork.GetString()!, c.Name)] = new FirstRelease(c.Value.GetString()!, source, verified);
        }
        return result;
    }

    /// <summary>The first release of <paramref name="client"/> for <paramref name="fork"/> on <paramref name="network"/>, when known.</summary>
    public FirstRelease? Find(string network, string fork, string client) => _byKey.GetValueOrDefault((network, fork, client));

    /// <summary>Compares two versions as the agent parser writes them ("v8.0.1", "v1.36.0-rc.1"): numeric parts in order,
    /// a pre-release below its release. Null when either does not parse.</summary>
    public static int? Compare(string? a, string? b)
    {
        if (!TryParts(a, out var pa, out bool preA) || !TryParts(b, out var pb, out bool preB)) return null;
        for (int i = 0; i < Math.Max(pa.Count, pb.Count); i++)
        {
            long x = i < pa.Count ? pa[i] : 0, y = i < pb.Count ? pb[i] : 0;
            if (x != y) return x.CompareTo(y);
        }
        return preA == preB ? 0 : preA ? -1 : 1;
    }

    private static bool TryParts(string? version, out List<long> parts, out bool preRelease)
    {
        parts = [];
        preRelease = false;
        if (string.IsNullOrEmpty(version)) return false;
        string v = version.StartsWith('v') || version.StartsWith('V') ? version[1..] : version;
        int dash = v.IndexOfAny(['-', '+']);
        if (dash >= 0)
        {
            preRelease = v[dash] == '-';
            v = v[..dash];
        }
        foreach (string p in v.Split('.'))
        {
            if (!long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out long n)) return false;
            parts.Add(n);
        }
        return parts.Count > 0;
    }
}

/// <summary>The fork readiness of one crawl's nodes of one network (GET /api/v1/networks/{network}/readiness).</summary>
public sealed record ReadinessReport
{
    public required string Network { get; init; }
    public required long CrawlId { get; init; }
    public required DateTimeOffset CrawlStartedAt { get; init; }
    public required ulong CurrentEpoch { get; init; }
    public required ReadinessFork Fork { get; init; }
    /// <summary>Consensus-layer nodes of the network seen in the crawl (ENR fork digest of this network).</summary>
    public required long Nodes { get; init; }
    /// <summary>Of those, nodes whose ENR announces the fork (see <see cref="ForkReadiness.Definition"/>).</summary>
    public required long Announcing { get; init; }
    public required double AnnouncingShare { get; init; }
    /// <summary>Nodes whose client has a known first release for the fork.</summary>
    public required long WithKnownRelease { get; init; }
    /// <summary>Of those, nodes running that release or a later one.</summary>
    public required long AtOrAboveRelease { get; init; }
    public required double ReleaseShare { get; init; }
    public required string Definition { get; init; }
    public required IReadOnlyList<ClientReadiness> Clients { get; init; }
}

/// <summary>The fork readiness is measured against.</summary>
public sealed record ReadinessFork(string Name, string Kind, ulong Epoch, string Version, string? Digest, DateTimeOffset ActivatesAt, bool Active);

/// <summary>Readiness of one client's nodes (client null: nodes not identified, e.g. not dialled).</summary>
public sealed record ClientReadiness
{
    public string? Client { get; init; }
    public required long Nodes { get; init; }
    public required long Announcing { get; init; }
    public required double AnnouncingShare { get; init; }
    public FirstRelease? FirstRelease { get; init; }
    /// <summary>Nodes at or above the first release; null when no first release is known for this client.</summary>
    public long? AtOrAboveRelease { get; init; }
    public double? ReleaseShare { get; init; }
    public required IReadOnlyList<VersionReadiness> Versions { get; init; }
}

/// <summary>Readiness of one client version's nodes.</summary>
public sealed record VersionReadiness(string? Version, long Nodes, long Announcing, bool? AtOrAboveRelease);

/// <summary>Computes fork readiness from the ENR fork fields of a crawl's nodes.</summary>
public static class ForkReadiness
{
    public const string Definition =
        "A node announces a fork when its ENR's eth2 field already carries the fork's digest (or a later fork's), or its " +
        "next_fork_version and next_fork_epoch are the fork's, or (Fulu and later, BPO forks) its nfd field is the fork's " +
        "digest (phase0 and fulu p2p-interface.md, 'eth2 field' and 'nfd'). The fork is the next one scheduled after the " +
        "network's current epoch; when none is scheduled, the latest active one. Shares are of the network's consensus-layer " +
        "nodes seen in the crawl. 'at or above release': the node's client version (from identify) is the client's first " +
        "release for that fork or later, per Data/fork-releases.json.";

    /// <summary>The fork readiness is measured against: <paramref name="forkName"/> if given, else the next fork scheduled
    /// after <paramref name="now"/>, else the latest active one. Null when the name is unknown.</summary>
    public static Fork? Target(Eth2Network network, DateTimeOffset now, string? forkName)
    {
        var scheduled = network.Forks.Where(f => f.IsScheduled && !f.NeverActive && f.Digest is not null).OrderBy(f => f.Epoch).ToList();
        if (forkName is not null) return network.Forks.FirstOrDefault(f => f.Name.Equals(forkName, StringComparison.OrdinalIgnoreCase) && f.IsScheduled);
        ulong epoch = now.ToUnixTimeSeconds() < (long)network.GenesisTime ? 0 : network.GetEpoch(now);
        return scheduled.FirstOrDefault(f => f.Epoch > epoch) ?? scheduled.LastOrDefault();
    }

    public static ReadinessReport Compute(Eth2Network network, Fork fork, DateTimeOffset now, CrawlInfo crawl, IReadOnlyList<ForkFieldsRow> rows, ForkReleases releases)
    {
        ulong currentEpoch = now.ToUnixTimeSeconds() < (long)network.GenesisTime ? 0 : network.GetEpoch(now);
        var laterDigests = network.Forks.Where(f => f.IsScheduled && f.Epoch >= fork.Epoch && f.Digest is not null)
            .Select(f => f.Digest!.Value.ToString()).ToHashSet(StringComparer.Ordinal);
        string version = fork.Version.ToString();
        string? digest = fork.Digest?.ToString();
        bool Announces(ForkFieldsRow r) =>
            (r.ForkDigest is not null && laterDigests.Contains(r.ForkDigest))
            || (digest is not null && r.Nfd == digest)
            || (r.NextForkEpoch == fork.Epoch && (fork.Kind == ForkKind.BlobParametersOnly || r.NextForkVersion == version));

        var clients = new List<ClientReadiness>();
        foreach (var byClient in rows.GroupBy(r => r.Client))
        {
            FirstRelease? first = byClient.Key is null ? null : releases.Find(network.Name, fork.Name, byClient.Key);
            var versions = byClient.GroupBy(r => r.Version).Select(g =>
            {
                bool? above = first is null ? null : ForkReleases.Compare(g.Key, first.Version) is { } c ? c >= 0 : false;
                return new VersionReadiness(g.Key, g.Sum(r => r.Count), g.Where(Announces).Sum(r => r.Count), above);
            }).OrderByDescending(v => v.Nodes).ThenBy(v => v.Version, StringComparer.Ordinal).ToList();
            long nodes = versions.Sum(v => v.Nodes), announcing = versions.Sum(v => v.Announcing);
            long? atOrAbove = first is null ? null : versions.Where(v => v.AtOrAboveRelease == true).Sum(v => v.Nodes);
            clients.Add(new ClientReadiness
            {
                Client = byClient.Key, Nodes = nodes, Announcing = announcing, AnnouncingShare = Share(announcing, nodes),
                FirstRelease = first, AtOrAboveRelease = atOrAbove, ReleaseShare = atOrAbove is { } a ? Share(a, nodes) : null, Versions = versions,
            });
        }
        clients = clients.OrderByDescending(c => c.Nodes).ThenBy(c => c.Client, StringComparer.Ordinal).ToList();
        long total = clients.Sum(c => c.Nodes), announcingAll = clients.Sum(c => c.Announcing);
        long known = clients.Where(c => c.AtOrAboveRelease is not null).Sum(c => c.Nodes), above = clients.Sum(c => c.AtOrAboveRelease ?? 0);
        var activates = DateTimeOffset.FromUnixTimeSeconds((long)(network.GenesisTime + fork.Epoch * network.SlotsPerEpoch * network.SecondsPerSlot));
        return new ReadinessReport
        {
            Network = network.Name, CrawlId = crawl.Id, CrawlStartedAt = crawl.StartedAt, CurrentEpoch = currentEpoch,
            Fork = new ReadinessFork(fork.Name, fork.Kind == ForkKind.BlobParametersOnly ? "bpo" : "fork", fork.Epoch, version, digest, activates, fork.Epoch <= currentEpoch),
            Nodes = total, Announcing = announcingAll, AnnouncingShare = Share(announcingAll, total),
            WithKnownRelease = known, AtOrAboveRelease = above, ReleaseShare = Share(above, known),
            Definition = Definition, Clients = clients,
        };
    }

    private static double Share(long part, long whole) => whole == 0 ? 0 : (double)part / whole;
}
