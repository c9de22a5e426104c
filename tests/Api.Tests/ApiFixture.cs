using ClP2p.Storage;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;

namespace ClP2p.Api.Tests;

/// <summary>A fresh PostgreSQL database (CLP2P_TEST_PG, started by scripts/test) seeded through the Storage writer,
/// and the API host over it.</summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>What each seeded node is: client (null when not dialled ok), outcome, country, fork name, ip.</summary>
    public sealed record SeedNode(int Index, string? Client, string Outcome, string? Country, string Fork, string Ip);

    private string _admin = "";
    private string _database = "";
    public StorageOptions Storage { get; private set; } = null!;
    public WebApplicationFactory<Program> Factory { get; private set; } = null!;
    public long Crawl1 { get; private set; }
    public long Crawl2 { get; private set; }

    public static readonly SeedNode[] Crawl2Nodes =
    [
        new(1, "lighthouse", "ok", "DE", "fulu", "1.1.1.1"),
        new(2, "lighthouse", "ok", "DE", "fulu", "1.1.1.2"),
        new(3, "prysm", "ok", "US", "fulu", "1.1.1.3"),
        new(4, "teku", "ok", "US", "electra", "2a01:4f8::4"),
        new(5, null, "refused", "FR", "fulu", "1.1.1.5"),
        new(6, null, "timeout", null, "fulu", "1.1.1.6"),
        new(7, null, "not_dialled", null, "fulu", "1.1.1.7"),
    ];

    public static readonly SeedNode[] Crawl1Nodes =
    [
        new(1, "lighthouse", "ok", "DE", "electra", "1.1.1.1"),
        new(3, "prysm", "refused", "US", "electra", "1.1.1.3"),
        new(8, "nimbus", "ok", "NL", "electra", "1.1.1.8"),
    ];

    /// <summary>How many slots each dialled node's Status head is behind mainnet's wall clock at its visit (sync health).</summary>
    public static readonly Dictionary<int, long> HeadLag = new() { [1] = 10, [2] = 100, [3] = 9000, [4] = 0, [8] = 5 };

    /// <summary>How many epochs each dialled node's finalized checkpoint is behind mainnet's wall-clock epoch.</summary>
    public static readonly Dictionary<int, long> FinalizedLag = new() { [1] = 2, [2] = 3, [3] = 300, [4] = 10, [8] = 2 };

    /// <summary>Mainnet's wall-clock slot (genesis 1606824023, 12 s slots).</summary>
    public static long MainnetSlot(DateTimeOffset at) => (at.ToUnixTimeSeconds() - 1606824023) / 12;

    public static byte[] NodeId(int i)
    {
        var id = new byte[32];
        new Random(i).NextBytes(id);
        id[0] = (byte)i;
        return id;
    }

    public async Task InitializeAsync()
    {
        _admin = Environment.GetEnvironmentVariable("CLP2P_TEST_PG") is { Length: > 0 } cs ? cs
            : throw new InvalidOperationException("CLP2P_TEST_PG is not set: run the tests with scripts/test, which starts PostgreSQL");
        _database = "clp2p_api_" + Guid.NewGuid().ToString("N")[..12];
        await using (var conn = new NpgsqlConnection(_admin))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE {_database}", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        string connString = new NpgsqlConnectionStringBuilder(_admin) { Database = _database }.ConnectionString;
        Storage = StorageOptions.Parse(connString, Path.GetTempPath());
        await StorageMigrator.MigrateAsync(Storage);
        var crawls = new CrawlStore(Storage);
        Crawl1 = await SeedCrawlAsync(crawls, T0, Crawl1Nodes, seq: 1);
        Crawl2 = await SeedCrawlAsync(crawls, T0.AddHours(1), Crawl2Nodes, seq: 2);   // nodes re-seen with a newer record
        Factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseSetting("db", connString));
    }

    private async Task<long> SeedCrawlAsync(CrawlStore crawls, DateTimeOffset at, SeedNode[] nodes, ulong seq)
    {
        long id = await crawls.StartCrawlAsync("mainnet", at, null);
        await using (var writer = new ResultWriter(Storage))
        {
            foreach (var n in nodes)
            {
                await writer.AddEnrAsync(new EnrObservation
                {
                    NodeId = NodeId(n.Index), Seq = seq, Raw = [0xf8, (byte)n.Index, (byte)seq, .. NodeId(n.Index)], SeenAt = at,
                    Ip4 = n.Ip.Contains(':', StringComparison.Ordinal) ? null : n.Ip, Ip6 = n.Ip.Contains(':', StringComparison.Ordinal) ? n.Ip : null,
                    Udp = 9000, Tcp = 9000,
                    ForkDigest = n.Fork == "fulu" ? [0xcc, 0x2c, 0x5c, 0xdb] : [0xad, 0x53, 0x2c, 0xeb], ForkName = n.Fork, NetworkName = "mainnet",
                    NextForkVersion = [6, 0, 0, 0], NextForkEpoch = ulong.MaxValue,
                    Attnets = n.Index == 1 ? [0xff, 0x01, 0, 0, 0, 0, 0, 0] : null,
                });
                bool ok = n.Outcome == "ok";
                await writer.AddVisitAsync(new VisitObservation
                {
                    CrawlId = id, NodeId = NodeId(n.Index), VisitedAt = at.AddSeconds(n.Index), EnrSeq = seq, Ip = n.Ip,
                    DiscoveryAnswered = true, Neighbours = 3, DialOutcome = n.Outcome,
                    DialError = ok || n.Outcome == "not_dialled" ? null : "dial failed: " + n.Outcome,
                    AgentVersion = ok ? $"{n.Client}/v1.{n.Index}.0/x86_64-linux" : null, Client = ok ? n.Client : null,
                    ClientVersion = ok ? $"v1.{n.Index}.0" : null, Os = ok ? "linux" : null, Arch = ok ? "x86_64" : null,
                    PeerId = ok ? "16Uiu2HAm" + n.Index : null, LatencyMs = ok ? 10 + n.Index : null,
                    StatusForkDigest = ok ? [0xcc, 0x2c, 0x5c, 0xdb] : null, HeadSlot = ok ? (ulong)(MainnetSlot(at.AddSeconds(n.Index)) - HeadLag[n.Index]) : null,
                    FinalizedEpoch = ok ? (ulong)(MainnetSlot(at.AddSeconds(n.Index)) / 32 - FinalizedLag[n.Index]) : null, StatusVersion = ok ? 2 : null,
                    MetadataAttnets = ok && n.Index == 2 ? [0x03, 0, 0, 0, 0, 0, 0, 0] : null,
                    MetadataSeq = ok ? (ulong)n.Index : null, CustodyGroupCount = ok ? 4UL : null, MetadataVersion = ok ? 3 : null,
                });
                if (n.Country is { } c)
                    await writer.AddGeoAsync(new IpGeo { Ip = n.Ip, Country = c, City = "City" + c, Asn = 24940, AsOrg = "Hetzner", LookedUpAt = at });
            }
        }
        await crawls.FinishCrawlAsync(id, CrawlStates.Succeeded, new CrawlCounts(nodes.Length, nodes.Length, nodes.Length, nodes.Count(n => n.Outcome == "ok"), nodes.Count(n => n.Outcome is not "ok" and not "not_dialled")), "{}");
        return id;
    }

    public async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var conn = new NpgsqlConnection(_admin);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)", conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
