using System.CommandLine;
using ClP2p.Api.CommandLine;
using ClP2p.Crawler.Config;
using ClP2p.Eth2.Networks;

namespace ClP2p.Crawler.Cli;

/// <summary>The flags shared by clp2p commands, and how they override the loaded settings.</summary>
public static class CliOptions
{
    public static readonly Option<string?> Config = OptionParsers.InputFile("--config", "An appsettings.json to load (flags and CLP2P_ environment variables override it)");
    public static readonly Option<string?> DataDir = new("--data-dir") { Description = "Data directory: node key, default SQLite database (default ./clp2p-data)" };
    public static readonly Option<string?> Db = new("--db") { Description = "Database: sqlite:PATH, or a PostgreSQL connection string (Host=...;Database=...). Default: SQLite clp2p.db in the data directory" };
    public static readonly Option<string?> Network = new("--network", "-n")
    {
        Description = string.Join(", ", NetworkRegistry.BuiltinNames.Where(n => !NetworkRegistry.RetiredNetworks.ContainsKey(n))) + ", or custom"
            + $" (retired, kept for old crawls, a crawl of it warns: {string.Join(", ", NetworkRegistry.RetiredNetworks.Keys)})",
    };
    public static readonly Option<string[]> Bootnode = new("--bootnode") { Description = "Bootnode ENR (repeatable); replaces the network's bootnodes", AllowMultipleArgumentsPerToken = false, Arity = ArgumentArity.ZeroOrMore };
    public static readonly Option<string?> ConfigYaml = OptionParsers.InputFile("--config-yaml", "For --network custom: consensus config.yaml naming the forks");
    public static readonly Option<string?> GenesisValidatorsRoot = new("--genesis-validators-root") { Description = "For --network custom: genesis validators root (hex)" };
    public static readonly Option<bool> AllowLoopback = new("--allow-loopback") { Description = "Contact loopback addresses (local testnets)" };
    public static readonly Option<bool> AllowPrivate = new("--allow-private") { Description = "Contact private and link-local addresses" };
    public static readonly Option<TimeSpan?> MaxDuration = OptionParsers.Duration("--max-duration", "Stop the crawl after this long (e.g. 90s, 10m, 1h)");
    public static readonly Option<int?> DialConcurrency = OptionParsers.Count("--dial-concurrency", "Dials in flight at once (default 4000, capped by the open-file limit)");
    public static readonly Option<int?> DiscoveryConcurrency = OptionParsers.Count("--discovery-concurrency", "Peers enumerated by discovery at once (default 4000)");
    public static readonly Option<TimeSpan?> DialTimeout = OptionParsers.Duration("--dial-timeout", "Deadline for one dial (default 30s)");
    public static readonly Option<TimeSpan?> ConnectTimeout = OptionParsers.Duration("--connect-timeout", "Deadline for a dial's TCP connect (default 3s)");
    public static readonly Option<bool> NoDial = new("--no-dial") { Description = "Discovery only: store every ENR, dial nobody" };
    public static readonly Option<System.Net.IPAddress?> ListenAddress = OptionParsers.Address("--listen-address", "Local address for discv5 UDP and the libp2p TCP listener (default :: — IPv4 and IPv6 — when the host has IPv6, else 0.0.0.0)");
    public static readonly Option<int?> UdpPort = OptionParsers.Port("--udp-port", "discv5 UDP port (default 0: any free port)");
    public static readonly Option<int?> TcpPort = OptionParsers.Port("--tcp-port", "libp2p TCP port for inbound connections (default 0: any free port)");
    public static readonly Option<System.Net.IPAddress?> ExternalIp = OptionParsers.Address("--external-ip", "Public IP put in our record (default: learned from peers' PONG address votes)");
    public static readonly Option<string?> SummaryJson = OptionParsers.OutputFile("--summary-json", "Write the crawl summary as JSON to this path (checked writable before the crawl)");
    public static readonly Option<string?> GeoipCity = OptionParsers.InputFile("--geoip-city", "GeoLite2-City .mmdb for country/city enrichment");
    public static readonly Option<string?> Vantage = new("--vantage") { Description = "Name of this crawler's vantage point, recorded on its crawls (letters, digits, . _ -; default 'default')" };
    public static readonly Option<string?> GeoipAsn = OptionParsers.InputFile("--geoip-asn", "GeoLite2-ASN .mmdb for ASN/organisation enrichment");

    public static readonly Option<string?> Cron = new("--cron") { Description = "Quartz cron expression for crawls (e.g. \"0 0/30 * * * ?\")" };
    public static readonly Option<TimeSpan?> Interval = OptionParsers.Duration("--interval", "Time between crawls when no --cron is given (default 30m)");
    public static readonly Option<TimeSpan?> RedialInterval = OptionParsers.Duration("--redial-interval", "Time between re-dials of known nodes (default 10m; 0 disables)", allowZero: true);
    public static readonly Option<TimeSpan?> Retention = OptionParsers.Duration("--retention", "Delete visits older than this (default 90d; 0 keeps all)", allowZero: true);
    public static readonly Option<bool> NoApi = new("--no-api") { Description = "Do not serve the census API and /metrics in this process" };
    public static readonly Option<string?> ApiUrls = OptionParsers.HttpUrls("--urls", "Where the API and /metrics listen (default http://127.0.0.1:5080; several separated by ';')");

    static CliOptions()
    {
        Vantage.Validators.Add(r =>
        {
            string? v = r.GetValueOrDefault<string?>();
            if (!Storage.CrawlVantage.IsValid(v))
                r.AddError($"--vantage must be 1 to {Storage.CrawlVantage.MaxLength} letters, digits, '.', '_' or '-', not '{v}'");
        });
    }

    public static void AddCommon(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(DataDir);
        command.Options.Add(Db);
    }

    public static void AddCrawl(Command command)
    {
        foreach (var o in new Option[] { Network, Bootnode, ConfigYaml, GenesisValidatorsRoot, AllowLoopback, AllowPrivate, MaxDuration,
                     DialConcurrency, DiscoveryConcurrency, DialTimeout, ConnectTimeout, NoDial, ListenAddress, UdpPort, TcpPort, ExternalIp, GeoipCity, GeoipAsn, Vantage })
            command.Options.Add(o);
    }

    public static void AddSummary(Command command)
    {
        foreach (var o in new Option[] { SummaryJson })
            command.Options.Add(o);
    }

    public static void AddRun(Command command)
    {
        foreach (var o in new Option[] { Cron, Interval, RedialInterval, Retention, NoApi, ApiUrls }) command.Options.Add(o);
    }

    /// <summary>appsettings.json, then CLP2P_ environment variables, then the flags that were given. Throws
    /// <see cref="UsageException"/> (one line, exit 2) for a bad file, variable or combined value. New options: build
    /// them with <see cref="OptionParsers"/> so their values are checked while the command line is parsed.</summary>
    public static CrawlerSettings Load(ParseResult p)
    {
        var s = SettingsLoader.Load(p.GetValue(Config), p.GetValue(DataDir));
        Set(p, Db, v => s.Db = v);
        Set(p, Network, v => s.Network = v!);
        if (Given(p, Bootnode)) s.Bootnodes = [.. p.GetValue(Bootnode) ?? []];
        Set(p, ConfigYaml, v => s.ConfigYaml = v);
        Set(p, GenesisValidatorsRoot, v => s.GenesisValidatorsRoot = v);
        if (Given(p, AllowLoopback)) s.Crawl.AllowLoopback = p.GetValue(AllowLoopback);
        if (Given(p, AllowPrivate)) s.Crawl.AllowPrivate = p.GetValue(AllowPrivate);
        if (Given(p, NoDial)) s.Crawl.Dial = !p.GetValue(NoDial);
        Set(p, MaxDuration, v => s.Crawl.MaxDuration = v);
        Set(p, DialConcurrency, v => s.Crawl.DialConcurrency = v!.Value);
        Set(p, DiscoveryConcurrency, v => s.Crawl.DiscoveryConcurrency = v!.Value);
        Set(p, DialTimeout, v => s.Crawl.DialTimeout = v!.Value);
        Set(p, ConnectTimeout, v => s.Crawl.ConnectTimeout = v!.Value);
        Set(p, ListenAddress, v => s.Crawl.ListenAddress = v!.ToString());
        Set(p, UdpPort, v => s.Crawl.UdpPort = v ?? 0);
        Set(p, TcpPort, v => s.Crawl.TcpPort = v ?? 0);
        Set(p, ExternalIp, v => s.Crawl.ExternalIp = v!.ToString());
        Set(p, SummaryJson, v => s.Crawl.SummaryJson = v);
        Set(p, Vantage, v => s.Vantage = Storage.CrawlVantage.IsValid(v) ? v! : throw new UsageException(
            $"--vantage must be 1 to {Storage.CrawlVantage.MaxLength} letters, digits, '.', '_' or '-', not '{v}'"));
        Set(p, GeoipCity, v => s.Geo.CityDb = v);
        Set(p, GeoipAsn, v => s.Geo.AsnDb = v);
        Set(p, Cron, v => s.Run.Cron = v);
        Set(p, Interval, v => s.Run.Interval = v!.Value);
        Set(p, RedialInterval, v => s.Run.RedialInterval = v!.Value);
        Set(p, Retention, v => s.Run.Retention = v!.Value);
        if (Given(p, NoApi)) s.Run.NoApi = p.GetValue(NoApi);
        Set(p, ApiUrls, v => s.Run.ApiUrls = v!);
        SettingsLoader.Validate(s);
        return s;
    }

    /// <summary>True when the flag was on the command line (options with defaults also have implicit results).</summary>
    private static bool Given(ParseResult p, Option option) => p.GetResult(option) is { Implicit: false };

    private static void Set<T>(ParseResult p, Option<T> option, Action<T?> apply)
    {
        if (Given(p, option)) apply(p.GetValue(option));
    }
}
