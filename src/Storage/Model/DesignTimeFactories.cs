using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace ClP2p.Storage.Model;

/// <summary>
/// Used by the dotnet-ef tool only: <c>dotnet dotnet-ef migrations add NAME --project src/Storage
/// --context PostgresClP2pDbContext --output-dir ../../migrations/Postgres --namespace ClP2p.Storage.Migrations.Postgres</c>.
/// Adding a migration does not connect; the connection string comes from CLP2P_DESIGN_PG when set.
/// </summary>
public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresClP2pDbContext>
{
    /// <inheritdoc />
    public PostgresClP2pDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresClP2pDbContext>()
            .UseNpgsql(Environment.GetEnvironmentVariable("CLP2P_DESIGN_PG") ?? "Host=127.0.0.1;Database=clp2p;Username=postgres").Options);
}

/// <summary>Used by the dotnet-ef tool only (see <see cref="PostgresDesignTimeFactory"/>), for migrations/Sqlite.</summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteClP2pDbContext>
{
    /// <inheritdoc />
    public SqliteClP2pDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteClP2pDbContext>()
            .UseSqlite(Environment.GetEnvironmentVariable("CLP2P_DESIGN_SQLITE") ?? "Data Source=design-time.db").Options);
}
