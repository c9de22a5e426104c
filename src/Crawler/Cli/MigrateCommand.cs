using ClP2p.Crawler.Config;
using ClP2p.Storage;

namespace ClP2p.Crawler.Cli;

/// <summary>`clp2p migrate`: creates or upgrades the schema of the configured database.</summary>
public static class MigrateCommand
{
    public static async Task<int> ExecuteAsync(CrawlerSettings settings, CancellationToken ct)
    {
        if (!StorageOptions.TryParse(settings.Db, settings.DataDir, out var storage, out var error))
        {
            await Console.Error.WriteLineAsync($"clp2p migrate: {error}").ConfigureAwait(false);
            return 2;
        }
        var applied = await Hosting.StoredData.MigrateAndRefreshAsync(storage, ClP2p.Eth2.Networks.NetworkRegistry.Builtin, null, ct).ConfigureAwait(false);
        Console.WriteLine(applied.Count == 0
            ? $"{storage.Describe()}: schema up to date"
            : $"{storage.Describe()}: applied {string.Join(", ", applied)}");
        return 0;
    }
}
