using ClP2p.Storage.Model;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace ClP2p.Storage.Tests;

/// <summary>
/// The visit COPY encoder (<see cref="PgBinaryCopyWriter"/>) against PostgreSQL itself: what we encode must be byte for
/// byte what the server sends for the same values with <c>COPY (SELECT ...) TO STDOUT (FORMAT BINARY)</c>.
/// </summary>
public class CopyEncodingTests
{
    private static async Task<byte[]> ServerCopyAsync(string select)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(StorageProvider.Postgres, migrate: false);
        await using var conn = new NpgsqlConnection(db.Options.ConnectionString);
        await conn.OpenAsync();
        var ms = new MemoryStream();
        await using (NpgsqlRawCopyStream copy = await conn.BeginRawBinaryCopyAsync($"COPY ({select}) TO STDOUT (FORMAT BINARY)"))
            await copy.CopyToAsync(ms);
        return ms.ToArray();
    }

    [Fact]
    public async Task Every_field_type_encodes_exactly_as_postgres_sends_it()
    {
        byte[] server = await ServerCopyAsync("""
            SELECT 9223372036854775807::bigint, (-1)::bigint, NULL::bigint, '\x00ff10'::bytea, ''::bytea, NULL::bytea,
                   '2026-11-01 12:00:00.123456+00'::timestamptz, '1999-12-31 23:59:59.5+00'::timestamptz,
                   'ok'::text, ''::text, 'Lodestar/v1.2 ü ✓ 𝔘'::text, NULL::text, true, false, NULL::boolean,
                   2147483647, (-7)::int, NULL::int, '6a95a1a9'::text
            UNION ALL
            SELECT 1, 2, 3, '\x01'::bytea, '\x02'::bytea, '\x03'::bytea, '2000-01-01 00:00:00+00'::timestamptz,
                   '2000-01-01 00:00:00.000001+00'::timestamptz, 'a', 'b', 'c', 'd', NULL, NULL, NULL, NULL, NULL, NULL, NULL
            """);

        using var w = new PgBinaryCopyWriter(16);
        w.WriteHeader();
        w.StartRow(19);
        w.Int64(long.MaxValue);
        w.UInt64AsInt64(ulong.MaxValue); // FAR_FUTURE_EPOCH is stored as its bits: -1
        w.Int64((long?)null);
        w.Bytea([0x00, 0xff, 0x10]);
        w.Bytea([]);
        w.Bytea(null);
        // sub-microsecond ticks are dropped, as PostgreSQL keeps microseconds
        w.TimestampTz(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(1_234_567));
        w.TimestampTz(new DateTimeOffset(2000, 1, 1, 1, 0, 0, TimeSpan.FromHours(1)).AddTicks(-5_000_000)); // before the epoch, other offset
        w.Text("ok");
        w.Text("");
        w.Text("Lodestar/v1.2 ü ✓ 𝔘");
        w.Text(null);
        w.Bool(true);
        w.Bool(false);
        w.Bool(null);
        w.Int32(int.MaxValue);
        w.Int32(-7);
        w.Int32(null);
        w.HexText([0x6a, 0x95, 0xa1, 0xa9]);
        w.StartRow(19);
        w.Int64(1);
        w.Int64(2);
        w.Int64(3);
        w.Bytea([1]);
        w.Bytea([2]);
        w.Bytea([3]);
        w.TimestampTz(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero));
        w.TimestampTz(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(10));
        w.Text("a");
        w.Text("b");
        w.Text("c");
        w.Text("d");
        w.Bool(null);
        w.Bool(null);
        w.Bool(null);
        w.Int32(null);
        w.Int32(null);
        w.Int32(null);
        w.HexText(null);
        w.WriteTrailer();

        Assert.Equal(Convert.ToHexString(server), Convert.ToHexString(w.Written.Span));
    }

    [Fact]
    public void Buffer_grows_past_its_initial_size_and_clear_keeps_nothing()
    {
        using var w = new PgBinaryCopyWriter(64);
        w.WriteHeader();
        Assert.Equal(19, w.Length);
        byte[] big = Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray();
        w.StartRow(2);
        w.Bytea(big);
        w.Text(new string('x', 3000));
        Assert.Equal(19 + 2 + 4 + 1000 + 4 + 3000, w.Length);
        Assert.Equal(big, w.Written.Span.Slice(19 + 2 + 4, 1000).ToArray());
        w.Clear();
        Assert.Equal(0, w.Length);
        w.WriteTrailer();
        Assert.Equal([0xff, 0xff], w.Written.ToArray());
    }

    [Fact]
    public void Unpaired_surrogates_are_sent_as_replacement_characters()
    {
        using var w = new PgBinaryCopyWriter();
        w.Text("a\ud800b");
        Assert.Equal([0, 0, 0, 5, (byte)'a', 0xef, 0xbf, 0xbd, (byte)'b'], w.Written.ToArray());
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task A_visit_whose_peer_sent_nul_characters_lands_with_them_replaced(StorageProvider provider)
    {
        // PostgreSQL text cannot hold NUL: unreplaced, this one visit would fail (and finally drop) its whole batch.
        await using TestDatabase db = await TestDatabase.CreateAsync(provider);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        await using (var writer = new ResultWriter(db.Options, Samples.FastWriter() with { MaxPermanentFailures = 1 }))
        {
            await writer.AddEnrAsync(Samples.Enr(1, 1));
            await writer.AddEnrAsync(Samples.Enr(2, 1));
            await writer.AddVisitAsync(Samples.Visit(crawl, 1, agent: "evil\0agent/v1", client: "evil\0", version: "v\u00001"));
            await writer.AddVisitAsync(Samples.Visit(crawl, 2, outcome: "malformed") with { DialError = "status: bad byte \0 at 3", Ip = "203.0.113.9" });
            await writer.FlushAsync();
        }
        await using ClP2pDbContext ctx = db.Options.CreateDbContext();
        AgentVersionEntity agent = await ctx.AgentVersions.SingleAsync();
        Assert.Equal(("evil\ufffdagent/v1", "evil\ufffd", "v\ufffd1"), (agent.Raw, agent.Client, agent.Version));
        long? okAgent = await ctx.Visits.Where(v => EF.Property<string>(v, "DialOutcome") == "ok").Select(v => EF.Property<long?>(v, "AgentVersionId")).SingleAsync();
        Assert.Equal(agent.Id, okAgent);
        string? badError = await ctx.Visits.Where(v => EF.Property<string>(v, "DialOutcome") == "malformed").Select(v => EF.Property<string?>(v, "DialError")).SingleAsync();
        Assert.Equal("status: bad byte \ufffd at 3", badError);
    }

    [Fact]
    public void Visits_without_nul_characters_are_passed_on_as_they_are()
    {
        VisitObservation v = Samples.Visit(1, 1);
        Assert.Same(v, ResultWriter.WithoutNul(v));
        VisitObservation nul = v with { Muxer = "/yamux\0" };
        VisitObservation clean = ResultWriter.WithoutNul(nul);
        Assert.Equal("/yamux\ufffd", clean.Muxer);
        Assert.Equal(v with { Muxer = "/yamux\ufffd" }, clean);
    }
}
