using System.Text.Json;
using ClP2p.Eth2.Networks;

namespace ClP2p.Api.Readiness;

/// <summary>
/// A custom network (`clp2p crawl --network custom --config-yaml FILE`) as its crawls stored it in their parameters:
/// network_name, genesis_time, genesis_validators_root and the config's text, from which the fork schedule and its
/// digests are rebuilt the way the crawler built them (consensus config.yaml, fork versions and epochs, BLOB_SCHEDULE).
/// </summary>
public static class CrawledNetworks
{
    /// <summary>The network a crawl's parameters JSON describes, or null when it holds no config (built-in networks,
    /// crawls made before the config was stored) or the config does not parse.</summary>
    public static Eth2Network? FromCrawlParameters(string? parametersJson)
    {
        if (string.IsNullOrEmpty(parametersJson)) return null;
        try
        {
            using var doc = JsonDocument.Parse(parametersJson);
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object
                || !r.TryGetProperty("network_name", out var name) || name.ValueKind != JsonValueKind.String
                || !r.TryGetProperty("config_yaml", out var yaml) || yaml.ValueKind != JsonValueKind.String
                || !r.TryGetProperty("genesis_validators_root", out var gvr) || !Root.TryParse(gvr.GetString(), out var root)
                || !ConsensusConfig.TryParse(yaml.GetString()!, out var config, out _))
                return null;
            ulong? genesis = r.TryGetProperty("genesis_time", out var g) && g.TryGetUInt64(out ulong t) ? t : null;
            return config.ToNetwork(root, genesis, name: name.GetString());
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            return null;   // parameters written by hand or by an older crawler
        }
    }
}
