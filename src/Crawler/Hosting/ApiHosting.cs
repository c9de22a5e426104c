using ClP2p.Api;
using ClP2p.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace ClP2p.Crawler.Hosting;

/// <summary>`clp2p run` serves the same census API as the standalone src/Api host (plus /metrics).</summary>
public static class ApiHosting
{
    public static void AddServices(IServiceCollection services, StorageOptions storage) => services.AddClP2pApi(storage);

    public static void Map(WebApplication app) => app.MapClP2pApi();
}
