using System.Diagnostics;
using System.Globalization;
using ClP2p.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace ClP2p.Bench;

/// <summary>
/// Time to a usable dashboard over the 3,000,000-visit data set: Debian Chromium (Playwright) loads / from the API host
/// (Kestrel on 127.0.0.1) in a fresh browser context each run (nothing cached) until every panel is drawn
/// (body[data-ready="1"]); every API call the page made is timed by the browser's resource timing (queueing included) and by the API's own
/// Server-Timing header (query and handler only). Target: page
/// ≤ 1 s, each API call ≤ 50 ms at the median.
/// <code>
/// eval "$(scripts/pg-tmp start)"
/// dotnet run -c Release --project bench/Api.Bench -- --page [--runs 30] [--screenshot PATH-{n}.png [--screenshot-height PX]]
/// scripts/pg-tmp stop
/// </code>
/// </summary>
public static class PageLoadBench
{
    private const string Database = "clp2p_bench_census";

    public static async Task<int> RunAsync(string[] args)
    {
        int runs = 30;
        int i = Array.IndexOf(args, "--runs");
        if (i >= 0 && (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out runs) || runs < 1))
        {
            Console.Error.WriteLine("--runs takes a number >= 1");
            return 2;
        }
        long running = await CensusSeeder.EnsureSeededAsync(Database, CensusBenchmarks.Crawls, CensusBenchmarks.Nodes).ConfigureAwait(false);

        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddClP2pApi(BenchDatabase.Options(Database));
        await using var app = builder.Build();
        app.MapClP2pApi();
        await app.StartAsync().ConfigureAwait(false);
        string url = app.Urls.First();

        using var playwright = await Playwright.CreateAsync().ConfigureAwait(false);
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("CLP2P_BENCH_CHROMIUM") is { Length: > 0 } c ? c : "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        }).ConfigureAwait(false);

        // The latest finished crawl with the time series over all 201 crawls (range 1 year), and the running crawl (live).
        foreach ((string name, string path) in new[] { ("latest finished crawl", "/?range=365"), ("running crawl", $"/?range=365&crawl={running}") })
        {
            var pages = new List<double>();
            var calls = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            var server = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            double cold = 0;
            List<double> firstCall = [], apiSpan = [], afterCalls = [];
            var drawnAt = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            List<double> observed = [];
            for (int run = -3; run < runs; run++)   // three warm-up loads
            {
                await using var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } }).ConfigureAwait(false);
                var page = await context.NewPageAsync().ConfigureAwait(false);
                var sw = Stopwatch.StartNew();
                await page.GotoAsync(url + path).ConfigureAwait(false);
                await page.WaitForFunctionAsync("() => document.body.dataset.ready === 'error' || (document.body.dataset.ready === '1' && performance.getEntriesByName('ready').length > 0)",
                    null, new PageWaitForFunctionOptions { Timeout = 60_000, PollingInterval = 5 }).ConfigureAwait(false);
                double ms = sw.Elapsed.TotalMilliseconds;
                if (await page.EvaluateAsync<string>("() => document.body.dataset.ready").ConfigureAwait(false) != "1")
                    throw new InvalidOperationException("the page reported an error: " + await page.Locator("#error").TextContentAsync().ConfigureAwait(false));
                // time from navigation start to the frame showing every panel (the page's performance mark "ready"), as the
                // browser measures it; `ms` (Playwright's wall clock) adds its polling and round trips
                double inPage = await page.EvaluateAsync<double>("() => performance.getEntriesByName('ready').at(-1).startTime").ConfigureAwait(false);
                var entries = await page.EvaluateAsync<ResourceTime[]>(
                    "() => performance.getEntriesByType('resource').filter(e => e.name.includes('/api/')).map(e => ({ name: e.name, ms: e.responseEnd - e.startTime, server: (e.serverTiming.find(t => t.name === 'app') || { duration: -1 }).duration }))").ConfigureAwait(false);
                double[] phases = await page.EvaluateAsync<double[]>(
                    "() => { const a = performance.getEntriesByType('resource').filter(e => e.name.includes('/api/')); return a.length ? [Math.min(...a.map(e => e.startTime)), Math.max(...a.map(e => e.responseEnd))] : [0, 0]; }").ConfigureAwait(false);
                var marks = await page.EvaluateAsync<ResourceTime[]>(
                    "() => performance.getEntriesByType('mark').filter(m => m.name.startsWith('drawn:')).map(m => ({ name: m.name.slice(6), ms: m.startTime, server: -1 }))").ConfigureAwait(false);
                if (run >= 0)
                {
                    foreach (var m in marks)
                    {
                        if (!drawnAt.TryGetValue(m.Name, out var d)) drawnAt[m.Name] = d = [];
                        d.Add(m.Ms);
                    }
                }
                if (run == runs - 1 && ShotPath(args) is { } shot)
                    await page.ScreenshotAsync(new PageScreenshotOptions
                    {
                        Path = shot.Replace("{n}", name.Split(' ')[0], StringComparison.Ordinal), FullPage = true,
                        Clip = ShotHeight(args) is int height ? new Clip { X = 0, Y = 0, Width = 1280, Height = height } : null,
                    }).ConfigureAwait(false);
                if (run == -3) cold = Math.Min(ms, inPage);
                if (run < 0) continue;
                pages.Add(Math.Min(ms, inPage));
                observed.Add(ms);
                firstCall.Add(phases[0]);
                apiSpan.Add(phases[1] - phases[0]);
                afterCalls.Add(inPage - phases[1]);
                foreach (var e in entries)
                {
                    string key = Kind(new Uri(e.Name).PathAndQuery);
                    if (!calls.TryGetValue(key, out var list)) calls[key] = list = [];
                    list.Add(e.Ms);
                    if (e.Server < 0) continue;
                    if (!server.TryGetValue(key, out var s)) server[key] = s = [];
                    s.Add(e.Server);
                }
            }
            Console.WriteLine($"## {name}: {runs} loads, time to all panels drawn: median {Median(pages):0} ms, p95 {Percentile(pages, 95):0} ms, max {pages.Max():0} ms; first load after the server started (nothing cached): {cold:0} ms; as Playwright sees it (its polling and round trips added): median {Median(observed):0} ms");
            Console.WriteLine($"where the time goes (medians): navigation to the first API call {Median(firstCall):0} ms (HTML, script), first call to last answer {Median(apiSpan):0} ms (API round trips and drawing between them), last answer to all panels drawn {Median(afterCalls):0} ms");
            Console.WriteLine("panel drawn, ms after navigation (median): " + string.Join(", ", drawnAt.OrderBy(kv => Median(kv.Value)).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {Median(kv.Value):0}"))));
            Console.WriteLine();
            Console.WriteLine("| API call (as the page makes it) | calls | median (browser) | p95 (browser) | median (server) | p95 (server) |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|");
            foreach (var (key, list) in calls.OrderByDescending(kv => Median(kv.Value)))
            {
                string sv = server.TryGetValue(key, out var s) && s.Count > 0 ? string.Create(CultureInfo.InvariantCulture, $"{Median(s):0.0} ms | {Percentile(s, 95):0.0} ms") : "– | –";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| `{key}` | {list.Count} | {Median(list):0.0} ms | {Percentile(list, 95):0.0} ms | {sv} |"));
            }
            Console.WriteLine();
        }
        await app.StopAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>Serves the API over the data set (seeded if needed) at --urls (default http://127.0.0.1:5090) until stopped.</summary>
    public static async Task<int> ServeAsync(string[] args)
    {
        int i = Array.IndexOf(args, "--urls");
        string urls = i >= 0 && i + 1 < args.Length ? args[i + 1] : "http://127.0.0.1:5090";
        long running = await CensusSeeder.EnsureSeededAsync(Database, CensusBenchmarks.Crawls, CensusBenchmarks.Nodes).ConfigureAwait(false);
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(urls);
        builder.Services.AddClP2pApi(BenchDatabase.Options(Database));
        await using var app = builder.Build();
        app.MapClP2pApi();
        await app.StartAsync().ConfigureAwait(false);
        Console.WriteLine($"// serving {string.Join(' ', app.Urls)}; running crawl {running}");
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        return 0;
    }

    private sealed class ResourceTime
    {
        public string Name { get; set; } = "";
        public double Ms { get; set; }
        public double Server { get; set; }
    }

    // --screenshot PATH ({n} becomes "latest" or "running"): a full-page screenshot of the last load.
    private static string? ShotPath(string[] args)
    {
        int i = Array.IndexOf(args, "--screenshot");
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    // --screenshot-height PX: only the top PX pixels of the page (docs/dashboard.png: 3075, down to the time series).
    private static int? ShotHeight(string[] args)
    {
        int i = Array.IndexOf(args, "--screenshot-height");
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int px) && px > 0 ? px : null;
    }

    // "/api/v1/census?dimension=client&crawl=latest" -> "/api/v1/census?dimension=client"; ids and times dropped.
    private static string Kind(string pathAndQuery)
    {
        int q = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        string path = q < 0 ? pathAndQuery : pathAndQuery[..q];
        path = string.Join('/', path.Split('/').Select(s => s.Length == 64 || (s.Length > 0 && s.All(char.IsAsciiDigit)) ? "{id}" : s));
        if (q < 0) return path;
        var keep = pathAndQuery[(q + 1)..].Split('&').Where(p => p.StartsWith("dimension=", StringComparison.Ordinal)).ToList();
        return keep.Count == 0 ? path : path + "?" + string.Join('&', keep);
    }

    private static double Median(List<double> values) => Percentile(values, 50);

    private static double Percentile(List<double> values, int p)
    {
        var sorted = values.Order().ToList();
        double rank = p / 100.0 * (sorted.Count - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
