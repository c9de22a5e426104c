using System.Data.Common;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>A fresh database on the test PostgreSQL server (CLP2P_TEST_PG, started by scripts/test).</summary>
public sealed class PgDatabase : IAsyncDisposable
{
    private readonly string _admin;

    private PgDatabase(string admin, string name, string connectionString)
    {
        _admin = admin;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }
    public string ConnectionString { get; }

    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable("CLP2P_TEST_PG") is { Length: > 0 } cs ? cs
        : throw new InvalidOperationException("CLP2P_TEST_PG is not set: run the tests with scripts/test, which starts PostgreSQL");

    public static async Task<PgDatabase> CreateAsync()
    {
        string admin = ServerConnectionString;
        string name = "clp2p_e2e_" + Guid.NewGuid().ToString("N")[..12];
        await using (var conn = new NpgsqlConnection(admin))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        var b = new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = false };
        return new PgDatabase(admin, name, b.ConnectionString);
    }

    public DbConnection Open()
    {
        var c = new NpgsqlConnection(ConnectionString);
        c.Open();
        return c;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var conn = new NpgsqlConnection(_admin);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // the server may be restarting in a test that stopped it; the cluster is thrown away anyway
        }
    }

    /// <summary>
    /// Waits until the database holds at least <paramref name="atLeast"/> visits, or <paramref name="stopped"/> completes
    /// (the writer's process exited); returns the count then. Call it once the schema exists. A statement trigger on
    /// visits NOTIFYs each write, and the count is read again on each notification, not on a timer.
    /// </summary>
    public async Task<long> WaitForVisitsAsync(long atLeast, Task stopped, TimeSpan hangGuard)
    {
        await using var conn = new NpgsqlConnection(ConnectionString);
        await conn.OpenAsync();
        int notified = 0;
        conn.Notification += (_, _) => Interlocked.Increment(ref notified);
        await using (var cmd = new NpgsqlCommand("""
            LISTEN clp2p_test_visits;
            CREATE OR REPLACE FUNCTION clp2p_test_notify_visits() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN PERFORM pg_notify('clp2p_test_visits', ''); RETURN NULL; END $$;
            CREATE OR REPLACE TRIGGER clp2p_test_visits AFTER INSERT ON visits FOR EACH STATEMENT EXECUTE FUNCTION clp2p_test_notify_visits();
            """, conn))
        {
            await cmd.ExecuteNonQueryAsync();
        }
        using var guard = new CancellationTokenSource(hangGuard);
        while (true)
        {
            int seen = Volatile.Read(ref notified);
            long visits = await Sql.ScalarAsync(conn, "SELECT count(*) FROM visits");
            if (visits >= atLeast || stopped.IsCompleted) return visits;
            if (Volatile.Read(ref notified) != seen) continue;   // a write landed while we counted
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(guard.Token);
            var next = conn.WaitAsync(waiting.Token);
            if (await Task.WhenAny(next, stopped) == next)
            {
                await next;
                continue;
            }
            // the process stopped before the count was reached: after a cancelled wait the connection may be broken, so
            // the count is the one read last (the caller asserts on it and on the process)
            await waiting.CancelAsync();
            try
            {
                await next;
            }
            catch (OperationCanceledException)
            {
                // the wait we just cancelled
            }
            return visits;
        }
    }

    /// <summary>Runs the test cluster's control script (CLP2P_TEST_PGCTL start|stop).</summary>
    public static async Task ControlAsync(string action)
    {
        string ctl = Environment.GetEnvironmentVariable("CLP2P_TEST_PGCTL") is { Length: > 0 } c ? c
            : throw new InvalidOperationException("CLP2P_TEST_PGCTL is not set: run the tests with scripts/test");
        var psi = new ProcessStartInfo(ctl, [action]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"pgctl {action} failed: {err}");
    }
}

/// <summary>Reads a crawl back with plain SQL (so the checks do not go through the code under test).</summary>
public static class Sql
{
    public static DbConnection OpenSqlite(string path)
    {
        var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ConnectionString);
        c.Open();
        return c;
    }

    public static async Task<long> ScalarAsync(DbConnection c, string sql)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        object? v = await cmd.ExecuteScalarAsync();
        return v is null or DBNull ? 0 : Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<List<Dictionary<string, object?>>> RowsAsync(DbConnection c, string sql)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        await using var r = await cmd.ExecuteReaderAsync();
        var rows = new List<Dictionary<string, object?>>();
        while (await r.ReadAsync())
        {
            var row = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (int i = 0; i < r.FieldCount; i++) row[r.GetName(i)] = r.IsDBNull(i) ? null : r.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }

    public static string Hex(object? v) => v switch
    {
        byte[] b => Convert.ToHexStringLower(b),
        string s => s.ToLowerInvariant(),
        null => "",
        _ => v.ToString()!,
    };
}
