using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ClP2p.Storage;

/// <summary>Small ADO.NET helpers shared by the writer, the crawl store and the census queries.</summary>
internal static class Sql
{
    public static DbConnection Open(StorageOptions options) => options.Provider switch
    {
        StorageProvider.Postgres => options.PostgresDataSource.CreateConnection(),
        _ => new SqliteConnection(options.ConnectionString),
    };

    public static DbCommand Command(DbConnection connection, DbTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        DbCommand cmd = connection.CreateCommand();
        cmd.Transaction = tx;
#pragma warning disable CA2100 // SQL text is built from constants in this assembly; values are always parameters.
        cmd.CommandText = sql;
#pragma warning restore CA2100
        foreach ((string name, object? value) in parameters)
        {
            DbParameter p = cmd.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            cmd.Parameters.Add(p);
        }
        return cmd;
    }

    public static async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? tx, string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using DbCommand cmd = Command(connection, tx, sql, parameters);
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public static async Task<object?> ScalarAsync(DbConnection connection, string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using DbCommand cmd = Command(connection, null, sql, parameters);
        object? v = await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
        return v is DBNull ? null : v;
    }

    public static string? Hex(byte[]? bytes) => bytes is null ? null : Convert.ToHexStringLower(bytes);

    /// <summary>The text with each NUL character (which PostgreSQL text cannot hold) replaced by U+FFFD.</summary>
    public static string? PgText(string? value) => value is null || !value.Contains('\0', StringComparison.Ordinal) ? value : value.Replace('\0', '\uFFFD');

    public static long? Signed(ulong? value) => value is { } v ? unchecked((long)v) : null;

    public static ulong? Unsigned(long? value) => value is { } v ? unchecked((ulong)v) : null;

    public static DateTime Utc(DateTime value) => value.Kind == DateTimeKind.Utc ? value : DateTime.SpecifyKind(value, DateTimeKind.Utc);

    public static string? GetStringOrNull(this DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    public static long? GetInt64OrNull(this DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt64(i);

    public static int? GetInt32OrNull(this DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt32(i);

    public static bool? GetBooleanOrNull(this DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetBoolean(i);

    public static byte[]? GetBytesOrNull(this DbDataReader r, int i) => r.IsDBNull(i) ? null : (byte[])r.GetValue(i);

    public static DateTime GetUtc(this DbDataReader r, int i) => Utc(r.GetDateTime(i));

    public static DateTime? GetUtcOrNull(this DbDataReader r, int i) => r.IsDBNull(i) ? null : Utc(r.GetDateTime(i));
}
