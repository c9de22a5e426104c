using Microsoft.Data.Sqlite;
using Npgsql;

namespace ClP2p.Storage.Tests;

public class StorageOptionsTests
{
    private static readonly string DataDir = Path.Combine(Path.GetTempPath(), "clp2p-data");

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void No_db_value_selects_clp2p_db_in_the_data_directory(string? db)
    {
        StorageOptions o = StorageOptions.Parse(db, DataDir);
        Assert.Equal(StorageProvider.Sqlite, o.Provider);
        Assert.Equal(Path.Combine(DataDir, "clp2p.db"), new SqliteConnectionStringBuilder(o.ConnectionString).DataSource);
    }

    [Fact]
    public void Sqlite_prefix_takes_absolute_and_relative_paths()
    {
        Assert.Equal("/var/lib/x.db", new SqliteConnectionStringBuilder(StorageOptions.Parse("sqlite:/var/lib/x.db", DataDir).ConnectionString).DataSource);
        Assert.Equal(Path.Combine(DataDir, "sub/y.db"), new SqliteConnectionStringBuilder(StorageOptions.Parse("sqlite:sub/y.db", DataDir).ConnectionString).DataSource);
    }

    [Fact]
    public void Postgres_url_becomes_an_npgsql_connection_string()
    {
        StorageOptions o = StorageOptions.Parse("postgres://crawler:s%40cret@db.internal:6543/clp2p?sslmode=disable", DataDir);
        Assert.Equal(StorageProvider.Postgres, o.Provider);
        var b = new NpgsqlConnectionStringBuilder(o.ConnectionString);
        Assert.Equal(("db.internal", 6543, "clp2p", "crawler", "s@cret"), (b.Host, b.Port, b.Database, b.Username, b.Password));
        Assert.Equal(SslMode.Disable, b.SslMode);
        Assert.DoesNotContain("s@cret", o.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Npgsql_key_value_string_selects_postgres()
    {
        StorageOptions o = StorageOptions.Parse("Host=127.0.0.1;Port=5433;Database=c;Username=u", DataDir);
        Assert.Equal(StorageProvider.Postgres, o.Provider);
        Assert.Equal(5433, new NpgsqlConnectionStringBuilder(o.ConnectionString).Port);
    }

    [Fact]
    public void Postgres_connections_turn_jit_off_unless_options_are_given()
    {
        Assert.Equal("-c jit=off", new NpgsqlConnectionStringBuilder(StorageOptions.Parse("Host=h;Database=d", DataDir).ConnectionString).Options);
        Assert.Equal("-c work_mem=64MB", new NpgsqlConnectionStringBuilder(
            new StorageOptions(StorageProvider.Postgres, "Host=h;Options=-c work_mem=64MB").ConnectionString).Options);
    }

    [Theory]
    [InlineData("mysql://x")]
    [InlineData("sqlite:")]
    [InlineData("Database=c;Bogus Key=1")]
    [InlineData("Database=c")]
    [InlineData("just-a-word")]
    public void Invalid_values_are_rejected_with_a_reason(string db)
    {
        Assert.False(StorageOptions.TryParse(db, DataDir, out _, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
        Assert.Throws<FormatException>(() => StorageOptions.Parse(db, DataDir));
    }
}
