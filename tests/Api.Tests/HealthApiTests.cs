using System.Net;
using System.Text.Json;
using ClP2p.Api.Readiness;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace ClP2p.Api.Tests;

/// <summary>Sync health, new census dimensions, fork readiness, churn, uptime and the dashboard's assets, over the seeded crawls.</summary>
public sealed class HealthApiTests(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private WebApplicationFactory<Program> At(DateTimeOffset now) =>
        fx.Factory.WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(new FixedClock(now))));

    private static async Task<JsonElement> GetJsonAsync(HttpClient client, string url)
    {
        var resp = await client.GetAsync(url);
        string body = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.StatusCode == HttpStatusCode.OK, $"{url}: {(int)resp.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static Dictionary<string, long> Groups(JsonElement census) =>
        census.GetProperty("groups").EnumerateArray().ToDictionary(g => g.GetProperty("key").GetString() ?? "(null)", g => g.GetProperty("count").GetInt64());

    [Fact]
    public async Task Sync_health_compares_the_status_head_with_the_networks_wall_clock_slot()
    {
        using var client = fx.Factory.CreateClient();
        // crawl 2: nodes 1 (10 slots behind) and 4 (0) synced, 2 (100) behind, 3 (9,000 > 8,192) far behind; 5-7 no Status
        var sync = await GetJsonAsync(client, "/api/v1/census?dimension=sync_health");
        Assert.Equal(new Dictionary<string, long> { ["synced"] = 2, ["behind"] = 1, ["far_behind"] = 1, ["(null)"] = 3 }, Groups(sync));
        var finalized = await GetJsonAsync(client, "/api/v1/census?dimension=finalized_lag");
        Assert.Equal(new Dictionary<string, long> { ["0-3"] = 2, ["4-64"] = 1, ["65+"] = 1, ["(null)"] = 3 }, Groups(finalized));
        var first = await GetJsonAsync(client, $"/api/v1/census?dimension=sync_health&crawl={fx.Crawl1}");
        Assert.Equal(new Dictionary<string, long> { ["synced"] = 2, ["(null)"] = 1 }, Groups(first));   // 1 and 8 (5 slots); 3 refused
        var series = await client.GetAsync("/api/v1/census/timeseries?dimension=sync_health");
        Assert.Equal(HttpStatusCode.BadRequest, series.StatusCode);
    }

    [Fact]
    public async Task Subnet_custody_and_discovery_dimensions_count_bits_and_answers()
    {
        using var client = fx.Factory.CreateClient();
        // node 1: ENR attnets ff01.. = 9 subnets; node 2: MetaData attnets 03.. = 2 (MetaData wins over the ENR)
        Assert.Equal(new Dictionary<string, long> { ["9"] = 1, ["2"] = 1, ["(null)"] = 5 }, Groups(await GetJsonAsync(client, "/api/v1/census?dimension=attnets")));
        Assert.Equal(new Dictionary<string, long> { ["4"] = 4, ["(null)"] = 3 }, Groups(await GetJsonAsync(client, "/api/v1/census?dimension=cgc")));
        Assert.Equal(new Dictionary<string, long> { ["answered"] = 7 }, Groups(await GetJsonAsync(client, "/api/v1/census?dimension=discovery")));
    }

    [Fact]
    public async Task Readiness_counts_nodes_announcing_the_fork_by_client()
    {
        using var client = fx.Factory.CreateClient();
        var networks = await GetJsonAsync(client, "/api/v1/networks");
        var mainnet = networks.EnumerateArray().Single(n => n.GetProperty("name").GetString() == "mainnet");
        var forks = mainnet.GetProperty("forks").EnumerateArray().ToList();
        ulong fuluEpoch = forks.Single(f => f.GetProperty("name").GetString() == "fulu").GetProperty("epoch").GetUInt64();
        var fromFulu = forks.Where(f => f.GetProperty("epoch").GetUInt64() >= fuluEpoch && f.GetProperty("epoch").GetUInt64() != ulong.MaxValue)
            .Select(f => f.GetProperty("digest").GetString()).ToHashSet();

        var r = await GetJsonAsync(client, "/api/v1/networks/mainnet/readiness?crawl=latest&fork=fulu");
        Assert.Equal("fulu", r.GetProperty("fork").GetProperty("name").GetString());
        Assert.Equal(ApiFixture.Crawl2Nodes.Length, r.GetProperty("nodes").GetInt64());
        // no seeded ENR announces fulu by next_fork (far future), so a node is ready only when its digest is fulu's or later
        string fuluSeeded = "cc2c5cdb";
        long expected = fromFulu.Contains(fuluSeeded) ? ApiFixture.Crawl2Nodes.Count(n => n.Fork == "fulu") : 0;
        Assert.Equal(expected, r.GetProperty("announcing").GetInt64());
        var clients = r.GetProperty("clients").EnumerateArray().ToDictionary(c => c.GetProperty("client").GetString() ?? "(null)", c => c);
        Assert.Equal(2, clients["lighthouse"].GetProperty("nodes").GetInt64());
        Assert.Equal("v8.0.0", clients["lighthouse"].GetProperty("first_release").GetProperty("version").GetString());
        Assert.Equal(0, clients["lighthouse"].GetProperty("at_or_above_release").GetInt64());   // v1.1.0 and v1.2.0
        Assert.Equal(JsonValueKind.Null, clients["(null)"].GetProperty("at_or_above_release").ValueKind);

        var next = await GetJsonAsync(client, "/api/v1/networks/mainnet/readiness");   // the next scheduled fork, or the latest active
        Assert.False(string.IsNullOrEmpty(next.GetProperty("fork").GetProperty("name").GetString()));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/v1/networks/atlantis/readiness")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/v1/networks/mainnet/readiness?fork=nope")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/v1/networks/mainnet/readiness?crawl=x")).StatusCode);
    }

    [Theory]
    [InlineData("v8.0.1", "v8.0.0", 1)]
    [InlineData("v8.0.0", "v8.0.0", 0)]
    [InlineData("v25.11.0", "v25.9.3", 1)]
    [InlineData("v1.36.0-rc.1", "v1.36.0", -1)]
    [InlineData("v7.0", "v7.0.0", 0)]
    [InlineData("v6.1.4", "v7.0.0", -1)]
    public void Release_versions_compare_numerically(string a, string b, int sign) =>
        Assert.Equal(sign, Math.Sign(ForkReleases.Compare(a, b)!.Value));

    [Fact]
    public void Unparsable_versions_do_not_compare() => Assert.Null(ForkReleases.Compare("nightly", "v8.0.0"));

    [Fact]
    public async Task Churn_lists_nodes_that_appeared_vanished_and_changed_fork()
    {
        using var client = fx.Factory.CreateClient();
        var churn = await GetJsonAsync(client, "/api/v1/churn");   // latest (crawl 2) against the crawl before it
        Assert.Equal(fx.Crawl1, churn.GetProperty("from").GetProperty("id").GetInt64());
        Assert.Equal(fx.Crawl2, churn.GetProperty("to").GetProperty("id").GetInt64());
        Assert.Equal(5, churn.GetProperty("appeared").GetInt64());   // 2, 4, 5, 6, 7
        Assert.Equal(1, churn.GetProperty("vanished").GetInt64());   // 8
        Assert.Equal(0, churn.GetProperty("client_version_changed").GetInt64());
        Assert.Equal(2, churn.GetProperty("fork_changed").GetInt64());   // 1 and 3: electra -> fulu
        Assert.Equal(Convert.ToHexStringLower(ApiFixture.NodeId(8)), churn.GetProperty("vanished_nodes")[0].GetProperty("node_id").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/v1/churn?to={fx.Crawl1}")).StatusCode);   // nothing before the first
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/v1/churn?limit=5000")).StatusCode);
    }

    [Fact]
    public async Task Uptime_counts_nodes_with_a_successful_dial_in_the_window_and_keeps_sessions()
    {
        using var factory = At(ApiFixture.T0.AddHours(3));
        using var client = factory.CreateClient();
        var up = await GetJsonAsync(client, "/api/v1/uptime");
        var day = up.GetProperty("windows")[0];
        Assert.Equal("24h", day.GetProperty("window").GetString());
        Assert.Equal(5, day.GetProperty("up").GetInt64());   // 1, 8 (crawl 1) and 1, 2, 3, 4 (crawl 2)
        Assert.Equal(new Dictionary<string, long> { ["lighthouse"] = 2, ["prysm"] = 1, ["teku"] = 1, ["nimbus"] = 1 }, Groups(day));

        using var later = At(ApiFixture.T0.AddDays(3));
        using var laterClient = later.CreateClient();
        var after = await GetJsonAsync(laterClient, "/api/v1/uptime");
        Assert.Equal(0, after.GetProperty("windows")[0].GetProperty("up").GetInt64());
        Assert.Equal(5, after.GetProperty("windows")[1].GetProperty("up").GetInt64());

        // node 3: refused in crawl 1, ok in crawl 2 -> one open session; node 1: ok twice -> one session of two dials
        var three = await GetJsonAsync(client, $"/api/v1/nodes/{Convert.ToHexStringLower(ApiFixture.NodeId(3))}/uptime");
        Assert.Equal(2, three.GetProperty("dialled_visits").GetInt32());
        var s3 = Assert.Single(three.GetProperty("sessions").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, s3.GetProperty("first_failed").ValueKind);
        var one = await GetJsonAsync(client, $"/api/v1/nodes/{Convert.ToHexStringLower(ApiFixture.NodeId(1))}/uptime");
        Assert.Equal(2, Assert.Single(one.GetProperty("sessions").EnumerateArray()).GetProperty("ok_visits").GetInt32());
        Assert.True(one.GetProperty("up_at_last_dial").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/v1/nodes/{new string('0', 64)}/uptime")).StatusCode);
    }

    [Fact]
    public async Task Nodes_are_searched_by_agent_text_ip_or_id_and_filtered_by_version()
    {
        using var client = fx.Factory.CreateClient();
        var teku = await GetJsonAsync(client, "/api/v1/nodes?q=TEKU");
        Assert.Equal(Convert.ToHexStringLower(ApiFixture.NodeId(4)), Assert.Single(teku.GetProperty("items").EnumerateArray()).GetProperty("node_id").GetString());
        Assert.Equal(1, (await GetJsonAsync(client, "/api/v1/nodes?q=1.1.1.5")).GetProperty("total").GetInt64());
        Assert.Equal(1, (await GetJsonAsync(client, $"/api/v1/nodes?q={Convert.ToHexStringLower(ApiFixture.NodeId(6))}")).GetProperty("total").GetInt64());
        Assert.Equal(1, (await GetJsonAsync(client, "/api/v1/nodes?client=lighthouse&version=v1.2.0")).GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task Dashboard_is_served_from_the_assembly_with_a_same_origin_policy_and_the_openapi_lists_the_new_endpoints()
    {
        using var client = fx.Factory.CreateClient();
        var page = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        string html = await page.Content.ReadAsStringAsync();
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        var js = await client.GetAsync("/ui/app.js");
        Assert.Equal("text/javascript", js.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/ui/missing.js")).StatusCode);

        string doc = await client.GetStringAsync("/openapi/v1.json");
        foreach (string path in new[] { "/api/v1/networks/{network}/readiness", "/api/v1/churn", "/api/v1/uptime", "/api/v1/nodes/{id}/uptime" })
            Assert.Contains($"\"{path}\"", doc, StringComparison.Ordinal);
    }
}
