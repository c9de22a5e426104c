using System.Collections;
using System.Globalization;
using System.Reflection;
using ClP2p.Api.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;

namespace ClP2p.Crawler.Config;

/// <summary>
/// Builds <see cref="CrawlerSettings"/> from appsettings.json and CLP2P_ environment variables; flags are applied after.
/// Every value is parsed with the same parsers as the flags (durations as 30s/5m/hh:mm:ss, whole numbers, booleans);
/// a value that does not parse, an unknown key or a file that is not JSON is a <see cref="UsageException"/> whose
/// one-line message names the file or variable and the accepted forms.
/// </summary>
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
        string dataDirJson;
        try { dataDirJson = Path.GetFullPath(Path.Combine(dataDir, "appsettings.json")); }
        catch (ArgumentException ex) { throw new UsageException($"data directory '{dataDir}' is not a valid path: {ex.Message}", ex); }
        builder.AddJsonFile(dataDirJson, optional: true);
        if (configPath is not null)
        {
            if (Directory.Exists(configPath)) throw new UsageException($"--config {configPath} is a directory: give the path of an appsettings.json file");
            if (!File.Exists(configPath)) throw new UsageException($"--config {configPath} does not exist: give the path of an existing appsettings.json file");
            builder.AddJsonFile(Path.GetFullPath(configPath), optional: false);
        }
        if (environment is null) builder.AddEnvironmentVariables(EnvironmentPrefix);
        else
        {
            builder.AddInMemoryCollection(environment
                .Where(kv => kv.Key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
                .Select(kv => new KeyValuePair<string, string?>(kv.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), kv.Value)));
        }

        IConfigurationRoot config;
        try
        {
            config = builder.Build();
        }
        catch (InvalidDataException ex)
        {
            // "Failed to load configuration from file '...'" around the JSON reader's error with line and position.
            string file = ex.Message.Split('\'') is { Length: >= 3 } parts ? parts[1] : "appsettings.json";
            Exception innermost = ex;
            while (innermost.InnerException is not null) innermost = innermost.InnerException;
            throw new UsageException($"configuration file {file} is not valid JSON ({CommandRunner.Tidy(innermost.Message)}): fix it or remove it", ex);
        }

        var settings = new CrawlerSettings();
        Bind(config, settings, "");
        if (dataDirOverride is not null) settings.DataDir = dataDirOverride;
        Validate(settings, key => Source(config, key));
        return settings;
    }

    /// <summary>
    /// Checks the ranges no type can express (positive counts, non-zero timeouts, ports, addresses, URLs). Flags are
    /// checked by their own parsers first; this catches values from files and environment variables.
    /// </summary>
    public static void Validate(CrawlerSettings s, Func<string, string>? source = null)
    {
        ArgumentNullException.ThrowIfNull(s);
        source ??= key => key;
        void Check(bool ok, string key, string value, string? error)
        {
            if (!ok) throw new UsageException($"{source(key)} '{value}' {error}");
        }
        string? e;
        Check(OptionParsers.TryParseCount(Str(s.Crawl.DialConcurrency), 1, int.MaxValue, out _, out e), "Crawl:DialConcurrency", Str(s.Crawl.DialConcurrency), e);
        Check(OptionParsers.TryParseCount(Str(s.Crawl.DiscoveryConcurrency), 1, int.MaxValue, out _, out e), "Crawl:DiscoveryConcurrency", Str(s.Crawl.DiscoveryConcurrency), e);
        Check(s.Crawl.DialTimeout > TimeSpan.Zero, "Crawl:DialTimeout", Str(s.Crawl.DialTimeout), $"must be longer than zero ({OptionParsers.DurationForms})");
        Check(s.Crawl.ConnectTimeout > TimeSpan.Zero, "Crawl:ConnectTimeout", Str(s.Crawl.ConnectTimeout), $"must be longer than zero ({OptionParsers.DurationForms})");
        Check(Storage.CrawlVantage.IsValid(s.Vantage), "Vantage", s.Vantage, $"must be 1 to {Storage.CrawlVantage.MaxLength} letters, digits, '.', '_' or '-'");
        Check(s.Crawl.MaxDuration is null || s.Crawl.MaxDuration > TimeSpan.Zero, "Crawl:MaxDuration", Str(s.Crawl.MaxDuration), $"must be longer than zero ({OptionParsers.DurationForms})");
        Check(OptionParsers.TryParsePort(Str(s.Crawl.UdpPort), allowZero: true, out _, out e), "Crawl:UdpPort", Str(s.Crawl.UdpPort), e);
        if (s.Crawl.ListenAddress is { Length: > 0 }) Check(OptionParsers.TryParseAddress(s.Crawl.ListenAddress, out _, out e), "Crawl:ListenAddress", s.Crawl.ListenAddress, e);
        Check(OptionParsers.TryParsePort(Str(s.Crawl.TcpPort), allowZero: true, out _, out e), "Crawl:TcpPort", Str(s.Crawl.TcpPort), e);
        if (s.Crawl.ExternalIp is { Length: > 0 }) Check(OptionParsers.TryParseAddress(s.Crawl.ExternalIp, out _, out e), "Crawl:ExternalIp", s.Crawl.ExternalIp, e);
        Check(s.Crawl.Lease >= TimeSpan.FromSeconds(1), "Crawl:Lease", Str(s.Crawl.Lease), $"must be at least 1s ({OptionParsers.DurationForms})");
        Check(s.Run.Interval > TimeSpan.Zero, "Run:Interval", Str(s.Run.Interval), $"must be longer than zero ({OptionParsers.DurationForms})");
        Check(OptionParsers.TryParseHttpUrls(s.Run.ApiUrls, out e), "Run:ApiUrls", s.Run.ApiUrls, e);
        if (s.Crawl.SummaryJson is { } summary) Check(OptionParsers.TryCheckOutputFile(summary, out e), "Crawl:SummaryJson", summary, e);
        if (s.Geo.CityDb is { } city) Check(OptionParsers.TryCheckInputFile(city, out e), "Geo:CityDb", city, e);
        if (s.Geo.AsnDb is { } asn) Check(OptionParsers.TryCheckInputFile(asn, out e), "Geo:AsnDb", asn, e);
    }

    private static string Str(object? v) => v switch
    {
        null => "",
        TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    /// <summary>Where a configuration key's value came from, as the user wrote it: an environment variable or a file's key.</summary>
    private static string Source(IConfigurationRoot config, string key)
    {
        foreach (var provider in config.Providers.Reverse())
        {
            if (!provider.TryGet(key, out _)) continue;
            return provider switch
            {
                EnvironmentVariablesConfigurationProvider => EnvironmentPrefix + key.Replace(":", "__", StringComparison.Ordinal),
                JsonConfigurationProvider json => $"{json.Source.Path} key {key}",
                _ => EnvironmentPrefix + key.Replace(":", "__", StringComparison.Ordinal),
            };
        }
        return key;
    }

    /// <summary>Sets each public property of <paramref name="target"/> from the configuration section, with the flags' parsers.</summary>
    private static void Bind(IConfigurationRoot root, object target, string prefix)
    {
        var properties = target.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToList();
        IConfiguration section = prefix.Length == 0 ? root : root.GetSection(prefix.TrimEnd(':'));
        foreach (var child in section.GetChildren())
        {
            var property = properties.FirstOrDefault(p => p.Name.Equals(child.Key, StringComparison.OrdinalIgnoreCase));
            string key = prefix + child.Key;
            if (property is null)
            {
                // Top-level keys that are not ours are left alone (CLP2P_LOG_LEVEL, an ASP.NET "Logging" section, test
                // variables); a misspelt key inside one of our sections (Crawl:DialConcurency) is an error.
                if (prefix.Length == 0) continue;
                string known = string.Join(", ", properties.Select(p => p.Name));
                throw new UsageException($"{Source(root, FirstLeaf(child) ?? key)}: unknown setting '{key}' (known here: {known})");
            }
            Type type = property.PropertyType;
            if (IsLeaf(type))
            {
                if (child.Value is null)
                {
                    if (child.GetChildren().Any()) throw new UsageException($"{Source(root, FirstLeaf(child) ?? key)}: setting '{key}' takes a single value, not an object or a list");
                    continue;
                }
                property.SetValue(target, Convert(child.Value, type, () => Source(root, key)));
            }
            else if (type == typeof(List<string>))
            {
                var list = child.GetChildren().OrderBy(c => int.TryParse(c.Key, out int i) ? i : int.MaxValue).Select(c => c.Value ?? "").ToList();
                if (child.Value is { Length: > 0 } single) list = [.. single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                property.SetValue(target, list);
            }
            else if (!typeof(IEnumerable).IsAssignableFrom(type))
            {
                if (child.Value is { Length: > 0 }) throw new UsageException($"{Source(root, key)}: setting '{key}' is a section; set its keys ({key}:NAME) instead");
                object nested = property.GetValue(target) ?? Activator.CreateInstance(type)!;
                Bind(root, nested, key + ":");
                property.SetValue(target, nested);
            }
        }
    }

    private static string? FirstLeaf(IConfigurationSection section) =>
        section.Value is not null ? section.Path : section.GetChildren().Select(FirstLeaf).FirstOrDefault(p => p is not null);

    private static bool IsLeaf(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        return t == typeof(string) || t == typeof(int) || t == typeof(long) || t == typeof(bool) || t == typeof(TimeSpan) || t == typeof(double) || t.IsEnum;
    }

    private static object? Convert(string text, Type type, Func<string> source)
    {
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        bool nullable = t != type || type == typeof(string);
        if (nullable && text.Length == 0) return null;
        string? error = null;
        object? value = null;
        if (t == typeof(string)) return text;
        if (t == typeof(int))
        {
            if (int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int i)) value = i;
            else error = "is not a whole number: use digits only, e.g. 64";
        }
        else if (t == typeof(long))
        {
            if (long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) value = l;
            else error = "is not a whole number: use digits only, e.g. 64";
        }
        else if (t == typeof(double))
        {
            if (double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double x)) value = x;
            else error = "is not a number";
        }
        else if (t == typeof(bool))
        {
            if (bool.TryParse(text.Trim(), out bool b)) value = b;
            else error = "is not a boolean: use true or false";
        }
        else if (t == typeof(TimeSpan))
        {
            if (OptionParsers.TryParseDurationText(text, out var ts)) value = ts;
            else error = $"is not a duration: use {OptionParsers.DurationForms}";
        }
        else if (t.IsEnum)
        {
            if (Enum.TryParse(t, text.Trim(), ignoreCase: true, out object? en)) value = en;
            else error = $"is not one of {string.Join(", ", Enum.GetNames(t))}";
        }
        if (error is not null) throw new UsageException($"{source()} '{text}' {error}");
        return value;
    }
}
