using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using ClP2p.Api;
using ClP2p.Crawler.Tests.EndToEnd;
using ClP2p.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace ClP2p.Crawler.Tests.Dashboard;

/// <summary>
/// Real crawls for the dashboard: a 16-node JavaScript testnet crawled twice by `clp2p crawl` into PostgreSQL (served
/// by the API host in this process, as the standalone src/Api host does), and once by `clp2p run` into SQLite (which
/// serves the page itself); one headless Debian Chromium driven by Playwright for the whole class.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const int Nodes = 16;
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-ui-").FullName;
    private WebApplication? _pgApi;

    public Testnet Net { get; private set; } = null!;
    public PgDatabase Pg { get; private set; } = null!;
    public string PgUrl { get; private set; } = "";
    public Clp2pProcess Run { get; private set; } = null!;
    public string RunUrl { get; private set; } = "";
    public string SqlitePath => Path.Combine(_dir, "run", "clp2p.db");
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public string Dir => _dir;

    public async Task InitializeAsync()
    {
        Net = await Testnet.StartAsync(Nodes, seed: 11);
        string key = Convert.ToHexStringLower(ClP2p.Crawler.Config.NodeKeyStore.Generate());
        foreach (string d in new[] { "crawl", "run" })
        {
            Directory.CreateDirectory(Path.Combine(_dir, d));
            await File.WriteAllTextAsync(Path.Combine(_dir, d, ClP2p.Crawler.Config.NodeKeyStore.FileName), key);
        }

        Pg = await PgDatabase.CreateAsync();
        for (int i = 0; i < 2; i++)
        {
            using var crawl = Clp2pProcess.Start(_dir, "crawl", "--network", "custom", "--bootnode", Net.Bootnode, "--allow-loopback", "--listen-address", "127.0.0.1",
                "--data-dir", Path.Combine(_dir, "crawl"), "--db", Pg.ConnectionString, "--max-duration", "150s");
            int code = await crawl.WaitAsync(HangGuard);
            if (code != 0) throw new InvalidOperationException($"clp2p crawl exited {code}:\n{crawl.Output}");
        }

        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddClP2pApi(StorageOptions.Parse(Pg.ConnectionString, _dir));
        _pgApi = builder.Build();
        _pgApi.MapClP2pApi();
        await _pgApi.StartAsync();
        PgUrl = _pgApi.Urls.First();

        int port = FreePort();
        RunUrl = $"http://127.0.0.1:{port}";
        Run = Clp2pProcess.Start(_dir, "run", "--network", "custom", "--bootnode", Net.Bootnode, "--allow-loopback", "--listen-address", "127.0.0.1",
            "--data-dir", Path.Combine(_dir, "run"), "--urls", RunUrl, "--interval", "1h", "--redial-interval", "0");
        // the job logs this line once the first crawl's row is final
        await Run.WaitForLineAsync("scheduled crawl ", HangGuard);
        using (var http = new HttpClient { BaseAddress = new Uri(RunUrl) })
        {
            var latest = await http.GetFromJsonAsync<JsonElement>("/api/v1/crawls/latest");
            if (latest.GetProperty("state").GetString() != CrawlStates.Succeeded)
                throw new InvalidOperationException("the first crawl of clp2p run did not succeed:\n" + Run.Output);
        }

        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("CLP2P_TEST_CHROMIUM") is { Length: > 0 } c ? c : "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage"],
        });
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        Playwright?.Dispose();
        if (Run is not null)
        {
            if (!Run.HasExited) Run.Terminate();
            try { await Run.WaitAsync(HangGuard); } catch (TimeoutException) { }
            Run.Dispose();
        }
        if (_pgApi is not null) await _pgApi.DisposeAsync();
        if (Pg is not null) await Pg.DisposeAsync();
        if (Net is not null) await Net.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
