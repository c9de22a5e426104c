using System.Net;
using ClP2p.Crawler.Geo;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Crawler.Tests;

/// <summary>GeoIP lookups against the real GeoLite2-City database that scripts/test fetches (no traffic is sent).</summary>
public sealed class GeoIpEnricherTests
{
    private static string CityDb =>
        Environment.GetEnvironmentVariable("CLP2P_TEST_GEOIP_CITY") is { Length: > 0 } p && File.Exists(p) ? p
        : throw new InvalidOperationException("CLP2P_TEST_GEOIP_CITY is not set: run the tests with scripts/test, which fetches GeoLite2-City");

    [Theory]
    [InlineData("8.8.8.8", "US")]
    [InlineData("2001:4860:4860::8888", "US")]
    [InlineData("::ffff:8.8.8.8", "US")]
    public void Public_addresses_get_their_country(string ip, string country)
    {
        using var geo = new GeoIpEnricher(CityDb, null, NullLogger<GeoIpEnricher>.Instance);
        Assert.True(geo.Enabled);
        var r = geo.Lookup(IPAddress.Parse(ip));
        Assert.NotNull(r);
        Assert.Equal(country, r!.Country);
        Assert.Null(r.Asn);   // no ASN database configured
        Assert.Equal(IPAddress.Parse(ip).IsIPv4MappedToIPv6 ? "8.8.8.8" : ip, r.Ip);
    }

    [Fact]
    public void Loopback_and_private_addresses_have_no_geo()
    {
        using var geo = new GeoIpEnricher(CityDb, null, NullLogger<GeoIpEnricher>.Instance);
        Assert.Null(geo.Lookup(IPAddress.Loopback));
        Assert.Null(geo.Lookup(IPAddress.Parse("10.1.2.3")));
    }

    [Fact]
    public void Lookups_are_cached_per_ip()
    {
        using var geo = new GeoIpEnricher(CityDb, null, NullLogger<GeoIpEnricher>.Instance);
        var a = geo.Lookup(IPAddress.Parse("8.8.8.8"));
        var b = geo.Lookup(IPAddress.Parse("8.8.8.8"));
        Assert.Same(a, b);
    }

    [Fact]
    public void No_database_or_a_missing_or_broken_file_disables_enrichment_without_throwing()
    {
        using var none = new GeoIpEnricher(null, null, NullLogger<GeoIpEnricher>.Instance);
        Assert.False(none.Enabled);
        using var missing = new GeoIpEnricher("/nonexistent/GeoLite2-City.mmdb", "/nonexistent/asn.mmdb", NullLogger<GeoIpEnricher>.Instance);
        Assert.False(missing.Enabled);
        string broken = Path.GetTempFileName();
        try
        {
            File.WriteAllText(broken, "not a maxmind database");
            using var bad = new GeoIpEnricher(broken, null, NullLogger<GeoIpEnricher>.Instance);
            Assert.False(bad.Enabled);
        }
        finally
        {
            File.Delete(broken);
        }
    }
}
