using ClP2p.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ClP2p.Crawler.Hosting;

/// <summary>What `clp2p run` serves over HTTP besides /metrics.</summary>
public static class ApiHosting
{
    public static void AddServices(IServiceCollection services, StorageOptions storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        services.AddSingleton(storage);
    }

    public static void Map(WebApplication app) => app.MapGet("/healthz", () => Results.Text("ok"));
}
