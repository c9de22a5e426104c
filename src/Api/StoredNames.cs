using ClP2p.Eth2.Agents;
using ClP2p.Eth2.Networks;
using ClP2p.Storage;

namespace ClP2p.Api;

/// <summary>
/// Keeps the names the database shows in line with this build's knowledge: digest names from the network registry
/// (stored rows are named at query time through table fork_digests) and agent strings parsed again. Run after
/// migrating, by every process that opens the database for writing or serving (crawler and standalone API).
/// </summary>
public static class StoredNames
{
    /// <summary>Every digest <paramref name="registry"/> names, as rows of table fork_digests.</summary>
    public static IReadOnlyList<DigestNameRow> DigestRows(NetworkRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return registry.DigestNames.Select(d => new DigestNameRow(d.Digest.ToString(), d.Name.Network, d.Name.Fork, d.Name.KindName)).ToArray();
    }

    /// <summary>The stored parts of an agent string, from <see cref="AgentParser"/>.</summary>
    public static AgentParts ParseAgent(string raw)
    {
        AgentInfo a = AgentParser.Parse(raw);
        return new AgentParts(a.Client, a.Version, a.Os, a.Arch, a.ClientInferred);
    }

    /// <summary>Rewrites the digest names from <paramref name="registry"/> and parses the stored agent strings again.</summary>
    /// <returns>Digests added or renamed, agent rows updated.</returns>
    public static async Task<(int Digests, int Agents)> RefreshAsync(StorageOptions storage, NetworkRegistry registry, CancellationToken ct = default)
    {
        int digests = await StoredDataRepair.SyncDigestNamesAsync(storage, DigestRows(registry), ct: ct).ConfigureAwait(false);
        int agents = await StoredDataRepair.ReparseAgentsAsync(storage, ParseAgent, ct).ConfigureAwait(false);
        return (digests, agents);
    }
}
