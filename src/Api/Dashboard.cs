using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ClP2p.Api;

/// <summary>
/// The census dashboard: index.html at / and its script and style sheet under /ui/, compiled into this assembly as
/// embedded resources (src/Api/Dashboard). It loads nothing from elsewhere (no CDN, no fonts): its content security
/// policy allows only this origin, so it works with no internet. Charts are SVG drawn by its own script.
/// </summary>
internal static class Dashboard
{
    private const string Prefix = "dashboard/";

    /// <summary>Same-origin only: the page may load its own script, style and the API's JSON, nothing else.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

    private sealed record Asset(byte[] Body, string ContentType, string ETag);

    private static readonly FrozenDictionary<string, Asset> Assets = Load();

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(Dashboard).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using Stream s = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            s.CopyTo(copy);
            byte[] body = copy.ToArray();
            string type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            assets[name[Prefix.Length..]] = new Asset(body, type, "\"" + Convert.ToHexStringLower(SHA256.HashData(body))[..16] + "\"");
        }
        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public static void Map(WebApplication app)
    {
        app.MapGet("/", (HttpContext http) => Serve(http, "index.html")).ExcludeFromDescription();
        app.MapGet("/ui/{file}", (HttpContext http, string file) => Serve(http, file)).ExcludeFromDescription();
    }

    private static IResult Serve(HttpContext http, string file)
    {
        if (!Assets.TryGetValue(file, out var asset)) return Results.NotFound();
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.ETag = asset.ETag;
        headers.CacheControl = "no-cache";
        if (http.Request.Headers.IfNoneMatch == asset.ETag) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(asset.Body, asset.ContentType);
    }
}
