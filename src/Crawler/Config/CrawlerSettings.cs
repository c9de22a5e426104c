namespace ClP2p.Crawler.Config;

/// <summary>
/// Every setting of the crawler. Sources, lowest precedence first: appsettings.json (working directory, then the data
/// directory, then --config), environment variables prefixed CLP2P_ (e.g. CLP2P_Network, CLP2P_Crawl__DialConcurrency),
/// command-line flags.
/// </summary>
public sealed class CrawlerSettings
{
    /// <summary>mainnet, sepolia, holesky, hoodi, gnosis, chiado or custom.</summary>
    public string Network { get; set; } = "mainnet";

    /// <summary>Bootnode ENRs; when set they replace the network's defaults.</summary>
    public List<string> Bootnodes { get; set; } = [];

    /// <summary>Database: empty = SQLite file clp2p.db in the data directory; sqlite:PATH; or a PostgreSQL connection string.</summary>
    public string? Db { get; set; }

    /// <summary>Holds the node key, the default SQLite database and appsettings.json.</summary>
    public string DataDir { get; set; } = "clp2p-data";

    /// <summary>For --network custom: a consensus config.yaml.</summary>
    public string? ConfigYaml { get; set; }

    /// <summary>For --network custom: the genesis validators root (hex) that, with config.yaml, names fork digests.</summary>
    public string? GenesisValidatorsRoot { get; set; }

    /// <summary>The vantage point this crawler runs from (--vantage), recorded on each crawl; see Storage.CrawlVantage.</summary>
    public string Vantage { get; set; } = Storage.CrawlVantage.Default;

    public CrawlSettings Crawl { get; set; } = new();
    public RunSettings Run { get; set; } = new();
    public GeoSettings Geo { get; set; } = new();
}

public sealed class CrawlSettings
{
    /// <summary>Contact private (RFC 1918, CGNAT, link-local, ULA) addresses.</summary>
    public bool AllowPrivate { get; set; }

    /// <summary>Contact loopback addresses (tests and local testnets).</summary>
    public bool AllowLoopback { get; set; }

    /// <summary>Stop the crawl after this long (discovery stops, in-flight dials end); null = until done.</summary>
    public TimeSpan? MaxDuration { get; set; }

    /// <summary>Dials in flight at once (capped by the process's open-file limit; README explains the default).</summary>
    public int DialConcurrency { get; set; } = 4_000;

    /// <summary>Peers enumerated by discovery at once (README explains the default).</summary>
    public int DiscoveryConcurrency { get; set; } = 4_000;

    /// <summary>Deadline for one whole dial (connect, handshakes, identify, Status, MetaData, Goodbye).</summary>
    public TimeSpan DialTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Deadline for the TCP connect alone, inside <see cref="DialTimeout"/>: a record of a node that is gone
    /// never answers the SYN and costs this, not the whole dial deadline.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Local address of the discv5 UDP socket and the libp2p TCP listener. Empty: "::" (both families, dual
    /// stack) when the host has IPv6, else "0.0.0.0" (<see cref="BindAddress"/>).</summary>
    public string ListenAddress { get; set; } = "";

    /// <summary>discv5 UDP port; 0 = any free port.</summary>
    public int UdpPort { get; set; }

    /// <summary>TCP port of the libp2p listener (inbound connections); 0 = any free port.</summary>
    public int TcpPort { get; set; }

    /// <summary>Public IP put in our record (--external-ip), instead of the one learned from peers' PONG votes.</summary>
    public string? ExternalIp { get; set; }

    /// <summary>The address the sockets bind: <see cref="ListenAddress"/>, or the dual-stack default.</summary>
    public System.Net.IPAddress BindAddress() =>
        ListenAddress is { Length: > 0 } a ? System.Net.IPAddress.Parse(a) : HostHasIPv6.Value ? System.Net.IPAddress.IPv6Any : System.Net.IPAddress.Any;

    private static readonly Lazy<bool> HostHasIPv6 = new(() =>
    {
        if (!System.Net.Sockets.Socket.OSSupportsIPv6) return false;
        try
        {
            using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetworkV6, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp) { DualMode = true };
            s.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Any, 0));
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    });

    /// <summary>Write the crawl summary as JSON to this path.</summary>
    public string? SummaryJson { get; set; }

    /// <summary>Dial consensus nodes (set false for a discovery-only crawl).</summary>
    public bool Dial { get; set; } = true;

    /// <summary>Lease of a running crawl: the process renews its heartbeat every quarter of this; another process marks
    /// the crawl failed only once the heartbeat is older than this (its process died).</summary>
    public TimeSpan Lease { get; set; } = ClP2p.Storage.CrawlStore.DefaultLease;
}

public sealed class RunSettings
{
    /// <summary>Quartz cron expression for crawls (e.g. "0 0/30 * * * ?"); when empty, <see cref="Interval"/> is used.</summary>
    public string? Cron { get; set; }

    /// <summary>Time between crawl starts when no cron is given.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Time between re-dials of known nodes (liveness) between crawls; zero disables.</summary>
    public TimeSpan RedialInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Visits older than this are deleted; zero keeps everything.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(90);

    /// <summary>Do not serve the census API in the same process.</summary>
    public bool NoApi { get; set; }

    /// <summary>Where the API (and /metrics) listens.</summary>
    public string ApiUrls { get; set; } = "http://127.0.0.1:5080";
}

public sealed class GeoSettings
{
    /// <summary>Path to a GeoLite2-City (or GeoIP2-City) .mmdb file.</summary>
    public string? CityDb { get; set; }

    /// <summary>Path to a GeoLite2-ASN .mmdb file.</summary>
    public string? AsnDb { get; set; }
}
