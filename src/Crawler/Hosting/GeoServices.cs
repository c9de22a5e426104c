using System.Net;
using ClP2p.Crawler.Config;
using ClP2p.Crawler.Geo;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Hosting;

/// <summary>Builds the GeoIP/ASN lookup from the configured MaxMind databases; null when none is configured.</summary>
public static class GeoServices
{
    public static Func<IPAddress, IpGeo?>? Create(GeoSettings settings, ILoggerFactory loggers, TimeProvider time)
    {
        var enricher = new GeoIpEnricher(settings.CityDb, settings.AsnDb, loggers.CreateLogger<GeoIpEnricher>(), time);
        return enricher.Enabled ? enricher.Lookup : null;
    }
}
