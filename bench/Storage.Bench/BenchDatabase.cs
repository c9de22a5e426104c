using ClP2p.Storage;
using Npgsql;

namespace ClP2p.Bench;

/// <summary>
/// The PostgreSQL the storage benchmarks use: CLP2P_BENCH_PG (an Npgsql connection string with rights to create
/// databases). Start a throwaway one with <c>eval "$(scripts/pg-tmp start)"</c>. With CLP2P_BENCH_SQLITE set to a
/// directory, each database is instead the SQLite file DIR/NAME.db (Api.Bench's census data set; Storage.Bench's
/// ingest benchmarks need PostgreSQL).
/// </summary>
internal static class BenchDatabase
{
    /// <summary>The directory of SQLite bench databases (CLP2P_BENCH_SQLITE), or null for PostgreSQL.</summary>
    public static string? SqliteDirectory => Environment.GetEnvironmentVariable("CLP2P_BENCH_SQLITE") is { Length: > 0 } dir ? dir : null;

    private static string SqliteFile(string database) => Path.Combine(SqliteDirectory!, database + ".db");

    public static string AdminConnectionString =>
        Environment.GetEnvironmentVariable("CLP2P_BENCH_PG") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                "CLP2P_BENCH_PG is not set. Start a throwaway PostgreSQL with `eval \"$(scripts/pg-tmp start)\"` " +
                "(or set it to an Npgsql connection string such as Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres).");

    public static StorageOptions Options(string database) => SqliteDirectory is not null ? StorageOptions.ForSqliteFile(SqliteFile(database)) :
        new(StorageProvider.Postgres, new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database, CommandTimeout = 600 }.ConnectionString);

    public static async Task<bool> ExistsAsync(string database)
    {
        if (SqliteDirectory is not null) return File.Exists(SqliteFile(database));
        await using var admin = new NpgsqlConnection(AdminConnectionString);
        await admin.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @n", admin);
        cmd.Parameters.AddWithValue("n", database);
        return await cmd.ExecuteScalarAsync() is not null;
    }

    public static async Task RecreateAsync(string database)
    {
        await DropAsync(database);
        if (SqliteDirectory is not null) Directory.CreateDirectory(SqliteDirectory);
        else await ExecAdminAsync($"CREATE DATABASE {database}");
        await StorageMigrator.MigrateAsync(Options(database));
    }

    public static Task DropAsync(string database)
    {
        if (SqliteDirectory is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (string suffix in new[] { "", "-wal", "-shm" }) File.Delete(SqliteFile(database) + suffix);
            return Task.CompletedTask;
        }
        StorageOptions.ClearPostgresPools();
        return ExecAdminAsync($"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
    }

    public static async Task ExecAsync(string database, string sql)
    {
        if (SqliteDirectory is not null)
        {
            // PostgreSQL's maintenance (VACUUM ANALYZE) becomes SQLite's statistics pass
            await using var lite = new Microsoft.Data.Sqlite.SqliteConnection(Options(database).ConnectionString);
            await lite.OpenAsync();
            await using var analyze = lite.CreateCommand();
            analyze.CommandText = sql.StartsWith("VACUUM", StringComparison.Ordinal) ? "ANALYZE" : sql;
            analyze.CommandTimeout = 0;
            await analyze.ExecuteNonQueryAsync();
            return;
        }
        await using var conn = new NpgsqlConnection(Options(database).ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task ExecAdminAsync(string sql)
    {
        await using var admin = new NpgsqlConnection(AdminConnectionString);
        await admin.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, admin);
        await cmd.ExecuteNonQueryAsync();
    }
}

/// <summary>Synthetic but realistic observations: client mix, fork mix, countries, outcomes.</summary>
internal static class Synthetic
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly (string Client, string[] Versions, string Os, string Arch, int Weight)[] Clients =
    [
        ("lighthouse", ["v7.1.0", "v7.0.1", "v6.0.1"], "linux", "x86_64", 35),
        ("prysm", ["v6.0.4", "v6.0.3", "v5.3.0"], "linux", "x86_64", 30),
        ("teku", ["v25.6.0", "v25.4.1"], "linux", "x86_64", 12),
        ("nimbus", ["v25.7.0", "v25.6.0"], "linux", "aarch64", 8),
        ("lodestar", ["v1.33.0", "v1.32.0"], "linux", "x86_64", 6),
        ("grandine", ["v1.1.2"], "linux", "x86_64", 4),
        ("erigon", ["v3.0.15"], "linux", "x86_64", 3),
        ("unknown", ["v0"], "freebsd", "x86_64", 2),
    ];

    private static readonly string[] Countries = ["US", "DE", "FI", "FR", "GB", "NL", "SG", "JP", "CA", "AU", "CH", "PL", "KR", "IE", "BR", "IN", "SE", "AT", "ES", "IT"];
    private static readonly (string Digest, string Network, string Fork)[] Forks =
        [("6a95a1a9", "mainnet", "electra"), ("6a95a1a9", "mainnet", "electra"), ("6a95a1a9", "mainnet", "electra"), ("f5a5fd42", "mainnet", "phase0"), ("2c6b4c4a", "hoodi", "electra")];
    private static readonly string[] Outcomes = ["ok", "ok", "ok", "ok", "ok", "ok", "io_timeout", "connection_refused", "connection_reset_by_peer", "not_dialled"];

    public static byte[] NodeId(int i)
    {
        var id = new byte[32];
        new Random(i).NextBytes(id);
        return id;
    }

    public static string Ip(int i) => i % 9 == 0 ? $"2001:db8:{i >> 16:x}::{i & 0xffff:x}" : $"{11 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.{(i * 7) & 255}";

    public static EnrObservation Enr(int node, ulong seq, DateTimeOffset at)
    {
        var f = Forks[node % Forks.Length];
        byte[] id = NodeId(node);
        return new EnrObservation
        {
            NodeId = id,
            Seq = seq,
            Raw = [.. id, .. id, .. id, .. id, (byte)seq],
            SeenAt = at,
            PublicKey = [0x02, .. id],
            Ip4 = Ip(node),
            Udp = 9000,
            Tcp = 9000,
            ForkDigest = Convert.FromHexString(f.Digest),
            NetworkName = f.Network,
            ForkName = f.Fork,
            NextForkVersion = [6, 0, 0, 0],
            NextForkEpoch = ulong.MaxValue,
            Attnets = [0, 0, 0, 0, 0, 0, 0, 3],
            Syncnets = [0],
            Cgc = 4,
        };
    }

    public static VisitObservation Visit(long crawl, int node, int round, DateTimeOffset at)
    {
        int h = (int)((uint)(node * 2654435761u) >> 8);
        string outcome = Outcomes[(h + round) % Outcomes.Length];
        int w = h % 100, acc = 0;
        var c = Clients[^1];
        foreach (var x in Clients) { acc += x.Weight; if (w < acc) { c = x; break; } }
        string version = c.Versions[(h / 100 + round / 50) % c.Versions.Length];
        bool ok = outcome == "ok";
        return new VisitObservation
        {
            CrawlId = crawl,
            NodeId = NodeId(node),
            VisitedAt = at,
            EnrSeq = 1,
            Ip = Ip(node),
            DiscoveryAnswered = true,
            Neighbours = 16,
            DialOutcome = outcome,
            DialError = ok || outcome == "not_dialled" ? null : "dial: " + outcome,
            LatencyMs = ok ? 20 + h % 300 : null,
            AgentVersion = ok ? $"{c.Client}/{version}/{c.Arch}-{c.Os}" : null,
            Client = ok ? c.Client : null,
            ClientVersion = ok ? version : null,
            Os = ok ? c.Os : null,
            Arch = ok ? c.Arch : null,
            PeerId = ok ? "16Uiu2HAm" + node : null,
            Muxer = ok ? "/yamux/1.0.0" : null,
            StatusForkDigest = ok ? [0x6a, 0x95, 0xa1, 0xa9] : null,
            FinalizedRoot = ok ? new byte[32] : null,
            FinalizedEpoch = ok ? 380_000UL + (ulong)round : null,
            HeadRoot = ok ? new byte[32] : null,
            HeadSlot = ok ? 12_160_000UL + (ulong)round * 32 : null,
            EarliestAvailableSlot = ok ? 0UL : null,
            StatusVersion = ok ? 2 : null,
            MetadataSeq = ok ? 10UL : null,
            MetadataAttnets = ok ? new byte[8] : null,
            MetadataSyncnets = ok ? new byte[1] : null,
            CustodyGroupCount = ok ? 4UL : null,
            MetadataVersion = ok ? 3 : null,
        };
    }

    public static IpGeo Geo(int node) => new()
    {
        Ip = Ip(node),
        Country = Countries[node % Countries.Length],
        City = "city" + node % 50,
        Asn = 10_000 + node % 30,
        AsOrg = "AS org " + node % 30,
        LookedUpAt = T0,
    };
}
