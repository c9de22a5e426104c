using BenchmarkDotNet.Attributes;
using ClP2p.Storage;
using Npgsql;
using NpgsqlTypes;

namespace ClP2p.Bench;

/// <summary>
/// The visit COPY side by side: the same 100,000 visit rows (the crawler's 28 columns) sent by binary COPY through
/// <see cref="PgBinaryCopyWriter"/> over Npgsql's raw copy stream (what <c>PostgresBatchSink</c> does) and through
/// Npgsql's typed <see cref="NpgsqlBinaryImporter"/> (<c>Write(value, NpgsqlDbType)</c>). The target is an unlogged
/// table without indexes, emptied before each iteration, so the server's share is small and the same for both and the
/// difference is the client's encoding. Time printed per row.
/// </summary>
[Config(typeof(IngestConfig))]
[MemoryDiagnoser]
public class VisitCopyBenchmarks
{
    private const int Visits = 100_000;
    private const string Database = "clp2p_bench_copy";
    private const string Columns = """
        crawl_id, node_id, visited_at, kind, enr_seq, ip, discovery_answered, neighbours, discovery_error,
        dial_outcome, dial_error, failed_step, latency_ms, agent_version_id, muxer, status_fork_digest,
        finalized_root, finalized_epoch, head_root, head_slot, earliest_available_slot, status_version, metadata_seq,
        metadata_attnets, metadata_syncnets, custody_group_count, metadata_version, goodbye_reason
        """;
    private const string Copy = $"COPY visit_copy ({Columns}) FROM STDIN (FORMAT BINARY)";
    private const short ColumnCount = 28;
    private const int ChunkBytes = 128 * 1024;

    private NpgsqlDataSource _source = null!;
    private VisitObservation[] _visits = [];

    [GlobalSetup]
    public void Setup()
    {
        BenchDatabase.RecreateAsync(Database).GetAwaiter().GetResult();
        BenchDatabase.ExecAsync(Database, "CREATE UNLOGGED TABLE visit_copy (LIKE visits INCLUDING DEFAULTS INCLUDING IDENTITY)").GetAwaiter().GetResult();
        _source = NpgsqlDataSource.Create(BenchDatabase.Options(Database).ConnectionString);
        _visits = new VisitObservation[Visits];
        for (int i = 0; i < Visits; i++) _visits[i] = Synthetic.Visit(1, i, 1, Synthetic.T0.AddMilliseconds(i));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _source.Dispose();
        BenchDatabase.DropAsync(Database).GetAwaiter().GetResult();
    }

    [IterationSetup]
    public void Empty() => BenchDatabase.ExecAsync(Database, "TRUNCATE visit_copy").GetAwaiter().GetResult();

    /// <summary>Rows encoded by <see cref="PgBinaryCopyWriter"/>, sent in 128 KiB chunks over the raw copy stream.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Visits)]
    public async Task PgBinaryCopyWriter_raw_copy()
    {
        await using var conn = await _source.OpenConnectionAsync();
        using var rows = new PgBinaryCopyWriter(ChunkBytes + 4096);
        await using (var copy = await conn.BeginRawBinaryCopyAsync(Copy))
        {
            rows.WriteHeader();
            foreach (VisitObservation v in _visits)
            {
                rows.StartRow(ColumnCount);
                rows.Int64(v.CrawlId);
                rows.Bytea(v.NodeId);
                rows.TimestampTz(v.VisitedAt);
                rows.Text(v.Kind);
                rows.UInt64AsInt64(v.EnrSeq);
                rows.Text(v.Ip);
                rows.Bool(v.DiscoveryAnswered);
                rows.Int32(v.Neighbours);
                rows.Text(v.DiscoveryError);
                rows.Text(v.DialOutcome);
                rows.Text(v.DialError);
                rows.Text(v.FailedStep);
                rows.Int32(v.LatencyMs);
                rows.Int64(v.AgentVersion is null ? null : 1L);
                rows.Text(v.Muxer);
                rows.HexText(v.StatusForkDigest);
                rows.Bytea(v.FinalizedRoot);
                rows.UInt64AsInt64(v.FinalizedEpoch);
                rows.Bytea(v.HeadRoot);
                rows.UInt64AsInt64(v.HeadSlot);
                rows.UInt64AsInt64(v.EarliestAvailableSlot);
                rows.Int32(v.StatusVersion);
                rows.UInt64AsInt64(v.MetadataSeq);
                rows.HexText(v.MetadataAttnets);
                rows.HexText(v.MetadataSyncnets);
                rows.UInt64AsInt64(v.CustodyGroupCount);
                rows.Int32(v.MetadataVersion);
                rows.UInt64AsInt64(v.GoodbyeReason);
                if (rows.Length >= ChunkBytes)
                {
                    await copy.WriteAsync(rows.Written);
                    rows.Clear();
                }
            }
            rows.WriteTrailer();
            await copy.WriteAsync(rows.Written);
        }
    }

    /// <summary>The same rows through Npgsql's typed binary importer (its synchronous writes: the fastest form).</summary>
    [Benchmark(OperationsPerInvoke = Visits)]
    public void NpgsqlBinaryImporter_typed()
    {
        using var conn = _source.OpenConnection();
        using var importer = conn.BeginBinaryImport(Copy);
        foreach (VisitObservation v in _visits)
        {
            importer.StartRow();
            importer.Write(v.CrawlId, NpgsqlDbType.Bigint);
            importer.Write(v.NodeId, NpgsqlDbType.Bytea);
            importer.Write(v.VisitedAt, NpgsqlDbType.TimestampTz);
            Write(importer, v.Kind, NpgsqlDbType.Text);
            Write(importer, (long?)v.EnrSeq, NpgsqlDbType.Bigint);
            Write(importer, v.Ip, NpgsqlDbType.Text);
            Write(importer, v.DiscoveryAnswered, NpgsqlDbType.Boolean);
            Write(importer, v.Neighbours, NpgsqlDbType.Integer);
            Write(importer, v.DiscoveryError, NpgsqlDbType.Text);
            Write(importer, v.DialOutcome, NpgsqlDbType.Text);
            Write(importer, v.DialError, NpgsqlDbType.Text);
            Write(importer, v.FailedStep, NpgsqlDbType.Text);
            Write(importer, v.LatencyMs, NpgsqlDbType.Integer);
            Write(importer, v.AgentVersion is null ? null : (long?)1L, NpgsqlDbType.Bigint);
            Write(importer, v.Muxer, NpgsqlDbType.Text);
            Write(importer, Hex(v.StatusForkDigest), NpgsqlDbType.Text);
            Write(importer, v.FinalizedRoot, NpgsqlDbType.Bytea);
            Write(importer, (long?)v.FinalizedEpoch, NpgsqlDbType.Bigint);
            Write(importer, v.HeadRoot, NpgsqlDbType.Bytea);
            Write(importer, (long?)v.HeadSlot, NpgsqlDbType.Bigint);
            Write(importer, (long?)v.EarliestAvailableSlot, NpgsqlDbType.Bigint);
            Write(importer, v.StatusVersion, NpgsqlDbType.Integer);
            Write(importer, (long?)v.MetadataSeq, NpgsqlDbType.Bigint);
            Write(importer, Hex(v.MetadataAttnets), NpgsqlDbType.Text);
            Write(importer, Hex(v.MetadataSyncnets), NpgsqlDbType.Text);
            Write(importer, (long?)v.CustodyGroupCount, NpgsqlDbType.Bigint);
            Write(importer, v.MetadataVersion, NpgsqlDbType.Integer);
            Write(importer, (long?)v.GoodbyeReason, NpgsqlDbType.Bigint);
        }
        importer.Complete();
    }

    private static void Write<T>(NpgsqlBinaryImporter importer, T? value, NpgsqlDbType type) where T : class
    {
        if (value is null) importer.WriteNull();
        else importer.Write(value, type);
    }

    private static void Write<T>(NpgsqlBinaryImporter importer, T? value, NpgsqlDbType type) where T : struct
    {
        if (value is { } v) importer.Write(v, type);
        else importer.WriteNull();
    }

    private static string? Hex(byte[]? value) => value is null ? null : Convert.ToHexStringLower(value);

    /// <summary>
    /// `dotnet run -c Release --project bench/Storage.Bench -- copy-cpu [rounds]`: both paths in alternation (A, B, A, B,
    /// ...) so machine load hits both alike; prints per 100,000 rows the median wall time, the median CPU time of this
    /// process (the client's share, which is where the two differ) and the bytes allocated.
    /// </summary>
    public static void CompareCpu(int rounds)
    {
        var bench = new VisitCopyBenchmarks();
        bench.Setup();
        try
        {
            var runs = new (string Name, Action Run)[]
            {
                ("PgBinaryCopyWriter + raw COPY", () => bench.PgBinaryCopyWriter_raw_copy().GetAwaiter().GetResult()),
                ("NpgsqlBinaryImporter.Write", bench.NpgsqlBinaryImporter_typed),
            };
            var wall = runs.Select(_ => new List<double>()).ToArray();
            var cpu = runs.Select(_ => new List<double>()).ToArray();
            var alloc = runs.Select(_ => new List<double>()).ToArray();
            var process = System.Diagnostics.Process.GetCurrentProcess();
            for (int round = -2; round < rounds; round++) // two warm-up rounds
            {
                for (int i = 0; i < runs.Length; i++)
                {
                    bench.Empty();
                    GC.Collect();
                    process.Refresh();
                    TimeSpan cpu0 = process.TotalProcessorTime;
                    long bytes0 = GC.GetTotalAllocatedBytes(precise: true);
                    long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    runs[i].Run();
                    double ms = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    long bytes = GC.GetTotalAllocatedBytes(precise: true) - bytes0;
                    process.Refresh();
                    double cpuMs = (process.TotalProcessorTime - cpu0).TotalMilliseconds;
                    if (round < 0) continue;
                    wall[i].Add(ms);
                    cpu[i].Add(cpuMs);
                    alloc[i].Add(bytes);
                }
            }
            static double Median(List<double> xs) { var s = xs.Order().ToArray(); return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2; }
            Console.WriteLine($"{rounds} rounds of {Visits:N0} visit rows each, alternating; medians per {Visits:N0} rows:");
            for (int i = 0; i < runs.Length; i++)
                Console.WriteLine($"  {runs[i].Name,-32} wall {Median(wall[i]),7:F0} ms   client CPU {Median(cpu[i]),7:F0} ms   allocated {Median(alloc[i]) / 1e6,6:F1} MB");
        }
        finally
        {
            bench.Cleanup();
        }
    }
}
