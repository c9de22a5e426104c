using ClP2p.Storage.Model;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace ClP2p.Storage;

/// <summary>Which database engine holds the data.</summary>
public enum StorageProvider
{
    /// <summary>An embedded SQLite file: the zero-setup default.</summary>
    Sqlite,
    /// <summary>A PostgreSQL server: for deployments and large data sets.</summary>
    Postgres,
}

/// <summary>
/// Where the data lives: a provider and its ADO.NET connection string. Build one with <see cref="Parse(string?, string)"/> from the
/// user's <c>--db</c> value:
/// <list type="bullet">
/// <item>null or empty → SQLite file <c>clp2p.db</c> in the data directory;</item>
/// <item><c>sqlite:PATH</c> → SQLite file PATH (relative paths are taken from the data directory);</item>
/// <item><c>postgres://user:pass@host:port/db?sslmode=...</c> (or <c>postgresql://</c>) → PostgreSQL;</item>
/// <item>an Npgsql key=value string such as <c>Host=...;Database=...;Username=...</c> → PostgreSQL.</item>
/// </list>
/// PostgreSQL connections get <c>Options=-c jit=off</c> unless the connection string sets Options itself.
/// </summary>
public sealed record StorageOptions
{
    /// <summary>The file name of the default embedded database.</summary>
    public const string DefaultSqliteFileName = "clp2p.db";

    /// <summary>Creates options for a provider and a connection string in that provider's syntax.</summary>
    public StorageOptions(StorageProvider provider, string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        Provider = provider;
        ConnectionString = provider == StorageProvider.Postgres ? WithoutJit(connectionString) : connectionString;
    }

    /// <summary>
    /// Census queries are short; PostgreSQL's JIT compiles them when a correlated subquery looks expensive and then
    /// spends ~300 ms compiling a 15 ms query. Unless the connection string sets server Options, turn JIT off.
    /// </summary>
    private static string WithoutJit(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (string.IsNullOrEmpty(builder.Options)) builder.Options = "-c jit=off";
        return builder.ConnectionString;
    }

    /// <summary>The database engine.</summary>
    public StorageProvider Provider { get; }

    /// <summary>The ADO.NET connection string (Npgsql or Microsoft.Data.Sqlite syntax).</summary>
    public string ConnectionString { get; }

    /// <summary>Parses a <c>--db</c> value with the current directory as the data directory.</summary>
    public static StorageOptions Parse(string? db) => Parse(db, Environment.CurrentDirectory);

    /// <summary>Parses a <c>--db</c> value (see the type's summary). Throws <see cref="FormatException"/> when invalid.</summary>
    /// <param name="db">The user's value; null or empty selects the embedded default.</param>
    /// <param name="dataDirectory">Directory for the default file and for relative SQLite paths.</param>
    public static StorageOptions Parse(string? db, string dataDirectory)
    {
        if (TryParse(db, dataDirectory, out StorageOptions? options, out string? error))
            return options;
        throw new FormatException(error);
    }

    /// <summary>Parses a <c>--db</c> value without throwing; <paramref name="error"/> says what is wrong.</summary>
    public static bool TryParse(string? db, string dataDirectory, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StorageOptions? options, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        options = null;
        error = null;
        db = db?.Trim();
        if (string.IsNullOrEmpty(db))
        {
            options = ForSqliteFile(Path.Combine(dataDirectory, DefaultSqliteFileName));
            return true;
        }
        if (db.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            string path = db["sqlite:".Length..];
            if (path.Length == 0)
            {
                error = "--db sqlite:PATH needs a file path after 'sqlite:'";
                return false;
            }
            options = ForSqliteFile(Path.IsPathRooted(path) ? path : Path.Combine(dataDirectory, path));
            return true;
        }
        if (db.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || db.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            if (!TryParsePostgresUrl(db, out string? cs, out error))
                return false;
            options = new StorageOptions(StorageProvider.Postgres, cs);
            return true;
        }
        if (db.Contains('=', StringComparison.Ordinal))
        {
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(db);
                if (string.IsNullOrEmpty(builder.Host))
                {
                    error = "the PostgreSQL connection string has no Host";
                    return false;
                }
                options = new StorageOptions(StorageProvider.Postgres, builder.ConnectionString);
                return true;
            }
            catch (ArgumentException ex)
            {
                error = $"invalid PostgreSQL connection string: {ex.Message}";
                return false;
            }
        }
        error = $"unrecognised --db value '{db}': use sqlite:PATH, postgres://user:pass@host:port/db, or Host=...;Database=...";
        return false;
    }

    /// <summary>Options for a SQLite file (created on first use, with its directory).</summary>
    public static StorageOptions ForSqliteFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = Path.GetFullPath(path),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 60,
            ForeignKeys = true,
        };
        return new StorageOptions(StorageProvider.Sqlite, builder.ConnectionString);
    }

    private static bool TryParsePostgresUrl(string url, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? connectionString, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        connectionString = null;
        error = null;
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || string.IsNullOrEmpty(uri.Host))
        {
            error = $"invalid PostgreSQL URL '{Redact(url)}'";
            return false;
        }
        var builder = new NpgsqlConnectionStringBuilder { Host = uri.Host };
        if (!uri.IsDefaultPort && uri.Port > 0) builder.Port = uri.Port;
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            string[] parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2) builder.Password = Uri.UnescapeDataString(parts[1]);
        }
        string database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0) builder.Database = database;
        string query = uri.Query.TrimStart('?');
        foreach (string pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = pair.Split('=', 2);
            string key = Uri.UnescapeDataString(kv[0]);
            string value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            try
            {
                builder[key switch { "sslmode" => "SSL Mode", "connect_timeout" => "Timeout", "application_name" => "Application Name", _ => key }] = value;
            }
            catch (ArgumentException)
            {
                error = $"unknown PostgreSQL URL parameter '{key}'";
                return false;
            }
        }
        connectionString = builder.ConnectionString;
        return true;
    }

    /// <summary>A description safe for logs: provider plus connection string without the password.</summary>
    public string Describe() => Provider switch
    {
        StorageProvider.Postgres => "postgres " + Redact(ConnectionString),
        _ => "sqlite " + new SqliteConnectionStringBuilder(ConnectionString).DataSource,
    };

    private static string Redact(string cs)
    {
        try
        {
            if (cs.Contains("://", StringComparison.Ordinal))
                return System.Text.RegularExpressions.Regex.Replace(cs, "://([^:@/]*):[^@/]*@", "://$1:***@");
            var b = new NpgsqlConnectionStringBuilder(cs);
            if (!string.IsNullOrEmpty(b.Password)) b.Password = "***";
            return b.ConnectionString;
        }
        catch (ArgumentException)
        {
            return "(unparsable)";
        }
    }

    /// <summary>The process's one connection pool for this PostgreSQL database (EF Core, the writer and the queries share it).</summary>
    internal NpgsqlDataSource PostgresDataSource => PostgresDataSources.For(ConnectionString);

    /// <summary>Closes the idle pooled PostgreSQL connections of this process (after a server restart, before dropping a database).</summary>
    public static void ClearPostgresPools() => PostgresDataSources.ClearAll();

    /// <summary>A new EF Core context for this database (the caller disposes it).</summary>
    internal ClP2pDbContext CreateDbContext() => Provider switch
    {
        StorageProvider.Postgres => new PostgresClP2pDbContext(new DbContextOptionsBuilder<PostgresClP2pDbContext>()
            .UseNpgsql(PostgresDataSource).Options),
        _ => new SqliteClP2pDbContext(new DbContextOptionsBuilder<SqliteClP2pDbContext>()
            .UseSqlite(ConnectionString).Options),
    };
}
