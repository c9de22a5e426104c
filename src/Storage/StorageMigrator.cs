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
        if (options.Provider == StorageProvider.Sqlite && new SqliteConnectionStringBuilder(options.ConnectionString).Mode != SqliteOpenMode.ReadWrite)
        {
            string? dir = Path.GetDirectoryName(new SqliteConnectionStringBuilder(options.ConnectionString).DataSource);
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        }
        if (options.Provider == StorageProvider.Postgres)
        {
            // EF Core would create a missing PostgreSQL database when the login may; a database is the operator's to
            // create, and a typo in Database= must not become a new empty database. Opening a connection first fails
            // with 3D000 (invalid_catalog_name) when it does not exist.
            await using var probe = Sql.Open(options);
            await probe.OpenAsync(ct).ConfigureAwait(false);
        }
        await using ClP2pDbContext db = options.CreateDbContext();
        var pending = (await db.Database.GetPendingMigrationsAsync(ct).ConfigureAwait(false)).ToList();
        await db.Database.MigrateAsync(ct).ConfigureAwait(false);
        if (options.Provider == StorageProvider.Sqlite)
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct).ConfigureAwait(false);
        return pending;
    }

    /// <summary>
    /// For read-only commands (export, census, the standalone API): checks that the database exists and holds a clp2p
    /// schema without creating anything, then applies pending migrations so the queries see the current columns.
    /// Throws <see cref="DatabaseMissingException"/> when there is no database (a SQLite file that does not exist, a
    /// SQLite file or PostgreSQL database without the crawls table); PostgreSQL's own errors (unreachable, database
    /// missing) propagate as they are (see <see cref="StorageFailures.Describe"/>).
    /// </summary>
    public static async Task<StorageOptions> OpenExistingAsync(StorageOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Provider == StorageProvider.Sqlite)
        {
            var b = new SqliteConnectionStringBuilder(options.ConnectionString);
            if (!File.Exists(b.DataSource))
                throw new DatabaseMissingException($"no database at {b.DataSource} (SQLite): check --db and --data-dir, or run `clp2p crawl` first");
            b.Mode = SqliteOpenMode.ReadWrite;   // never create the file
            options = new StorageOptions(StorageProvider.Sqlite, b.ConnectionString);
        }
        await using (var connection = Sql.Open(options))
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            string probe = options.Provider == StorageProvider.Sqlite
                ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'crawls'"
                : "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'crawls'";
            object? n = await Sql.ScalarAsync(connection, probe, ct).ConfigureAwait(false);
            if (Convert.ToInt64(n, System.Globalization.CultureInfo.InvariantCulture) == 0)
                throw new DatabaseMissingException($"{options.Describe()} holds no clp2p data (no crawls table): check --db, or run `clp2p crawl` first");
        }
        await MigrateAsync(options, ct).ConfigureAwait(false);
        return options;
    }

    /// <summary>The migrations known to this build for the provider, oldest first.</summary>
    public static IReadOnlyList<string> KnownMigrations(StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        using ClP2pDbContext db = options.CreateDbContext();
        return db.Database.GetMigrations().ToList();
    }
}
