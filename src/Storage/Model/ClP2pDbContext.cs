using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace ClP2p.Storage.Model;

/// <summary>
/// The EF Core model shared by both providers. Table and column names are snake_case. Each provider has its own
/// subclass (<see cref="PostgresClP2pDbContext"/>, <see cref="SqliteClP2pDbContext"/>) so that each keeps its own
/// migration set (migrations/Postgres, migrations/Sqlite).
/// </summary>
public abstract class ClP2pDbContext : DbContext
{
    protected ClP2pDbContext(DbContextOptions options) : base(options) { }

    // one set per table, each named in snake_case (enr_history for Enrs)
    public DbSet<CrawlEntity> Crawls => Set<CrawlEntity>();
    public DbSet<NodeEntity> Nodes => Set<NodeEntity>();
    public DbSet<EnrEntity> Enrs => Set<EnrEntity>();
    public DbSet<AgentVersionEntity> AgentVersions => Set<AgentVersionEntity>();
    public DbSet<IpAddressEntity> IpAddresses => Set<IpAddressEntity>();
    public DbSet<VisitEntity> Visits => Set<VisitEntity>();
    public DbSet<ForkDigestEntity> ForkDigests => Set<ForkDigestEntity>();
    public DbSet<CrawlCensusEntity> CrawlCensus => Set<CrawlCensusEntity>();
    public DbSet<CensusChangeEntity> CensusChanges => Set<CensusChangeEntity>();

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<CrawlEntity>(e =>
        {
            e.ToTable("crawls");
            e.HasKey(x => x.Id);
            e.Property(x => x.Network).IsRequired();
            e.Property(x => x.State).IsRequired();
            e.HasIndex(x => x.StartedAt);
            e.HasIndex(x => x.State);
            e.Property(x => x.Vantage).IsRequired().HasDefaultValue(CrawlVantage.Default);
            // One import per exported crawl and vantage: importing the same file twice adds nothing.
            e.HasIndex(x => new { x.Vantage, x.SourceCrawlId }).IsUnique();
        });
        modelBuilder.Entity<NodeEntity>(e =>
        {
            e.ToTable("nodes");
            e.HasKey(x => x.NodeId);
            e.Property(x => x.NodeId).ValueGeneratedNever();
            // Every discovery sighting (ENR) updates the node's last_seen: no index on it, and free space per page, so the
            // update is HOT. Visits do not rewrite node rows (see PostgresBatchSink).
            e.HasStorageParameter("fillfactor", 80);
        });
        modelBuilder.Entity<EnrEntity>(e =>
        {
            e.ToTable("enr_history");
            e.HasKey(x => new { x.NodeId, x.Seq });
            e.HasOne<NodeEntity>().WithMany().HasForeignKey(x => x.NodeId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<AgentVersionEntity>(e =>
        {
            e.ToTable("agent_versions");
            e.HasKey(x => x.Id);
            e.HasIndex(x => x.Raw).IsUnique();
            e.HasIndex(x => x.Client);
        });
        modelBuilder.Entity<IpAddressEntity>(e =>
        {
            e.ToTable("ip_addresses");
            e.HasKey(x => x.Address);
            e.HasIndex(x => x.Country);
            e.HasIndex(x => x.Asn);
        });
        modelBuilder.Entity<VisitEntity>(e =>
        {
            e.ToTable("visits");
            e.HasKey(x => x.Id);
            foreach (VisitColumn c in VisitColumns.All)
            {
                if (c.Name is "crawl_id" or "node_id") continue;
                PropertyBuilder p = e.Property(c.StoreType, c.Property);
                if (c.Required) p.IsRequired();
            }
            // No foreign keys on visits: per-row FK triggers cost more than the whole COPY (bulk writes are the point: Nebula's one-call-per-visit path is what made its PostgreSQL slow). The writer
            // upserts the node and the agent row in the same transaction as the visit, so references hold anyway.
            // One secondary index: (crawl_id, node_id). A crawl's visits arrive together, so its entries fill one region
            // of the index; a second index led by node_id took random inserts all over a growing tree and cost as much as
            // the heap itself. A node's history probes this index once per crawl instead (CensusService).
            e.HasIndex(x => new { x.CrawlId, x.NodeId });
            // And (crawl_id) alone, for reading a crawl's visits in heap order: through (crawl_id, node_id) they come in
            // node-id order, one heap page per visit (15,000 page visits for a crawl of 15,000 on ~500 pages); this one
            // keeps equal keys in heap order. Its inserts all land on the rightmost leaf (crawl ids only grow; re-dials'
            // nulls sort last) and deduplication makes it ~7 bytes a visit (20 MB for 3M visits against 262 MB).
            e.HasIndex(x => x.CrawlId);
            // And the inbound contacts by node, a partial index holding only them (a small share of the visits): the end
            // of every crawl looks up, for each of the crawl's nodes, whether it contacted us (CrawlStore.ApplyInboundAsync);
            // without it SQLite scanned the whole table once per node, 100 s of CPU at the end of a 20,000-node crawl.
            // Crawl visits never touch it, so the writer pays nothing.
            e.HasIndex("NodeId", "VisitedAt")
                .HasFilter("kind IN ('" + VisitKinds.InboundDiscv5 + "', '" + VisitKinds.InboundLibp2p + "')");
        });
        modelBuilder.Entity<ForkDigestEntity>(e =>
        {
            e.ToTable("fork_digests");
            e.HasKey(x => x.Digest);
            e.Property(x => x.Network).IsRequired();
            e.Property(x => x.Fork).IsRequired();
            e.Property(x => x.Kind).IsRequired();
        });
        modelBuilder.Entity<CrawlCensusEntity>(e =>
        {
            e.ToTable("crawl_census");
            e.HasKey(x => x.Id);
            e.Property(x => x.Network).IsRequired();
            e.Property(x => x.Dimension).IsRequired();
            e.HasOne<CrawlEntity>().WithMany().HasForeignKey(x => x.CrawlId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => new { x.CrawlId, x.Dimension });
        });
        modelBuilder.Entity<CensusChangeEntity>(e =>
        {
            e.ToTable("census_changes");
            e.HasKey(x => x.Id);
            e.Property(x => x.Kind).IsRequired();
            // PostgreSQL reads the writes a snapshot did not see from the oldest transaction it did not see on
            e.HasIndex(x => x.Txid);
        });

        ApplySnakeCase(modelBuilder);
    }

    private static void ApplySnakeCase(ModelBuilder modelBuilder)
    {
        foreach (IMutableEntityType entity in modelBuilder.Model.GetEntityTypes())
        {
            string table = entity.GetTableName()!;
            foreach (IMutableProperty property in entity.GetProperties())
                property.SetColumnName(ToSnakeCase(property.Name));
            foreach (IMutableKey key in entity.GetKeys())
                key.SetName(key.IsPrimaryKey() ? $"pk_{table}" : $"ak_{table}_{string.Join("_", key.Properties.Select(p => ToSnakeCase(p.Name)))}");
            foreach (IMutableForeignKey fk in entity.GetForeignKeys())
                fk.SetConstraintName($"fk_{table}_{fk.PrincipalEntityType.GetTableName()}_{string.Join("_", fk.Properties.Select(p => ToSnakeCase(p.Name)))}");
            foreach (IMutableIndex index in entity.GetIndexes())
                index.SetDatabaseName($"ix_{table}_{string.Join("_", index.Properties.Select(p => ToSnakeCase(p.Name)))}");
        }
    }

    /// <summary>"NextForkEpoch" → "next_fork_epoch".</summary>
    public static string ToSnakeCase(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var sb = new StringBuilder(name.Length + 8);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c))
            {
                bool boundary = i > 0 && (!char.IsUpper(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1])));
                if (boundary) sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c); // digits stay attached: "Ip4" → "ip4"
            }
        }
        return sb.ToString();
    }
}

/// <summary>The model on PostgreSQL (migrations in migrations/Postgres).</summary>
public sealed class PostgresClP2pDbContext : ClP2pDbContext
{
    public PostgresClP2pDbContext(DbContextOptions<PostgresClP2pDbContext> options) : base(options) { }

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        // visits is an append-only fact table written by COPY, never through EF: no primary key index, whose upkeep cost
        // a sixth of the ingest. id stays an identity column, unique by generation, and orders a crawl's visits. (On
        // SQLite id is the rowid alias and costs nothing, so the key stays there.)
        modelBuilder.Entity<VisitEntity>(e =>
        {
            e.Metadata.SetPrimaryKey((IReadOnlyList<IMutableProperty>?)null);
            foreach (IMutableKey key in e.Metadata.GetKeys().ToList()) e.Metadata.RemoveKey(key);
            e.HasNoKey();
            e.Property(x => x.Id).UseIdentityByDefaultColumn();
        });
    }
}

/// <summary>The model on SQLite (migrations in migrations/Sqlite).</summary>
public sealed class SqliteClP2pDbContext : ClP2pDbContext
{
    public SqliteClP2pDbContext(DbContextOptions<SqliteClP2pDbContext> options) : base(options) { }
}
