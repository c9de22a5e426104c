using System.Collections.Concurrent;
using System.Net;
using ClP2p.Storage;

namespace ClP2p.Crawler.Inbound;

/// <summary>
/// Country and AS of the addresses inbound peers came from, looked up in the crawl's GeoIP databases as a dialled
/// node's address is and written to the same per-address table, so that a node seen only inbound (whose visit carries
/// the address it contacted us from) gets its country and AS like any other. An address is looked up and written at
/// most once per <see cref="Interval"/>.
/// </summary>
public sealed class InboundGeo(Func<IPAddress, IpGeo?>? lookup, TimeProvider time)
{
    /// <summary>An address's geo is written again after this (the databases are updated, addresses move).</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromHours(24);

    /// <summary>Addresses remembered as written; beyond this all are forgotten (each is then written once more).</summary>
    public const int MaxRemembered = 100_000;

    private readonly ConcurrentDictionary<IPAddress, long> _written = new();

    /// <summary>The geo row to write for a contact from <paramref name="observed"/> (an IPv4-mapped address as its IPv4
    /// address, the text a visit stores), or null: no database, written within <see cref="Interval"/>, or an address
    /// the databases do not hold (loopback, private ranges).</summary>
    public IpGeo? ToWrite(IPAddress observed)
    {
        ArgumentNullException.ThrowIfNull(observed);
        if (lookup is null) return null;
        var ip = observed.IsIPv4MappedToIPv6 ? observed.MapToIPv4() : observed;
        long now = time.GetTimestamp();
        if (_written.TryGetValue(ip, out long at) && time.GetElapsedTime(at, now) < Interval) return null;
        if (_written.Count >= MaxRemembered) _written.Clear();
        _written[ip] = now;
        return lookup(ip);
    }
}
