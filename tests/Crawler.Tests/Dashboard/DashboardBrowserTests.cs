using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using ClP2p.Crawler.Tests.EndToEnd;
using Microsoft.Playwright;

namespace ClP2p.Crawler.Tests.Dashboard;

/// <summary>
/// The dashboard in a real browser (Debian Chromium via Playwright) over real crawls in PostgreSQL and SQLite: every
/// panel's numbers are the API's, pickers, filters, the node table and exports work, nothing fails to load, and it
/// renders at phone width. Also `clp2p census` over the same database.
/// </summary>
public sealed class DashboardBrowserTests(DashboardFixture fixture) : IClassFixture<DashboardFixture>
{
    private static readonly string[] BarDimensions =
        ["client", "os", "arch", "country", "asn", "fork_digest", "sync_health", "finalized_lag", "cgc", "attnets", "syncnets", "dial_outcome", "reachability", "ip_family"];

    /// <summary>A page with every console error, page error, failed request and HTTP error answer recorded.</summary>
    private sealed class Session(IBrowserContext context, IPage page, List<string> problems) : IAsyncDisposable
    {
        public IPage Page => page;
        public List<string> Problems => problems;
        public async ValueTask DisposeAsync() => await context.DisposeAsync();
    }

    private async Task<Session> OpenAsync(string url, int width = 1280, int height = 900)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height }, AcceptDownloads = true, IsMobile = width < 600,
        });
        var page = await context.NewPageAsync();
        var problems = new List<string>();
        page.Console += (_, m) => { if (m.Type is "error" or "warning") lock (problems) problems.Add($"console {m.Type}: {m.Text}"); };
        page.PageError += (_, e) => { lock (problems) problems.Add("page error: " + e); };
        page.RequestFailed += (_, r) => { lock (problems) problems.Add($"request failed: {r.Url} {r.Failure}"); };
        page.Response += (_, r) => { if (r.Status >= 400) lock (problems) problems.Add($"HTTP {r.Status}: {r.Url}"); };
        await page.GotoAsync(url);
        await WaitReadyAsync(page);
        return new Session(context, page, problems);
    }

    private static async Task WaitReadyAsync(IPage page)
    {
        await page.WaitForFunctionAsync("() => ['1', 'error'].includes(document.body.dataset.ready)");
        string? error = await page.Locator("#error").TextContentAsync();
        Assert.True(await page.EvaluateAsync<string>("() => document.body.dataset.ready") == "1", "the page reported an error: " + error);
    }

    private static void AssertNoProblems(Session s)
    {
        lock (s.Problems) Assert.True(s.Problems.Count == 0, string.Join("\n", s.Problems));
    }

    private static async Task<JsonElement> GetAsync(string baseUrl, string path)
    {
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        return await http.GetFromJsonAsync<JsonElement>(path);
    }

    private static Dictionary<string, long> Groups(JsonElement groups) =>
        groups.EnumerateArray().ToDictionary(g => g.GetProperty("key").GetString() ?? "", g => g.GetProperty("count").GetInt64(), StringComparer.Ordinal);

    /// <summary>The (key, count) rows of the numbers table beside a chart.</summary>
    private static async Task<Dictionary<string, long>> TableAsync(IPage page, string dimension, string? within = null)
    {
        var rows = await page.EvaluateAsync<string[][]>("""
            ([dimension, within]) => [...document.querySelectorAll(`${within ?? ''} table.nums[data-dimension="${dimension}"] tbody tr`)]
              .map(tr => [tr.dataset.key, tr.querySelector('[data-count]').dataset.count])
            """, new object?[] { dimension, within });
        return rows.ToDictionary(r => r[0], r => long.Parse(r[1], CultureInfo.InvariantCulture), StringComparer.Ordinal);
    }

    private static string Q(string? crawl, string? network) =>
        (crawl is null ? "" : "&crawl=" + crawl) + (network is null ? "" : "&network=" + network);

    /// <summary>Every chart's numbers and the headline figures against the API's answers for the same crawl and network.</summary>
    private static async Task AssertPageMatchesApiAsync(IPage page, string baseUrl, string? crawl = null, string? network = null)
    {
        var census = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (string d in BarDimensions.Append("discovery"))
            census[d] = await GetAsync(baseUrl, $"/api/v1/census?dimension={d}{Q(crawl, network)}");
        foreach (string d in BarDimensions)
            Assert.Equal(Groups(census[d].GetProperty("groups")), await TableAsync(page, d));

        long Count(string d, string? key) =>
            census[d].GetProperty("groups").EnumerateArray().Where(g => g.GetProperty("key").GetString() == key).Sum(g => g.GetProperty("count").GetInt64());
        long total = census["dial_outcome"].GetProperty("total").GetInt64();
        var expected = new Dictionary<string, long>
        {
            ["found"] = total,
            ["cl"] = census["fork_digest"].GetProperty("total").GetInt64() - Count("fork_digest", null),
            ["dialled"] = total - Count("dial_outcome", "not_dialled"),
            ["ok"] = Count("dial_outcome", "ok"),
            ["answered"] = Count("discovery", "answered") + Count("discovery", "incomplete"),
            ["incomplete"] = Count("discovery", "incomplete"),
        };
        foreach (var (metric, value) in expected)
        {
            string text = await page.Locator($"[data-metric='{metric}']").TextContentAsync() ?? "";
            Assert.Equal(value, long.Parse(text, NumberStyles.AllowThousands, CultureInfo.InvariantCulture));
        }

        string from = DateTimeOffset.UtcNow.AddDays(-30).ToString("O", CultureInfo.InvariantCulture);
        var series = await GetAsync(baseUrl, $"/api/v1/census/timeseries?dimension=client&from={Uri.EscapeDataString(from)}{Q(null, network)}");
        var seriesRows = await page.EvaluateAsync<string[][]>("""
            () => [...document.querySelectorAll('table.nums[data-dimension="timeseries"] tbody tr')].map(tr => [tr.dataset.crawl, tr.querySelector('[data-count]').dataset.count])
            """);
        Assert.Equal(series.GetProperty("points").EnumerateArray().Select(p => $"{p.GetProperty("crawl_id").GetInt64()}:{p.GetProperty("total").GetInt64()}"),
            seriesRows.Select(r => $"{r[0]}:{r[1]}"));

        var uptime = await GetAsync(baseUrl, "/api/v1/uptime" + (network is null ? "" : "?network=" + network));
        foreach (var w in uptime.GetProperty("windows").EnumerateArray())
            Assert.Equal(Groups(w.GetProperty("groups")), await TableAsync(page, "uptime_" + w.GetProperty("window").GetString()));
    }

    [Fact]
    public async Task Page_over_a_postgres_crawl_shows_the_api_numbers_in_every_panel_and_loads_nothing_else()
    {
        await using var s = await OpenAsync(fixture.PgUrl);
        Assert.Equal("ClP2p census", await s.Page.TitleAsync());
        await AssertPageMatchesApiAsync(s.Page, fixture.PgUrl);

        // churn between the two crawls, as the API counts it
        var crawls = (await GetAsync(fixture.PgUrl, "/api/v1/crawls")).GetProperty("items").EnumerateArray().Select(c => c.GetProperty("id").GetInt64()).ToList();
        Assert.Equal(2, crawls.Count);
        var churn = await GetAsync(fixture.PgUrl, $"/api/v1/churn?from={crawls[1]}&to={crawls[0]}");
        var churnTable = await TableAsync(s.Page, "churn");
        foreach (string k in new[] { "appeared", "vanished", "client_version_changed", "fork_changed" })
            Assert.Equal(churn.GetProperty(k).GetInt64(), churnTable[k]);

        if (Environment.GetEnvironmentVariable("CLP2P_SCREENSHOT_DIR") is { Length: > 0 } shots)
            await s.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "dashboard.png"), FullPage = true });

        // every request the page made went to this origin, and the page declares a same-origin-only policy
        var response = await s.Page.APIRequest.GetAsync(fixture.PgUrl + "/");
        Assert.StartsWith("default-src 'self'", response.Headers["content-security-policy"], StringComparison.Ordinal);
        AssertNoProblems(s);
    }

    [Fact]
    public async Task Pickers_filters_and_the_node_table_follow_the_api()
    {
        await using var s = await OpenAsync(fixture.PgUrl);
        var page = s.Page;
        var crawls = (await GetAsync(fixture.PgUrl, "/api/v1/crawls")).GetProperty("items").EnumerateArray().Select(c => c.GetProperty("id").GetInt64()).ToList();

        // the crawl picker: the older crawl's numbers
        string older = crawls[^1].ToString(CultureInfo.InvariantCulture);
        await page.SelectOptionAsync("#crawl", older);
        await WaitReadyAsync(page);
        Assert.Contains($"crawl {older} of custom", await page.Locator("#crawl-info").TextContentAsync(), StringComparison.Ordinal);
        await AssertPageMatchesApiAsync(page, fixture.PgUrl, crawl: older);

        // a client's versions on demand
        var clients = Groups((await GetAsync(fixture.PgUrl, $"/api/v1/census?dimension=client&crawl={older}")).GetProperty("groups"));
        string client = clients.Where(kv => kv.Key != "").OrderByDescending(kv => kv.Value).First().Key;
        await page.Locator($"table.nums[data-dimension='client'] tbody tr[data-key='{client}']").ClickAsync();
        await page.Locator("#versions").WaitForAsync();
        var versions = (await GetAsync(fixture.PgUrl, $"/api/v1/census?dimension=client_version&crawl={older}")).GetProperty("groups").EnumerateArray()
            .Where(g => g.GetProperty("label").GetString() == client).ToDictionary(g => g.GetProperty("key").GetString()!, g => g.GetProperty("count").GetInt64());
        Assert.Equal(versions, await TableAsync(page, "client_version", "#versions"));

        // node table filters: dial outcome
        var refused = await GetAsync(fixture.PgUrl, $"/api/v1/nodes?crawl={older}&outcome=refused&limit=1000");
        long refusedTotal = refused.GetProperty("total").GetInt64();
        Assert.True(refusedTotal > 0, "the testnet has consensus nodes with a closed port");
        await page.SelectOptionAsync("#f-outcome", "refused");
        await page.WaitForFunctionAsync("t => document.querySelector('#nodes').dataset.state === 'ready' && document.querySelector('#page-info').dataset.total === String(t)", refusedTotal);
        var outcomes = await page.Locator("#nodes tbody tr td:last-child").AllTextContentsAsync();
        Assert.Equal(refusedTotal, outcomes.Count);
        Assert.All(outcomes, o => Assert.Equal("refused", o));
        await page.SelectOptionAsync("#f-outcome", "");

        // filter by client and version together
        string version = versions.Keys.First(k => k.Length > 0); // client_version keys are the version alone (the client is the label)
        long byVersion = (await GetAsync(fixture.PgUrl, $"/api/v1/nodes?crawl={older}&client={client}&version={Uri.EscapeDataString(version)}")).GetProperty("total").GetInt64();
        await page.SelectOptionAsync("#f-client", client);
        await page.SelectOptionAsync("#f-version", version);
        await page.WaitForFunctionAsync("t => document.querySelector('#nodes').dataset.state === 'ready' && document.querySelector('#page-info').dataset.total === String(t)", byVersion);
        Assert.All(await page.Locator("#nodes tbody tr td:nth-child(2)").AllTextContentsAsync(), c => Assert.Equal(client, c));
        await page.SelectOptionAsync("#f-client", "");
        await page.SelectOptionAsync("#f-version", "");

        // search by node id, then the node's history on click
        string nodeId = refused.GetProperty("items")[0].GetProperty("node_id").GetString()!;
        await page.FillAsync("#q", nodeId);
        await page.WaitForFunctionAsync("() => document.querySelector('#nodes').dataset.state === 'ready' && document.querySelector('#page-info').dataset.total === '1'");
        await page.Locator($"#nodes tbody tr[data-node='{nodeId}']").ClickAsync();
        await page.Locator("#node-detail table[data-detail='visits']").WaitForAsync();
        var history = await GetAsync(fixture.PgUrl, $"/api/v1/nodes/{nodeId}");
        Assert.Equal(history.GetProperty("visits").GetArrayLength(), await page.Locator("#node-detail table[data-detail='visits'] tbody tr").CountAsync());
        var uptime = await GetAsync(fixture.PgUrl, $"/api/v1/nodes/{nodeId}/uptime");
        Assert.Equal(uptime.GetProperty("sessions").GetArrayLength(), await page.Locator("#node-detail table[data-detail='sessions'] tbody tr").CountAsync());

        // the network picker: only nodes whose ENR names mainnet (none in this testnet), and mainnet's readiness
        await page.SelectOptionAsync("#network", "mainnet");
        await WaitReadyAsync(page);
        await AssertPageMatchesApiAsync(page, fixture.PgUrl, crawl: older, network: "mainnet");
        var readiness = await GetAsync(fixture.PgUrl, $"/api/v1/networks/mainnet/readiness?crawl={older}");
        Assert.Contains($"{readiness.GetProperty("announcing").GetInt64()} of {readiness.GetProperty("nodes").GetInt64()} consensus nodes announce it",
            await page.Locator("#readiness-info").TextContentAsync(), StringComparison.Ordinal);
        AssertNoProblems(s);
    }

    [Fact]
    public async Task Export_buttons_download_the_crawl_and_it_reads_back()
    {
        await using var s = await OpenAsync(fixture.PgUrl);
        var latest = await GetAsync(fixture.PgUrl, "/api/v1/crawls/latest");
        var nodes = (await GetAsync(fixture.PgUrl, "/api/v1/nodes?limit=1000")).GetProperty("items").EnumerateArray()
            .ToDictionary(n => n.GetProperty("node_id").GetString()!, n => n.GetProperty("dial_outcome").GetString()!, StringComparer.Ordinal);

        var csv = await s.Page.RunAndWaitForDownloadAsync(() => s.Page.ClickAsync("#export-csv"));
        string csvPath = Path.Combine(fixture.Dir, "page-export.csv");
        await csv.SaveAsAsync(csvPath);
        Assert.Equal($"clp2p-crawl-{latest.GetProperty("id").GetInt64()}.csv", csv.SuggestedFilename);
        var lines = (await File.ReadAllLinesAsync(csvPath)).Where(l => l.Length > 0).ToList();
        var header = lines[0].Split(',');
        int outcome = Array.IndexOf(header, "dial_outcome");
        Assert.Equal(0, Array.IndexOf(header, "node_id"));
        var exported = lines.Skip(1).Select(l => l.Split(',')).ToDictionary(f => f[0], f => f[outcome], StringComparer.Ordinal);
        Assert.Equal(latest.GetProperty("visits").GetInt64(), exported.Count);
        Assert.Equal(nodes, exported);

        var ndjson = await s.Page.RunAndWaitForDownloadAsync(() => s.Page.ClickAsync("#export-ndjson"));
        string ndPath = Path.Combine(fixture.Dir, "page-export.ndjson");
        await ndjson.SaveAsAsync(ndPath);
        var rows = (await File.ReadAllLinesAsync(ndPath)).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(nodes, rows.ToDictionary(r => r.GetProperty("node_id").GetString()!, r => r.GetProperty("dial_outcome").GetString()!, StringComparer.Ordinal));
        AssertNoProblems(s);
    }

    [Fact]
    public async Task Page_served_by_clp2p_run_over_sqlite_fits_a_phone()
    {
        await using var s = await OpenAsync(fixture.RunUrl, width: 390, height: 844);
        await AssertPageMatchesApiAsync(s.Page, fixture.RunUrl);
        int overflow = await s.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
        Assert.True(overflow <= 0, $"the page is {overflow} px wider than a 390 px phone screen");
        var widest = await s.Page.EvaluateAsync<int>("() => Math.max(...[...document.querySelectorAll('.panel')].map(p => p.getBoundingClientRect().right))");
        Assert.True(widest <= 390, $"a panel ends at {widest} px on a 390 px screen");
        if (Environment.GetEnvironmentVariable("CLP2P_SCREENSHOT_DIR") is { Length: > 0 } shots)
            await s.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "dashboard-phone.png"), FullPage = false });
        AssertNoProblems(s);
    }

    [Fact]
    public async Task Census_cli_prints_the_api_census_readiness_and_diff()
    {
        string db = fixture.Pg.ConnectionString;
        var api = await GetAsync(fixture.PgUrl, "/api/v1/census?dimension=client");
        using (var json = Clp2pProcess.Start(fixture.Dir, "census", "--db", db, "--dimension", "client", "--json"))
        {
            Assert.Equal(0, await json.WaitAsync(HangGuard));
            var printed = JsonDocument.Parse(json.Output).RootElement;
            Assert.Equal(api.GetProperty("total").GetInt64(), printed.GetProperty("total").GetInt64());
            Assert.Equal(Groups(api.GetProperty("groups")), Groups(printed.GetProperty("groups")));
        }
        using (var table = Clp2pProcess.Start(fixture.Dir, "census", "--db", db, "--dimension", "dial_outcome"))
        {
            Assert.Equal(0, await table.WaitAsync(HangGuard));
            var outcomes = await GetAsync(fixture.PgUrl, "/api/v1/census?dimension=dial_outcome");
            foreach (var g in outcomes.GetProperty("groups").EnumerateArray())
                Assert.Matches($@"{g.GetProperty("key").GetString()}\s*│\s*│\s*{g.GetProperty("count").GetInt64()}\s*│", table.Output);
        }
        using (var readiness = Clp2pProcess.Start(fixture.Dir, "census", "readiness", "--db", db, "--network", "mainnet", "--json"))
        {
            Assert.Equal(0, await readiness.WaitAsync(HangGuard));
            var printed = JsonDocument.Parse(readiness.Output).RootElement;
            var fromApi = await GetAsync(fixture.PgUrl, "/api/v1/networks/mainnet/readiness");
            Assert.Equal(fromApi.GetProperty("fork").GetProperty("name").GetString(), printed.GetProperty("fork").GetProperty("name").GetString());
            Assert.Equal(fromApi.GetProperty("nodes").GetInt64(), printed.GetProperty("nodes").GetInt64());
        }
        var crawls = (await GetAsync(fixture.PgUrl, "/api/v1/crawls")).GetProperty("items").EnumerateArray().Select(c => c.GetProperty("id").GetInt64()).ToList();
        using (var diff = Clp2pProcess.Start(fixture.Dir, "census", "diff", crawls[1].ToString(CultureInfo.InvariantCulture), crawls[0].ToString(CultureInfo.InvariantCulture), "--db", db, "--json"))
        {
            Assert.Equal(0, await diff.WaitAsync(HangGuard));
            var printed = JsonDocument.Parse(diff.Output).RootElement;
            var churn = await GetAsync(fixture.PgUrl, $"/api/v1/churn?from={crawls[1]}&to={crawls[0]}");
            foreach (string k in new[] { "appeared", "vanished", "client_version_changed", "fork_changed" })
                Assert.Equal(churn.GetProperty(k).GetInt64(), printed.GetProperty(k).GetInt64());
        }
        using (var bad = Clp2pProcess.Start(fixture.Dir, "census", "--db", db, "--dimension", "colour"))
        {
            Assert.Equal(2, await bad.WaitAsync(HangGuard));
            Assert.Contains("--dimension must be one of client, client_version", bad.Output, StringComparison.Ordinal);
        }
    }
}
