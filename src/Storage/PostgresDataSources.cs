using System.Collections.Concurrent;
using Npgsql;

namespace ClP2p.Storage;

/// <summary>
/// One <see cref="NpgsqlDataSource"/> (one connection pool) per PostgreSQL connection string in this process, shared by
/// EF Core contexts, the result writer, the crawl store and the census queries: one setting, one pool.
/// </summary>
internal static class PostgresDataSources
{
    private static readonly ConcurrentDictionary<string, Lazy<NpgsqlDataSource>> Sources = new(StringComparer.Ordinal);

    public static NpgsqlDataSource For(string connectionString) =>
        Sources.GetOrAdd(connectionString, static cs => new Lazy<NpgsqlDataSource>(() => NpgsqlDataSource.Create(cs))).Value;

    /// <summary>Closes the idle connections of every pool (after a server restart, or before dropping a database).</summary>
    public static void ClearAll()
    {
        foreach (Lazy<NpgsqlDataSource> source in Sources.Values)
        {
            if (source.IsValueCreated) source.Value.Clear();
        }
        NpgsqlConnection.ClearAllPools();
    }
}
