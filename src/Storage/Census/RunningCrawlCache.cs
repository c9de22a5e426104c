using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace ClP2p.Storage;

/// <summary>
/// Answers about running crawls, kept while the database has not changed: each answer is stored with the
/// <see cref="DataVersion"/> read before it was computed, and served again only while a newly read version is the same.
/// A running crawl's census changes with more than its visits (a visit's geo row is written after the visit, a crawl's
/// inbound contacts are marked on visits already written, a data repair rewrites agents and ENR fields), so the version
/// is the database's, not a count of the crawl's visits: any committed write ends every entry, which is never wrong
/// and, between a crawl's batches, still answers every reader from memory. Bounded like <see cref="FinishedCrawlCache{T}"/>.
/// Thread-safe; an answer computed at an older version may replace a newer one (the next read misses, never errs).
/// </summary>
internal sealed class RunningCrawlCache<T>
    where T : class
{
    /// <summary>Most entries kept (running crawls × the queries asked of them).</summary>
    public const int Capacity = 256;

    private readonly ConcurrentDictionary<(long Crawl, string Query), (string Version, T Value)> _entries = new();

    /// <summary>The answer kept for <paramref name="crawl"/> and <paramref name="query"/> at <paramref name="version"/>,
    /// else <paramref name="compute"/>'s (which must read the database after <paramref name="version"/> was read), kept.</summary>
    public async Task<T> GetOrComputeAsync(long crawl, string version, string query, Func<Task<T>> compute)
    {
        var key = (crawl, query);
        if (_entries.TryGetValue(key, out var hit) && string.Equals(hit.Version, version, StringComparison.Ordinal)) return hit.Value;
        T value = await compute().ConfigureAwait(false);
        if (_entries.Count >= Capacity) _entries.Clear();
        _entries[key] = (version, value);
        return value;
    }
}

/// <summary>
/// A token for the committed state of a database: two equal tokens read at two times mean that no write committed in
/// between, so what was read after the first still holds at the second (<see cref="RunningCrawlCache{T}"/>).
/// PostgreSQL: the current snapshot (<c>pg_current_snapshot()</c>: xmin, xmax and the transactions in progress), which
/// every commit of a writing transaction changes (it leaves the in-progress list or moves xmax). SQLite: <c>PRAGMA
/// data_version</c> on one connection of our own that never writes; it changes whenever another connection, in this
/// process or another, commits (sqlite.org/pragma.html#pragma_data_version). The value is that connection's own, so the
/// connection is kept open for the life of this object (its census service's: one per process), and closed with the
/// process.
/// </summary>
internal sealed class DataVersion(StorageOptions options)
{
    private readonly SemaphoreSlim _sqliteLock = new(1, 1);
    private SqliteConnection? _sqlite;
    private long _sqliteOpened;

    /// <summary>The current token. <paramref name="conn"/> is the request's open connection (PostgreSQL reads it there).</summary>
    public async Task<string> ReadAsync(DbConnection conn, CancellationToken ct)
    {
        if (options.Provider == StorageProvider.Postgres)
            return Convert.ToString(await Sql.ScalarAsync(conn, "SELECT CAST(pg_current_snapshot() AS TEXT)", ct).ConfigureAwait(false),
                System.Globalization.CultureInfo.InvariantCulture) ?? "";
        await _sqliteLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_sqlite is null)
            {
                // Not pooled: its data_version must be read on this one connection, and a pooled one could be lent to a
                // writer, whose own commits data_version does not count.
                var c = new SqliteConnection(new SqliteConnectionStringBuilder(options.ConnectionString) { Pooling = false }.ConnectionString);
                try
                {
                    await c.OpenAsync(ct).ConfigureAwait(false);
                }
                catch
                {
                    await c.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
                _sqlite = c;
                _sqliteOpened++;
            }
            object? v = await Sql.ScalarAsync(_sqlite, "PRAGMA data_version", ct).ConfigureAwait(false);
            // the connection's generation keeps a version read on a reopened connection from matching an old one
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{_sqliteOpened}:{v}");
        }
        catch
        {
            // a broken connection is opened again on the next read (a new generation)
            _sqlite?.Dispose();
            _sqlite = null;
            throw;
        }
        finally
        {
            _sqliteLock.Release();
        }
    }
}
