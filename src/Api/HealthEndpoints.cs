using System.Globalization;
using ClP2p.Api.Readiness;
using ClP2p.Eth2.Networks;
using ClP2p.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ClP2p.Api;

/// <summary>Network clocks (genesis and slot timing) of the built-in networks, for sync health.</summary>
public static class NetworkClocks
{
    /// <summary>The clock of a built-in network by name, or null.</summary>
    public static NetworkClock? Builtin(string name) =>
        NetworkRegistry.Builtin.TryGet(name, out var n) ? Of(n) : null;

    /// <summary>The clock of a network.</summary>
    public static NetworkClock Of(Eth2Network n) => new(n.Name, (long)n.GenesisTime, (long)n.SecondsPerSlot, (long)n.SlotsPerEpoch);
}

/// <summary>Fork readiness, churn between crawls and uptime: the "is it ready, is it healthy" endpoints under /api/v1.</summary>
internal static class HealthEndpoints
{
    /// <summary>The uptime windows GET /api/v1/uptime reports.</summary>
    public static readonly (string Name, TimeSpan Span)[] UptimeWindows = [("24h", TimeSpan.FromHours(24)), ("7d", TimeSpan.FromDays(7))];

    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/networks/{network}/readiness", async (CensusService census, TimeProvider clock, string network, string? crawl, string? fork, CancellationToken ct) =>
        {
            if (!NetworkRegistry.Builtin.TryGet(network, out var net))
            {
                // a custom network: its schedule from the newest crawl of it that stored its config (--config-yaml)
                var stored = await census.GetNetworkParametersAsync(network, ct: ct).ConfigureAwait(false);
                net = stored.Select(CrawledNetworks.FromCrawlParameters).FirstOrDefault(n => n is not null)!;
                if (net is null)
                    return ApiEndpoints.NotFound($"no network '{network}' (known: {string.Join(", ", NetworkRegistry.BuiltinNames)}, and custom networks crawled with --config-yaml)");
            }
            if (!ApiEndpoints.TryCrawl(crawl, out long? crawlId)) return ApiEndpoints.Bad("crawl", "a crawl id or 'latest'");
            var now = clock.GetUtcNow();
            if (ForkReadiness.Target(net, now, fork) is not { } target)
                return ApiEndpoints.Bad("fork", "a scheduled fork of " + net.Name + ": " + string.Join(", ", net.Forks.Where(f => f.IsScheduled).Select(f => f.Name)));
            return await ApiEndpoints.Timed(clock, ct, t => census.GetForkFieldsAsync(crawlId, net.Name, t),
                r => r is not { } found ? ApiEndpoints.NotFound(crawlId is null ? "no crawl yet" : $"no crawl {crawlId}")
                    : Results.Ok(ForkReadiness.Compute(net, target, now, found.Crawl, found.Rows, ForkReleases.Builtin))).ConfigureAwait(false);
        }).WithName("getReadiness").Produces<ReadinessReport>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status504GatewayTimeout)
          .WithSummary("Readiness for the network's next fork or BPO (or ?fork=NAME): share of its consensus nodes whose ENR announces it, and share running at least each client's first release for it, by client and version");

        api.MapGet("/churn", async (CensusService census, TimeProvider clock, string? from, string? to, string? network, string? limit, CancellationToken ct) =>
        {
            if (!ApiEndpoints.TryCrawl(from, out long? fromId)) return ApiEndpoints.Bad("from", "a crawl id");
            if (!ApiEndpoints.TryCrawl(to, out long? toId)) return ApiEndpoints.Bad("to", "a crawl id or 'latest'");
            int l = 100;
            if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out l) || l > CensusService.MaxChurnList))
                return ApiEndpoints.Bad("limit", $"a number from 0 to {CensusService.MaxChurnList}");
            return await ApiEndpoints.Timed(clock, ct, t => census.GetChurnAsync(fromId, toId, network, l, t),
                r => r is null ? ApiEndpoints.NotFound("no such crawl, or no crawl before it") : Results.Ok(r)).ConfigureAwait(false);
        }).WithName("getChurn").Produces<ChurnResult>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status504GatewayTimeout)
          .WithSummary("Nodes that appeared, vanished, changed client version or fork digest between two crawls (default: the latest and the one before it)");

        api.MapGet("/uptime", async (CensusService census, TimeProvider clock, string? network, CancellationToken ct) =>
        {
            var now = clock.GetUtcNow();
            return await ApiEndpoints.Timed(clock, ct, async t =>
            {
                var windows = new List<UptimeCensusWindow>();
                foreach ((string name, TimeSpan span) in UptimeWindows)
                {
                    var w = await census.GetUpCensusAsync(span, now, network, t).ConfigureAwait(false);
                    windows.Add(new UptimeCensusWindow(name, w.Since, w.Until, w.Up, w.Groups));
                }
                return windows;
            }, w => Results.Ok(new UptimeCensus(network, w))).ConfigureAwait(false);
        }).WithName("getUptime").Produces<UptimeCensus>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status504GatewayTimeout)
          .WithSummary("Nodes up in the last 24 h and 7 d (a successful dial in a crawl or a liveness re-dial), by client");

        api.MapGet("/nodes/{id}/uptime", async (CensusService census, TimeProvider clock, string id, CancellationToken ct) =>
        {
            if (id.Length != 64 || !ApiEndpoints.IsHex(id)) return ApiEndpoints.Bad("id", "a node id of 64 hex digits");
            return await ApiEndpoints.Timed(clock, ct, t => census.GetNodeUptimeAsync(Convert.FromHexString(id), t),
                r => r is null ? ApiEndpoints.NotFound($"no node {id.ToLowerInvariant()}") : Results.Ok(r)).ConfigureAwait(false);
        }).WithName("getNodeUptime").Produces<NodeUptime>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status504GatewayTimeout)
          .WithSummary("A node's uptime sessions (runs of successful dials in crawls and liveness re-dials)");
    }
}

/// <summary>Nodes up in the recent windows (GET /api/v1/uptime).</summary>
/// <param name="Network">The network filter given, or null for all.</param>
/// <param name="Windows">One entry per window (24h, 7d).</param>
public sealed record UptimeCensus(string? Network, IReadOnlyList<UptimeCensusWindow> Windows);

/// <summary>Nodes up (a successful dial in a crawl or a liveness re-dial) in one window, by client.</summary>
/// <param name="Window">The window's name: 24h or 7d.</param>
/// <param name="Since">Start of the window.</param>
/// <param name="Until">End of the window (now).</param>
/// <param name="Up">Nodes with a successful dial in the window.</param>
/// <param name="Groups">Those nodes by client.</param>
public sealed record UptimeCensusWindow(string Window, DateTimeOffset Since, DateTimeOffset Until, long Up, IReadOnlyList<CensusGroup> Groups);
