using ClP2p.Api.CommandLine;
using ClP2p.Crawler.Config;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Cli;

/// <summary>`clp2p migrate`: creates or upgrades the schema of the configured database.</summary>
public static class MigrateCommand
{
    public const string Name = "clp2p migrate";

    public static async Task<int> ExecuteAsync(CrawlerSettings settings, CancellationToken ct)
    {
        using var loggers = Logging.Create(LogLevel.Warning);
        try
        {
            if (!StorageOptions.TryParse(settings.Db, settings.DataDir, out var storage, out var error)) throw new UsageException(error);
            if (storage.Provider == StorageProvider.Sqlite)
            {
                string? dir = Path.GetDirectoryName(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(storage.ConnectionString).DataSource);
                if (!string.IsNullOrEmpty(dir)) Preflight.WritableDirectory(dir, "database directory");
            }
            var applied = await Hosting.StoredData.MigrateAndRefreshAsync(storage, ClP2p.Eth2.Networks.NetworkRegistry.Builtin, null, ct).ConfigureAwait(false);
            Console.WriteLine(applied.Count == 0
                ? $"{storage.Describe()}: schema up to date"
                : $"{storage.Describe()}: applied {string.Join(", ", applied)}");
            return 0;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return await CommandRunner.ReportAsync(ex, Name, loggers.CreateLogger("clp2p")).ConfigureAwait(false);
        }
    }
}
