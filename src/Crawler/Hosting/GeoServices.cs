using System.Net;
using ClP2p.Crawler.Config;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;
namespace ClP2p.Crawler.Hosting;
public static class GeoServices
{
    public static Func<IPAddress, IpGeo?>? Create(GeoSettings settings, ILoggerFactory loggers) => settings is null || loggers is null ? null : null;
}
