using ClP2p.Storage.Model;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace ClP2p.Storage;

/// <summary>Applies the EF Core migrations of the chosen provider (on start and by <c>clp2p migrate</c>).</summary>
public static class StorageMigrator
{
    /// <summary>
    /// Creates the database if needed (SQLite file and its directory; the PostgreSQL database itself must exist) and
    /// applies every pending migration. Idempotent. SQLite files are switched to WAL so readers do not block the writer.
    /// </summary>
    /// <returns>The names of the migrations applied by this call.</returns>
    public static async Task<IReadOnlyList<string>> MigrateAsync(StorageOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Provider == StorageProvider.Sqlite)
        {
            string? dir = Path.GetDirectoryName(new SqliteConnectionStringBuilder(options.ConnectionString).DataSource);
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        }
        await using ClP2pDbContext db = options.CreateDbContext();
        var pending = (await db.Database.GetPendingMigrationsAsync(ct).ConfigureAwait(false)).ToList();
        await db.Database.MigrateAsync(ct).ConfigureAwait(false);
        if (options.Provider == StorageProvider.Sqlite)
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct).ConfigureAwait(false);
        return pending;
    }

    /// <summary>The migrations known to this build for the provider, oldest first.</summary>
    public static IReadOnlyList<string> KnownMigrations(StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        using ClP2pDbContext db = options.CreateDbContext();
        return db.Database.GetMigrations().ToList();
    }
}
