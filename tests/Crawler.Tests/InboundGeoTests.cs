using System.Net;
using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Crawler.Geo;
using ClP2p.Crawler.Inbound;
using ClP2p.Crawler.Tests.EndToEnd;
using ClP2p.Discovery;
using ClP2p.Discovery.Crypto;
using ClP2p.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Crawler.Tests;

/// <summary>
/// Nodes seen only inbound get country and AS from the address they contacted us from, as dialled nodes do. The
/// lookups run against the GeoLite2-City database scripts/test fetches, on public addresses it holds, sending them
/// nothing; the inbound path is driven over loopback (which has no geo), its lookup answering for a public address.
/// </summary>
public sealed class InboundGeoTests
{
    private static string CityDb =>
        Environment.GetEnvironmentVariable("CLP2P_TEST_GEOIP_CITY") is { Length: > 0 } p && File.Exists(p) ? p
        : throw new InvalidOperationException("CLP2P_TEST_GEOIP_CITY is not set: run the tests with scripts/test, which fetches GeoLite2-City");

    [Theory]
    [InlineData("8.8.8.8", "8.8.8.8", "US")]
    [InlineData("::ffff:8.8.8.8", "8.8.8.8", "US")]
    [InlineData("2001:4860:4860::8888", "2001:4860:4860::8888", "US")]
    [InlineData("46.4.0.1", "46.4.0.1", "DE")]
    public void An_observed_public_address_maps_to_its_country_under_the_address_a_visit_stores(string observed, string stored, string country)
    {
        using var db = new GeoIpEnricher(CityDb, null, NullLogger<GeoIpEnricher>.Instance);
        var geo = new InboundGeo(db.Lookup, new FakeTimeProvider()).ToWrite(IPAddress.Parse(observed));
        Assert.NotNull(geo);
        Assert.Equal(stored, geo!.Ip);
        Assert.Equal(country, geo.Country);
    }

    [Fact]
    public void An_address_is_written_once_per_interval_and_loopback_or_no_database_gives_nothing()
    {
        using var db = new GeoIpEnricher(CityDb, null, NullLogger<GeoIpEnricher>.Instance);
        var time = new FakeTimeProvider();
        var geo = new InboundGeo(db.Lookup, time);
        Assert.NotNull(geo.ToWrite(IPAddress.Parse("8.8.8.8")));
        Assert.Null(geo.ToWrite(IPAddress.Parse("::ffff:8.8.8.8")));
        time.Advance(InboundGeo.Interval - TimeSpan.FromSeconds(1));
        Assert.Null(geo.ToWrite(IPAddress.Parse("8.8.8.8")));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("US", geo.ToWrite(IPAddress.Parse("8.8.8.8"))?.Country);
        Assert.Null(geo.ToWrite(IPAddress.Loopback));
        Assert.Null(geo.ToWrite(IPAddress.Parse("10.1.2.3")));
        Assert.Null(new InboundGeo(null, time).ToWrite(IPAddress.Parse("8.8.8.8")));
    }

    [Fact]
    public async Task A_node_seen_only_inbound_gets_the_country_of_the_address_it_came_from()
    {
        await using var pg = await PgDatabase.CreateAsync();
        Assert.True(StorageOptions.TryParse(pg.ConnectionString, Path.GetTempPath(), out var storage, out var error), error);
        await StorageMigrator.MigrateAsync(storage);
        long crawl = await new CrawlStore(storage).StartCrawlAsync("mainnet", DateTimeOffset.UtcNow, null);

        // loopback has no geo: the lookup answers, for any address, what the database holds for 8.8.8.8
        using var db = new GeoIpEnricher(CityDb, null, NullLogger<GeoIpEnricher>.Instance);
        var asked = new List<IPAddress>();
        IpGeo? Lookup(IPAddress ip)
        {
            lock (asked) asked.Add(ip);
            return db.Lookup(IPAddress.Parse("8.8.8.8")) is { } g ? g with { Ip = ip.ToString() } : null;
        }

        var settings = new CrawlerSettings { Network = "mainnet" };
        settings.Crawl.ListenAddress = "127.0.0.1";
        settings.Crawl.AllowLoopback = true;
        var selection = NetworkSelection.Resolve(settings, NullLogger.Instance);
        using var guard = new CancellationTokenSource(HangGuard);
        await using var host = await InboundHost.StartAsync(settings, storage, selection, NewKey(), [], NullLoggerFactory.Instance, ct: guard.Token, geo: Lookup);

        // a node that contacts us (a PING: handshake and request), never dialled nor found by a crawl
        await using var remote = new Discv5Node(new Discv5Options
        {
            PrivateKey = NewKey(),
            BindEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ContactFilter = ContactFilters.PublicOrLoopback,
            LivenessInterval = TimeSpan.Zero,
        });
        await remote.StartAsync(guard.Token);
        Assert.True((await remote.PingAsync(host.Node.LocalEnr, guard.Token)).IsOk);
        await host.FlushAsync(guard.Token);

        var (_, inboundOnly) = await new CrawlStore(storage).ApplyInboundAsync(crawl, DateTimeOffset.UtcNow, guard.Token);
        Assert.Equal(1, inboundOnly);
        var row = Assert.Single(await new CensusService(storage).ExportAsync(crawl, guard.Token).ToListAsync(guard.Token));
        Assert.Equal(remote.LocalId.ToString(), row.NodeId);
        Assert.Equal("US", row.Country);
        lock (asked) Assert.Equal([IPAddress.Loopback], asked);
    }

    private static byte[] NewKey()
    {
        var key = new byte[32];
        Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, key);
        return key;
    }
}
