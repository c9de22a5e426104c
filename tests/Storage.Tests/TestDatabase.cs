using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ClP2p.Storage.Tests;

/// <summary>
/// A fresh, migrated database for one test: a new PostgreSQL database with a random name on the cluster named by
/// CLP2P_TEST_PG (started by scripts/test), or a new SQLite file in a temp directory. Dropped/deleted on dispose.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly string? _pgName;
    private readonly string? _dir;

    private TestDatabase(StorageOptions options, string? pgName, string? dir)
    {
        Options = options;
        _pgName = pgName;
        _dir = dir;
    }

    public StorageOptions Options { get; }

    public StorageProvider Provider => Options.Provider;

    public static TheoryData<StorageProvider> Providers => new() { StorageProvider.Postgres, StorageProvider.Sqlite };

    public static string AdminConnectionString =>
        Environment.GetEnvironmentVariable("CLP2P_TEST_PG") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                "CLP2P_TEST_PG is not set: the storage tests need a real PostgreSQL. Run them with " +
                "`scripts/test tests/Storage.Tests/ClP2p.Storage.Tests.csproj`, which starts a throwaway cluster.");

    /// <summary>Creates and migrates a fresh database. <paramref name="migrate"/> false leaves it empty.</summary>
    public static async Task<TestDatabase> CreateAsync(StorageProvider provider, bool migrate = true, int sqliteBusyTimeoutSeconds = 60)
    {
        TestDatabase db;
        if (provider == StorageProvider.Postgres)
        {
            string name = "clp2p_test_" + Guid.NewGuid().ToString("N")[..16];
            await using (var admin = new NpgsqlConnection(AdminConnectionString))
            {
                await admin.OpenAsync();
                await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
                await cmd.ExecuteNonQueryAsync();
            }
            var b = new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name };
            db = new TestDatabase(new StorageOptions(StorageProvider.Postgres, b.ConnectionString), name, null);
        }
        else
        {
            string dir = Path.Combine(Path.GetTempPath(), "clp2p-storage-tests", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            StorageOptions o = StorageOptions.ForSqliteFile(Path.Combine(dir, "test.db"));
            var b = new SqliteConnectionStringBuilder(o.ConnectionString) { DefaultTimeout = sqliteBusyTimeoutSeconds };
            db = new TestDatabase(new StorageOptions(StorageProvider.Sqlite, b.ConnectionString), null, dir);
        }
        if (migrate) await StorageMigrator.MigrateAsync(db.Options);
        return db;
    }

    public async ValueTask DisposeAsync()
    {
        if (_pgName is not null)
        {
            StorageOptions.ClearPostgresPools();
            try
            {
                await using var admin = new NpgsqlConnection(AdminConnectionString);
                await admin.OpenAsync();
                await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_pgName} WITH (FORCE)", admin);
                await cmd.ExecuteNonQueryAsync();
            }
            catch (NpgsqlException)
            {
                // the cluster is thrown away by scripts/test anyway
            }
        }
        if (_dir is not null)
        {
            SqliteConnection.ClearAllPools();
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Runs the cluster control script (CLP2P_TEST_PGCTL start|stop|restart).</summary>
    public static async Task PgCtlAsync(string action)
    {
        string script = Environment.GetEnvironmentVariable("CLP2P_TEST_PGCTL") is { Length: > 0 } s
            ? s
            : throw new InvalidOperationException("CLP2P_TEST_PGCTL is not set: run the tests with scripts/test");
        var psi = new ProcessStartInfo(script, action) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process p = Process.Start(psi)!;
        string err = await p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"pgctl {action} failed ({p.ExitCode}): {err}");
    }

    public async Task<long> CountAsync(string table, string? where = null)
    {
        await using var conn = Sql.Open(Options);
        await conn.OpenAsync();
        object? v = await Sql.ScalarAsync(conn, $"SELECT COUNT(*) FROM {table}" + (where is null ? "" : " WHERE " + where), CancellationToken.None);
        return Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture);
    }
}
