using ClP2p.Crawler.Config;
using ClP2p.Discovery;
using ClP2p.Eth2.Networks;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Eth2Crawl;

/// <summary>The network a crawl targets: its name, its definition when known, the registry that names digests, and
/// the bootnodes to start from.</summary>
public sealed record NetworkSelection(string Name, Eth2Network? Network, NetworkRegistry Registry, IReadOnlyList<Enr> Bootnodes)
{
    public const string Custom = "custom";

    /// <summary>Resolves --network, --bootnode, --config-yaml and --genesis-validators-root. Throws
    /// <see cref="ArgumentException"/> with a message for the user when they do not fit together.</summary>
    public static NetworkSelection Resolve(CrawlerSettings settings, ILogger log)
    {
        string name = settings.Network.Trim().ToLowerInvariant();
        var registry = NetworkRegistry.Builtin;
        Eth2Network? network = null;
        if (name == Custom)
        {
            if (settings.ConfigYaml is not null)
            {
                if (!File.Exists(settings.ConfigYaml)) throw new ArgumentException($"--config-yaml {settings.ConfigYaml}: file not found");
                if (!Root.TryParse(settings.GenesisValidatorsRoot, out var gvr))
                    throw new ArgumentException("--network custom with --config-yaml needs --genesis-validators-root (32 bytes hex)");
                if (!ConsensusConfig.TryParse(File.ReadAllText(settings.ConfigYaml), out var config, out var error))
                    throw new ArgumentException($"--config-yaml {settings.ConfigYaml}: {error}");
                network = config.ToNetwork(gvr, bootnodes: settings.Bootnodes, name: config.Get("CONFIG_NAME") ?? Custom);
                registry = registry.With(network);
            }
            if (settings.Bootnodes.Count == 0) throw new ArgumentException("--network custom needs at least one --bootnode ENR");
        }
        else if (!registry.TryGet(name, out network))
        {
            throw new ArgumentException($"unknown network '{settings.Network}': use {string.Join(", ", NetworkRegistry.BuiltinNames.Where(n => !NetworkRegistry.RetiredNetworks.ContainsKey(n)))} or custom (retired: {string.Join(", ", NetworkRegistry.RetiredNetworks.Keys)})");
        }

        if (network?.Retired is { } why)
            log.LogWarning("network {Network} is retired ({Why}): kept to name old crawls; a crawl of it finds only nodes left behind", name, why);
        IEnumerable<string> texts = settings.Bootnodes.Count > 0 ? settings.Bootnodes : network!.Bootnodes;
        var boot = new List<Enr>();
        foreach (string text in texts)
        {
            if (Enr.TryParse(text.Trim(), out var enr, out var err)) boot.Add(enr!);
            else if (settings.Bootnodes.Count > 0) throw new ArgumentException($"--bootnode '{Shorten(text)}' is not a valid ENR: {err}");
            else log.LogWarning("skipping built-in bootnode of {Network} that does not parse: {Error}", name, err);
        }
        if (boot.Count == 0) throw new ArgumentException($"no usable bootnode for network {name}");
        return new NetworkSelection(name, network, registry, boot);
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
