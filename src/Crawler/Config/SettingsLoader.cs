using Microsoft.Extensions.Configuration;

namespace ClP2p.Crawler.Config;

/// <summary>Builds <see cref="CrawlerSettings"/> from appsettings.json and CLP2P_ environment variables; flags are applied after.</summary>
public static class SettingsLoader
{
    public const string EnvironmentPrefix = "CLP2P_";

    public static CrawlerSettings Load(string? configPath, string? dataDirOverride, IDictionary<string, string?>? environment = null)
    {
        var builder = new ConfigurationBuilder()
            .SetBasePath(Directory.GetCurrentDirectory())
            .AddJsonFile("appsettings.json", optional: true);
        string? envDataDir = environment is null
            ? Environment.GetEnvironmentVariable(EnvironmentPrefix + "DataDir")
            : environment.TryGetValue(EnvironmentPrefix + "DataDir", out var d) ? d : null;
        string dataDir = dataDirOverride ?? envDataDir ?? new CrawlerSettings().DataDir;
        builder.AddJsonFile(Path.GetFullPath(Path.Combine(dataDir, "appsettings.json")), optional: true);
        if (configPath is not null)
        {
            if (!File.Exists(configPath)) throw new FileNotFoundException($"configuration file {configPath} not found", configPath);
            builder.AddJsonFile(Path.GetFullPath(configPath), optional: false);
        }
        if (environment is null) builder.AddEnvironmentVariables(EnvironmentPrefix);
        else
        {
            builder.AddInMemoryCollection(environment
                .Where(kv => kv.Key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
                .Select(kv => new KeyValuePair<string, string?>(kv.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), kv.Value)));
        }
        var settings = new CrawlerSettings();
        builder.Build().Bind(settings);
        if (dataDirOverride is not null) settings.DataDir = dataDirOverride;
        return settings;
    }
}
