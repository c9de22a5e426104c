using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ClP2p.Api.Export;
using ClP2p.Eth2.Networks;
using ClP2p.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Scalar.AspNetCore;

namespace ClP2p.Api;

/// <summary>
/// The census API under /api/v1 (read-only JSON over Storage's <see cref="CensusService"/>), its OpenAPI document at
/// /openapi/v1.json and an interactive reference at /scalar. Hosted standalone by Program.cs and inside `clp2p run`.
/// Definitions: a node is "seen" in a crawl when discovery found its ENR (one visit per node per crawl); "dialled"
/// when its ENR has an eth2 field and a TCP port and its address was allowed; "ok" when the libp2p upgrade, identify
/// and Status succeeded; a group's share is its count divided by the crawl's visits matching the network filter.
/// </summary>
public static class ApiEndpoints
{
    /// <summary>The words the census uses, published as the OpenAPI document's description (and in docs/api.md).</summary>
    public const string Definitions =
        "Read-only census of the Ethereum consensus-layer network from ClP2p's crawls. Definitions: " +
        "**seen**: discovery found the node's ENR during the crawl; every node seen has exactly one visit in that crawl, " +
        "and census totals count visits. " +
        "**consensus-layer node**: its ENR has an `eth2` field; only those are dialled. " +
        "**dialled**: a consensus-layer node with a TCP port whose address the crawl's policy allowed (public only by default). " +
        "**ok** (`dial_outcome` = ok): the libp2p upgrade (Noise + yamux/mplex), identify and the eth2 Status exchange " +
        "succeeded; otherwise `dial_outcome` is the error class, or `not_dialled`. " +
        "**share**: a group's count divided by the census total, i.e. the crawl's visits that match the `network` filter " +
        "(not only the dialled ones); groups with no value (e.g. `client` of nodes not dialled) have an empty key. " +
        "**fork / network**: named at query time from the ENR `eth2` fork digest against every known network's fork " +
        "schedule (BPO digests, and unscheduled forks with the digest they will have, so names hold on fork day) — the " +
        "node's current fork is the one whose digest its ENR advertises, not one derived from the wall clock; unknown " +
        "digests keep their hex and no name. A node is counted on the network its Status digest names when it answered " +
        "Status, else on its ENR's (`network` filter and dimension). **digest_mismatch**: the node's Status digest " +
        "differed from its ENR's. **next_fork**: the ENR's next_fork_version/next_fork_epoch " +
        "(readiness for an upcoming fork). **latest crawl**: the newest succeeded crawl (else the newest of any state). " +
        "**discovery**: `answered` (the node answered FINDNODE and was fully enumerated), `incomplete` (it answered but was " +
        "not fully enumerated: a distance stayed unanswered, or the crawl ended first; the crawl summary's " +
        "`discovery_incomplete`, 0 in a healthy crawl), `silent`. " +
        "**reachability**: `dialable` (our dial succeeded), `discovery_only` (answered discovery, no dial succeeded), " +
        "`inbound_only` (neither, but it contacted our listening node in the 24 h before the crawl ended: behind NAT or a " +
        "firewall; such a node is added to the crawl from its contact), `unreachable` (none of these); `seen_inbound`: it " +
        "contacted us in those 24 h. **ip_family**: `dual_stack`, `ipv4_only`, `ipv6_only` by the address families the node " +
        "answered on (discovery, or a dial that connected); `ip_family_by_client` keys it `client/family`. " +
        "Every query has a 10 s deadline (504 after it); bad parameters answer 400 problem+json naming the parameter.";

    /// <summary>What the merged census counts and how its estimate is made (the endpoint's OpenAPI description; docs/api.md).</summary>
    public const string MergedDefinitions =
        "A **vantage** is a place a crawler runs from (`--vantage NAME`, or the vantage an imported export names). A node is " +
        "**seen by a vantage** when any crawl of that vantage started in [from, to) has a visit of it (whatever the crawl's state); " +
        "`observed` counts each node once however many crawls and vantages saw it. Per vantage: `seen`, `only` (no other vantage " +
        "saw it), `share_of_observed` = seen / observed, `estimated_coverage` = seen / estimate. `overlaps`: nodes seen by both of " +
        "two vantages and their Jaccard index; `histories`: nodes seen by exactly that set of vantages. `estimate`: capture-recapture " +
        "estimate of all nodes, seen or not: Chapman's estimator (Seber's variance) for two vantages, the Poisson log-linear model " +
        "of independent vantages for three or more; the 95 % interval is Chao's log-normal interval (never below `observed`). " +
        "It assumes a closed population over the window, vantages that see nodes independently of each other, and nodes equally " +
        "likely to be seen; vantages sharing bootnodes and nodes few peers know both make it too low. `valid` is false (with a " +
        "`note`) when the vantages do not overlap; with one vantage there is no estimate (null).";

    /// <summary>Deadline of one API query.</summary>
    public static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(10);

    public static IServiceCollection AddClP2pApi(this IServiceCollection services, StorageOptions storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        services.AddSingleton(storage);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(new CensusService(storage, NetworkClocks.Builtin));
        services.AddProblemDetails();
        services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "ClP2p census API";
                document.Info.Description = Definitions;
                return Task.CompletedTask;
            });
            o.AddOperationTransformer(OpenApiParameters.Describe);
            o.AddSchemaTransformer(OpenApiParameters.DescribeEnums);
        });
        services.Configure<JsonOptions>(o => ConfigureJson(o.SerializerOptions));
        return services;
    }

    /// <summary>The API's JSON: snake_case names and enum values, numbers as numbers.</summary>
    public static void ConfigureJson(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        options.NumberHandling = JsonNumberHandling.Strict;
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    }

    /// <summary>Serializer options that write what the API answers (for `clp2p census --json`).</summary>
    public static JsonSerializerOptions Json { get; } = CreateJsonOptions();

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true };
        ConfigureJson(o);
        return o;
    }

    public static WebApplication MapClP2pApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(ServerTimingAsync);
        app.MapOpenApi();
        app.MapScalarApiReference();
        app.MapGet("/healthz", () => Results.Text("ok")).WithName("health").Produces<string>(StatusCodes.Status200OK, "text/plain").WithSummary("Liveness: answers ok");
        var api = app.MapGroup("/api/v1");

        api.MapGet("/networks", () => Results.Ok(NetworkRegistry.Builtin.Networks.Select(n => new NetworkInfo(
            n.Name, n.GenesisTimeUtc, n.GenesisValidatorsRoot.ToString(), n.SecondsPerSlot, n.Retired, n.Verified, n.Sources,
            [.. n.Forks.Select(f => new ForkInfo(f.Name, f.Version.ToString(), f.Epoch, f.IsScheduled, f.Digest?.ToString(),
                f.Kind.ToString().ToLowerInvariant(), f.Verified))]))))
            .WithName("listNetworks").Produces<List<NetworkInfo>>()
            .WithSummary("Networks known to the crawler: every fork and BPO period with its fork digest (an unscheduled fork with the digest it will have), the schedule's sources, whether it is verified, and whether the network is retired");

        api.MapGet("/crawls", async (CensusService census, TimeProvider clock, string? offset, string? limit, string? network, CancellationToken ct) =>
        {
            if (!TryPage(offset, limit, out int o, out int l, out var bad)) return bad!;
            return await Timed(clock, ct, t => census.ListCrawlsAsync(o, l, network, t), Results.Ok).ConfigureAwait(false);
        }).WithName("listCrawls").Produces<Page<CrawlInfo>>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status504GatewayTimeout)
          .WithSummary("Crawls, newest first, paged (limit at most 1000)");

        api.MapGet("/crawls/{id}", async (CensusService census, TimeProvider clock, string id, string? network, CancellationToken ct) =>
            await Timed(clock, ct, t => FindCrawlAsync(census, id, network, t), r => r.Crawl is null ? r.Error! : Results.Ok(r.Crawl)).ConfigureAwait(false))
            .WithName("getCrawl").Produces<CrawlInfo>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status504GatewayTimeout)
            .WithSummary("One crawl (an id or 'latest') with its counts and summary");

        api.MapGet("/census", async (CensusService census, TimeProvider clock, string? dimension, string? crawl, string? network, CancellationToken ct) =>
        {
            if (!CensusDimensions.TryParse(dimension ?? "client", out var dim)) return BadDimension(dimension);
            if (!TryCrawl(crawl, out long? crawlId)) return Bad("crawl", "a crawl id or 'latest'");
            return await Timed(clock, ct, t => census.GetCensusAsync(dim, crawlId, network, t),
                r => r is null ? NotFound(crawlId is null ? "no crawl yet" : $"no crawl {crawlId}") : Results.Ok(r)).ConfigureAwait(false);
        }).WithName("getCensus").Produces<CensusResult>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status504GatewayTimeout)
          .WithSummary("Census of one crawl (latest by default): nodes seen grouped by a dimension, with counts and shares");

        api.MapGet("/census/set", async (CensusService census, TimeProvider clock, string? dimensions, string? crawl, string? network, CancellationToken ct) =>
        {
            var dims = new List<CensusDimension>();
            foreach (string name in (dimensions ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!CensusDimensions.TryParse(name, out var d)) return BadDimension(name, "dimensions");
                dims.Add(d);
            }
            if (dims.Count == 0) return Bad("dimensions", "a comma-separated list of dimensions");
            if (!TryCrawl(crawl, out long? crawlId)) return Bad("crawl", "a crawl id or 'latest'");
            return await Timed(clock, ct, t => census.GetCensusesAsync(dims, crawlId, network, t),
                r => r is null ? NotFound(crawlId is null ? "no crawl yet" : $"no crawl {crawlId}") : Results.Ok(r)).ConfigureAwait(false);
        }).WithName("getCensusSet").Produces<CensusSet>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status504GatewayTimeout)
          .WithSummary("Several censuses of one crawl in one answer (dimensions=client,os,...): each the same as /census answers for that dimension");

        api.MapGet("/census/timeseries", async (CensusService census, TimeProvider clock, string? dimension, string? from, string? to, string? network, CancellationToken ct) =>
        {
            var now = clock.GetUtcNow();
            if (!CensusDimensions.TryParse(dimension ?? "client", out var dim)) return BadDimension(dimension);
            if (!TryTime(from, now.AddDays(-30), out var f)) return Bad("from", "an ISO 8601 time");
            if (!TryTime(to, now.AddMinutes(1), out var tt)) return Bad("to", "an ISO 8601 time");
            if (CensusDimensions.IsComputed(dim)) return Bad("dimension", "a stored dimension (sync_health and finalized_lag are per crawl only)");
            if (tt < f) return Bad("to", "a time after 'from'");
            return await Timed(clock, ct, t => census.GetTimeSeriesAsync(dim, f, tt, network, null, t), Results.Ok).ConfigureAwait(false);
        }).WithName("getCensusTimeSeries").Produces<CensusSeries>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status504GatewayTimeout)
          .WithSummary("The same groupings for every crawl that started in [from, to] (default: the last 30 days)");

        api.MapGet("/census/merged", async (CensusService census, TimeProvider clock, string? from, string? to, string? network, string? crawl_network, CancellationToken ct) =>
        {
            var now = clock.GetUtcNow();
            if (!TryTime(from, now.AddDays(-1), out var f)) return Bad("from", "an ISO 8601 time");
            if (!TryTime(to, now.AddMinutes(1), out var tt)) return Bad("to", "an ISO 8601 time");
            if (tt <= f) return Bad("to", "a time after 'from'");
            return await Timed(clock, ct, t => census.GetMergedCensusAsync(f, tt, network, crawl_network, t), Results.Ok).ConfigureAwait(false);
        }).WithName("getMergedCensus").Produces<MergedCensus>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status504GatewayTimeout)
          .WithSummary("Every vantage point's crawls started in [from, to) (default: the last 24 h) merged: each node once, per-vantage coverage, overlaps, capture histories and a population estimate")
          .WithDescription(MergedDefinitions);

        api.MapGet("/nodes", async (CensusService census, TimeProvider clock, string? crawl, string? network, string? client, string? version, string? fork, string? country, string? outcome,
            string? q, string? offset, string? limit, string? digest_mismatch, CancellationToken ct) =>
        {
            if (!TryPage(offset, limit, out int o, out int l, out var bad)) return bad!;
            if (!TryCrawl(crawl, out long? crawlId)) return Bad("crawl", "a crawl id or 'latest'");
            if (!TryNodeFilter(network, client, version, fork, country, outcome, q, digest_mismatch, out var filter, out var badFilter)) return badFilter!;
            filter = filter with { CrawlId = crawlId };
            return await Timed(clock, ct, t => census.ListNodesAsync(filter, o, l, t),
                r => r is null ? NotFound("no such crawl") : Results.Ok(r)).ConfigureAwait(false);
        }).WithName("listNodes").Produces<Page<NodeSummary>>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status504GatewayTimeout)
          .WithSummary("Nodes seen in a crawl (latest by default), filtered by network (the one its Status names, else its ENR's), client, version, fork (digest or name), country, dial outcome, digest mismatch, search q (node id, IP, peer id or agent text); paged");

        api.MapGet("/nodes/{id}", async (CensusService census, TimeProvider clock, string id, CancellationToken ct) =>
        {
            if (id.Length != 64 || !IsHex(id)) return Bad("id", "a node id of 64 hex digits");
            byte[] nodeId = Convert.FromHexString(id);
            return await Timed(clock, ct, t => census.GetNodeHistoryAsync(nodeId, 100, t),
                r => r is null ? NotFound($"no node {id.ToLowerInvariant()}") : Results.Ok(r)).ConfigureAwait(false);
        }).WithName("getNode").Produces<NodeHistory>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status504GatewayTimeout)
          .WithSummary("One node's history: ENR seqs, visits with status and metadata, agent versions");

        api.MapGet("/crawls/{id}/export", async (CensusService census, string id, string? format, string? network, string? client, string? version, string? fork,
            string? country, string? outcome, string? q, string? digest_mismatch, CancellationToken ct) =>
        {
            if (!ExportFormats.TryParse(format ?? "csv", out var fmt)) return Bad("format", "csv, ndjson or parquet");
            if (!TryNodeFilter(network, client, version, fork, country, outcome, q, digest_mismatch, out var filter, out var badFilter)) return badFilter!;
            // 'latest' is the latest crawl as for /nodes; network filters the nodes (the dashboard's selection), like /nodes.
            var found = await FindCrawlAsync(census, id, null, ct).ConfigureAwait(false);
            if (found.Crawl is null) return found.Error!;
            long crawlId = found.Crawl.Id;
            return Results.Stream(stream => Exporter.WriteAsync(census.ExportAsync(crawlId, filter, ct), fmt, stream, ct),
                ExportFormats.ContentType(fmt), $"clp2p-crawl-{crawlId}.{ExportFormats.Extension(fmt)}");
        }).WithName("exportCrawl")
          .Produces(StatusCodes.Status200OK, typeof(string), "text/csv", "application/x-ndjson")
          .Produces(StatusCodes.Status200OK, typeof(byte[]), "application/vnd.apache.parquet")
          .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
          .WithSummary("One row per node seen in the crawl, streamed as csv, ndjson or parquet (columns in docs/data-dictionary.md); the same filters as /nodes select the rows");
        HealthEndpoints.Map(api);
        Dashboard.Map(app);
        return app;
    }

    /// <summary>
    /// Adds <c>Server-Timing: app;dur=MS</c> to every /api/ answer: the time from the request reaching the API to its
    /// headers (query and handler, not the network or the client's queue), which a browser's resource timing exposes.
    /// </summary>
    private static Task ServerTimingAsync(HttpContext http, Func<Task> next)
    {
        if (!http.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal)) return next();
        var clock = http.RequestServices.GetRequiredService<TimeProvider>();
        long started = clock.GetTimestamp();
        http.Response.OnStarting(() =>
        {
            double ms = clock.GetElapsedTime(started).TotalMilliseconds;
            http.Response.Headers["Server-Timing"] = string.Create(CultureInfo.InvariantCulture, $"app;dur={ms:0.0}");
            return Task.CompletedTask;
        });
        return next();
    }

    private static async Task<(CrawlInfo? Crawl, IResult? Error)> FindCrawlAsync(CensusService census, string id, string? network, CancellationToken ct)
    {
        if (id.Equals("latest", StringComparison.OrdinalIgnoreCase))
        {
            var latest = await census.GetLatestCrawlAsync(network, ct).ConfigureAwait(false);
            return latest is null ? (null, NotFound("no crawl yet")) : (latest, null);
        }
        if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out long crawlId)) return (null, Bad("id", "a crawl id or 'latest'"));
        var crawl = await census.GetCrawlAsync(crawlId, ct).ConfigureAwait(false);
        return crawl is null ? (null, NotFound($"no crawl {crawlId}")) : (crawl, null);
    }

    /// <summary>The node filters /nodes and the export take (crawl left unset).</summary>
    private static bool TryNodeFilter(string? network, string? client, string? version, string? fork, string? country, string? outcome, string? q,
        string? digestMismatch, out NodeFilter filter, out IResult? bad)
    {
        filter = new NodeFilter();
        bad = null;
        bool? mismatch = digestMismatch switch
        {
            null => null,
            "true" => true,
            "false" => false,
            _ => (bool?)null,
        };
        if (digestMismatch is not null && mismatch is null)
        {
            bad = Bad("digest_mismatch", "true or false");
            return false;
        }
        filter = new NodeFilter
        {
            Network = network, Client = client, ClientVersion = version, Fork = fork, Country = country, DialOutcome = outcome,
            Search = string.IsNullOrWhiteSpace(q) ? null : q.Trim(), DigestMismatch = mismatch,
        };
        return true;
    }

    /// <summary>Runs a query under <see cref="QueryTimeout"/> on the API's clock; a query that takes longer answers 504.</summary>
    internal static async Task<IResult> Timed<T>(TimeProvider clock, CancellationToken request, Func<CancellationToken, Task<T>> query, Func<T, IResult> answer)
    {
        using var deadline = new CancellationTokenSource(QueryTimeout, clock);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(request, deadline.Token);
        try
        {
            return answer(await query(cts.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!request.IsCancellationRequested)
        {
            return Results.Problem(statusCode: StatusCodes.Status504GatewayTimeout, title: "query timeout", detail: $"the query took longer than {QueryTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>A crawl parameter: null or 'latest' (null id: the latest crawl) or a crawl id.</summary>
    public static bool TryCrawl(string? text, out long? crawlId)
    {
        crawlId = null;
        if (text is null || text.Equals("latest", StringComparison.OrdinalIgnoreCase)) return true;
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long c)) return false;
        crawlId = c;
        return true;
    }

    internal static bool TryPage(string? offset, string? limit, out int o, out int l, out IResult? bad)
    {
        o = 0;
        l = 50;
        bad = null;
        if (offset is not null && (!int.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out o) || o < 0)) { bad = Bad("offset", "a number >= 0"); return false; }
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out l) || l < 1 || l > CensusService.MaxPageSize))
        {
            bad = Bad("limit", $"a number from 1 to {CensusService.MaxPageSize}");
            return false;
        }
        return true;
    }

    internal static bool TryTime(string? text, DateTimeOffset fallback, out DateTimeOffset value)
    {
        if (text is null) { value = fallback; return true; }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);
    }

    internal static bool IsHex(string s) => s.All(Uri.IsHexDigit);

    internal static IResult BadDimension(string? value, string parameter = "dimension") =>
        Bad(parameter, "one of " + string.Join(", ", CensusDimensions.All.Select(CensusDimensions.Name)) + (value is null ? "" : $" (not '{value}')"));

    internal static IResult Bad(string parameter, string expected) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [parameter] = [$"{parameter} must be {expected}"] },
            title: $"invalid parameter '{parameter}'");

    internal static IResult NotFound(string detail) => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "not found", detail: detail);
}

/// <summary>A network known to the crawler (GET /api/v1/networks).</summary>
/// <param name="Name">Network name (mainnet, sepolia, ...).</param>
/// <param name="GenesisTime">Genesis time (UTC).</param>
/// <param name="GenesisValidatorsRoot">Genesis validators root, 0x-prefixed hex.</param>
/// <param name="SecondsPerSlot">Slot length in seconds.</param>
/// <param name="Retired">Why and when the network was retired (kept for old data); null for a live network.</param>
/// <param name="Verified">Whether every fork epoch of the schedule is confirmed by at least two sources.</param>
/// <param name="Sources">Where the schedule comes from (source name to URL or reference).</param>
/// <param name="Forks">Every fork and blob-parameter-only (BPO) period with its fork digest.</param>
public sealed record NetworkInfo(string Name, DateTimeOffset GenesisTime, string GenesisValidatorsRoot, ulong SecondsPerSlot, string? Retired,
    bool Verified, IReadOnlyDictionary<string, string> Sources, IReadOnlyList<ForkInfo> Forks);

/// <summary>A fork or BPO period of a network.</summary>
/// <param name="Name">Fork name (phase0 ... fulu, gloas) or the BPO period's name.</param>
/// <param name="Version">Fork version, hex.</param>
/// <param name="Epoch">Activation epoch; 18446744073709551615 (FAR_FUTURE_EPOCH) when not scheduled.</param>
/// <param name="Scheduled">Whether the fork has an epoch.</param>
/// <param name="Digest">Fork digest, 8 hex digits (an unscheduled fork's is the one it will have); null when it cannot be computed.</param>
/// <param name="Kind">fork or bpo.</param>
/// <param name="Verified">Whether the fork's epoch is confirmed by at least two sources.</param>
public sealed record ForkInfo(string Name, string Version, ulong Epoch, bool Scheduled, string? Digest, string Kind, bool Verified);
