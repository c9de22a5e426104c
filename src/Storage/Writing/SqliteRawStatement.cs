using System.Globalization;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ClP2p.Storage;

/// <summary>
/// A statement prepared on an open <see cref="SqliteConnection"/> and bound and stepped through SQLitePCLRaw, without
/// Microsoft.Data.Sqlite's per-execution machinery (a parameter binder object per value, a data reader per execution).
/// Every value is stored as Microsoft.Data.Sqlite's binder stores it (its SqliteValueBinder): booleans and integers as
/// INTEGER, byte arrays as BLOB, strings as TEXT through the same SQLitePCLRaw call, DateTime as TEXT
/// "yyyy-MM-dd HH:mm:ss.FFFFFFF", null as NULL; ulong values are reinterpreted as long by the caller
/// (<see cref="Sql.Signed"/>), as before. Parameters are bound by position (1-based, in the order of the SQL text).
/// Runs inside the connection's transaction: statements on a connection handle share its transaction
/// (https://www.sqlite.org/lang_transaction.html).
/// </summary>
internal sealed class SqliteRawStatement : IDisposable
{
    /// <summary>DateTime text, as Microsoft.Data.Sqlite writes it (and EF Core's SQLite provider reads it).</summary>
    private const string DateTimeFormat = @"yyyy\-MM\-dd HH\:mm\:ss.FFFFFFF";

    /// <summary>Longest value formatted on the stack (hex text of 128 bytes, a DateTime is 27 bytes).</summary>
    private const int StackBytes = 256;

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _stmt;

    private SqliteRawStatement(sqlite3 db, sqlite3_stmt stmt)
    {
        _db = db;
        _stmt = stmt;
    }

    /// <summary>
    /// Prepares <paramref name="sql"/> (one statement) on <paramref name="connection"/>. <paramref name="parameters"/>
    /// names its parameters in binding order; a mismatch is our bug and throws.
    /// </summary>
    public static SqliteRawStatement Prepare(SqliteConnection connection, string sql, IReadOnlyList<string> parameters)
    {
        sqlite3 db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        int rc = raw.sqlite3_prepare_v2(db, sql, out sqlite3_stmt stmt);
        if (rc != raw.SQLITE_OK)
        {
            try
            {
                SqliteException.ThrowExceptionForRC(rc, db);
            }
            finally
            {
                stmt?.Dispose();
            }
        }
        var statement = new SqliteRawStatement(db, stmt);
        if (raw.sqlite3_bind_parameter_count(stmt) != parameters.Count)
        {
            statement.Dispose();
            throw new InvalidOperationException($"{sql}: {raw.sqlite3_bind_parameter_count(stmt)} parameters, {parameters.Count} named");
        }
        for (int i = 0; i < parameters.Count; i++)
        {
            if (raw.sqlite3_bind_parameter_index(stmt, parameters[i]) != i + 1)
            {
                statement.Dispose();
                throw new InvalidOperationException($"{sql}: parameter {parameters[i]} is not number {i + 1}");
            }
        }
        return statement;
    }

    /// <summary>Binds NULL to parameter <paramref name="index"/> (0-based).</summary>
    public void BindNull(int index) => Check(raw.sqlite3_bind_null(_stmt, index + 1));

    /// <summary>Binds an INTEGER, or NULL.</summary>
    public void Bind(int index, long? value)
    {
        if (value is { } v) Check(raw.sqlite3_bind_int64(_stmt, index + 1, v));
        else BindNull(index);
    }

    /// <summary>Binds an INTEGER, or NULL.</summary>
    public void Bind(int index, int? value) => Bind(index, (long?)value);

    /// <summary>Binds 1 or 0 (INTEGER), or NULL.</summary>
    public void Bind(int index, bool? value) => Bind(index, value is { } b ? (b ? 1L : 0L) : null);

    /// <summary>Binds TEXT, or NULL: SQLitePCLRaw's string overload, the call Microsoft.Data.Sqlite makes.</summary>
    public void Bind(int index, string? value)
    {
        if (value is null) BindNull(index);
        else Check(raw.sqlite3_bind_text(_stmt, index + 1, value));
    }

    /// <summary>Binds a BLOB (empty stays an empty BLOB), or NULL.</summary>
    public void Bind(int index, byte[]? value)
    {
        if (value is null) BindNull(index);
        else Check(raw.sqlite3_bind_blob(_stmt, index + 1, value));
    }

    /// <summary>Binds the text Microsoft.Data.Sqlite writes for a DateTime (its kind is not part of it).</summary>
    public void Bind(int index, DateTime value)
    {
        Span<byte> utf8 = stackalloc byte[StackBytes];
        if (!value.TryFormat(utf8, out int written, DateTimeFormat, CultureInfo.InvariantCulture))
            throw new InvalidOperationException("DateTime text longer than " + StackBytes.ToString(CultureInfo.InvariantCulture));
        Check(raw.sqlite3_bind_text(_stmt, index + 1, utf8[..written]));
    }

    /// <summary>Binds <paramref name="value"/> as lowercase hex TEXT (<see cref="Sql.Hex"/>), or NULL.</summary>
    public void BindHex(int index, byte[]? value)
    {
        // A zero-length span is bound as NULL by SQLitePCLRaw (a null pointer), so empty and long values take the string path.
        if (value is null || value.Length == 0 || value.Length * 2 > StackBytes)
        {
            Bind(index, Sql.Hex(value));
            return;
        }
        Span<byte> utf8 = stackalloc byte[StackBytes];
        if (!Convert.TryToHexStringLower(value, utf8, out int written))
            throw new InvalidOperationException("hex text longer than " + StackBytes.ToString(CultureInfo.InvariantCulture));
        Check(raw.sqlite3_bind_text(_stmt, index + 1, utf8[..written]));
    }

    /// <summary>Runs the statement to its end and resets it for the next row; returns the rows it changed.</summary>
    public int Execute()
    {
        int rc;
        while ((rc = raw.sqlite3_step(_stmt)) == raw.SQLITE_ROW) { }
        Reset(rc);
        return raw.sqlite3_changes(_db);
    }

    /// <summary>Runs a query and returns the first column of its first row as an integer (null: no row or NULL).</summary>
    public long? ScalarInt64()
    {
        int rc = raw.sqlite3_step(_stmt);
        long? value = rc == raw.SQLITE_ROW && raw.sqlite3_column_type(_stmt, 0) != raw.SQLITE_NULL ? raw.sqlite3_column_int64(_stmt, 0) : null;
        while (rc == raw.SQLITE_ROW) rc = raw.sqlite3_step(_stmt);
        Reset(rc);
        return value;
    }

    /// <summary>
    /// Resets the statement (a statement left unreset would keep its write open and block COMMIT) and throws the
    /// <see cref="SqliteException"/> Microsoft.Data.Sqlite would for a failed step (so error mapping and retries see
    /// the same codes). Busy waits are not needed: the writer's transaction is BEGIN IMMEDIATE, which holds the write
    /// lock from its start (https://www.sqlite.org/lang_transaction.html); a SQLITE_BUSY all the same is transient to
    /// <see cref="ResultWriter"/>, which retries the batch.
    /// </summary>
    private void Reset(int rc)
    {
        try
        {
            // the message is read before the reset, as Microsoft.Data.Sqlite does
            if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, _db);
        }
        finally
        {
            raw.sqlite3_reset(_stmt);
        }
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db);
    }

    /// <summary>Finalizes the statement (before its connection goes back to the pool).</summary>
    public void Dispose() => _stmt.Dispose();
}
