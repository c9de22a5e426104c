using System.Collections.Concurrent;
using System.Net;
using ClP2p.Storage;
using MaxMind.GeoIP2;
using MaxMind.GeoIP2.Responses;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Geo;

/// <summary>
/// Country/city (GeoLite2-City or GeoIP2-City) and ASN/organisation (GeoLite2-ASN) for IP addresses, from local
/// MaxMind databases. Lookups are cached per IP (bounded) and the results are stored by the crawler, so the API never
/// reads the mmdb files. With no database configured, or a missing file, it logs why once and stays disabled.
/// </summary>
public sealed class GeoIpEnricher : IDisposable
{
    /// <summary>Cached lookups before the cache is cleared.</summary>
    public const int MaxCacheEntries = 200_000;

    private readonly DatabaseReader? _city;
    private readonly DatabaseReader? _asn;
    private readonly ConcurrentDictionary<IPAddress, IpGeo?> _cache = new();
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private long _lookupErrors;

    public GeoIpEnricher(string? cityDbPath, string? asnDbPath, ILogger<GeoIpEnricher> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _time = time ?? TimeProvider.System;
        _log = logger;
        _city = Open(cityDbPath, "city", logger);
        _asn = Open(asnDbPath, "ASN", logger);
        if (_city is null && _asn is null)
            logger.LogInformation("GeoIP/ASN enrichment is off: no MaxMind database configured (--geoip-city, --geoip-asn; scripts/fetch-geoip fetches a free city database)");
    }

    public bool Enabled => _city is not null || _asn is not null;

    /// <summary>Lookups the database refused (an address it does not hold is not one: that is a miss, not an error).</summary>
    public long LookupErrors => Interlocked.Read(ref _lookupErrors);

    private void LookupFailed(string what, IPAddress ip, Exception e)
    {
        // a database of the wrong kind fails every lookup: warn once, then count
        if (Interlocked.Increment(ref _lookupErrors) == 1)
            _log.LogWarning("GeoIP {What} lookup of {Ip} failed ({Error}); later failures are counted and logged at debug level", what, ip, e.Message);
        else
            _log.LogDebug("GeoIP {What} lookup of {Ip} failed ({Error})", what, ip, e.Message);
    }

    private static DatabaseReader? Open(string? path, string what, ILogger log)
    {
        if (string.IsNullOrWhiteSpace(path)) return null;
        if (!File.Exists(path))
        {
            log.LogWarning("GeoIP {What} database {Path} not found: {What} enrichment is off", what, path, what);
            return null;
        }
        try
        {
            return new DatabaseReader(path);
        }
        catch (Exception ex) when (ex is IOException or MaxMind.Db.InvalidDatabaseException or ArgumentException)
        {
            log.LogWarning("GeoIP {What} database {Path} cannot be read ({Error}): {What} enrichment is off", what, path, ex.Message, what);
            return null;
        }
    }

    /// <summary>Geo and ASN of <paramref name="ip"/>, or null when the databases know nothing of it (e.g. loopback).</summary>
    public IpGeo? Lookup(IPAddress ip)
    {
        ArgumentNullException.ThrowIfNull(ip);
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        if (_cache.TryGetValue(ip, out var cached)) return cached;
        CityResponse? city = null;
        AsnResponse? asn = null;
        try { _city?.TryCity(ip, out city); } catch (MaxMind.GeoIP2.Exceptions.GeoIP2Exception e) { city = null; LookupFailed("city", ip, e); }
        try { _asn?.TryAsn(ip, out asn); } catch (MaxMind.GeoIP2.Exceptions.GeoIP2Exception e) { asn = null; LookupFailed("ASN", ip, e); }
        IpGeo? geo = city is null && asn is null ? null : new IpGeo
        {
            Ip = ip.ToString(),
            Country = city?.Country.IsoCode,
            City = city?.City.Name,
            Asn = asn?.AutonomousSystemNumber,
            AsOrg = asn?.AutonomousSystemOrganization,
            LookedUpAt = _time.GetUtcNow(),
        };
        if (_cache.Count >= MaxCacheEntries) _cache.Clear();
        _cache[ip] = geo;
        return geo;
    }

    public void Dispose()
    {
        _city?.Dispose();
        _asn?.Dispose();
    }
}
