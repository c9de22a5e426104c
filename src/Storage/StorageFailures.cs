using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ClP2p.Storage;

/// <summary>The configured database does not exist (read-only commands never create one).</summary>
public sealed class DatabaseMissingException : Exception
{
    public DatabaseMissingException() { }

    public DatabaseMissingException(string message) : base(message) { }

    public DatabaseMissingException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Turns a database failure into one line naming its cause (for the command line; the log keeps the rest).</summary>
public static class StorageFailures
{
    /// <summary>One line for a database failure, or null when <paramref name="ex"/> is not one.</summary>
    public static string? Describe(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case DatabaseMissingException missing:
                    return missing.Message;
                case PostgresException pg:
                    return pg.SqlState switch
                    {
                        // https://www.postgresql.org/docs/current/errcodes-appendix.html
                        "3D000" => $"PostgreSQL: {pg.MessageText} (create it first, e.g. createdb NAME, or fix Database= in --db)",
                        "28P01" or "28000" => $"PostgreSQL refused the login: {pg.MessageText} (check Username/Password in --db)",
                        "57P03" => $"PostgreSQL is starting up or shutting down: {pg.MessageText}",
                        "53300" => $"PostgreSQL has no free connection: {pg.MessageText}",
                        _ => null,
                    } ?? $"PostgreSQL error {pg.SqlState}: {pg.MessageText}";
                case NpgsqlException npg when npg.InnerException is SocketException or TimeoutException or IOException:
                    return $"cannot reach PostgreSQL: {OneLine(npg.Message)} ({OneLine(npg.InnerException!.Message)}); is the server running and is Host/Port in --db right?";
                case NpgsqlException { IsTransient: true } npg:
                    // a connection that failed for another network reason (several hosts, each failing): Npgsql marks it
                    // transient, which is the property to decide on, not its text
                    return $"cannot reach PostgreSQL: {OneLine(npg.Message)}; is the server running and is Host/Port in --db right?";
                case SqliteException sqlite when sqlite.SqliteErrorCode is 14 or 8 or 23: // SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_AUTH
                    return $"cannot open the SQLite database: {OneLine(sqlite.Message)} (check the path in --db/--data-dir and its permissions)";
                case SqliteException sqlite when sqlite.SqliteErrorCode is 26 or 11: // SQLITE_NOTADB, SQLITE_CORRUPT
                    return $"the SQLite file is not a usable database: {OneLine(sqlite.Message)}";
                case SqliteException sqlite when sqlite.SqliteErrorCode is 13 or 10: // SQLITE_FULL, SQLITE_IOERR
                    return $"the SQLite database cannot be written: {OneLine(sqlite.Message)} (disk full or read-only?)";
            }
        }
        return null;
    }

    private static string OneLine(string s) =>
        string.Join(' ', s.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
