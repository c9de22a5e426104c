using System.Net;
using System.Text;
using System.Text.Json;
using ClP2p.Api.Export;
using ClP2p.Storage;

namespace ClP2p.Api.Tests;

/// <summary>Reading exports back (what `clp2p import` takes) and the merged census endpoint.</summary>
public sealed class VantageApiTests(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private async Task<List<ExportRow>> DatabaseRowsAsync()
    {
        var rows = new List<ExportRow>();
        await foreach (var r in new CensusService(fx.Storage).ExportAsync(fx.Crawl2)) rows.Add(r);
        return rows;
    }

    private static async Task<List<ExportRecord>> ReadAllAsync(byte[] file, ExportFormat format)
    {
        var list = new List<ExportRecord>();
        await foreach (var r in ExportReader.ReadAsync(new MemoryStream(file), format)) list.Add(r);
        return list;
    }

    private static object? Millis(object? v) => v is DateTimeOffset t ? new DateTimeOffset(t.Ticks - t.Ticks % TimeSpan.TicksPerMillisecond, t.Offset) : v;

    private static string Show(object? v) => v switch
    {
        null => "null",
        DateTimeOffset t => t.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        _ => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)!,
    };

    [Theory]
    [InlineData(ExportFormat.Csv)]
    [InlineData(ExportFormat.Ndjson)]
    [InlineData(ExportFormat.Parquet)]
    public async Task An_export_reads_back_into_the_rows_it_was_written_from(ExportFormat format)
    {
        var expected = await DatabaseRowsAsync();
        using var file = new MemoryStream();
        await Exporter.WriteAsync(expected.ToAsyncEnumerable(), format, file, CancellationToken.None);
        var records = await ReadAllAsync(file.ToArray(), format);
        Assert.All(records, r => Assert.Null(r.Error));
        Assert.Equal(expected.Count, records.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            object?[] want = expected[i].Values(), got = records[i].Row!.Values();
            for (int c = 0; c < want.Length; c++)
            {
                // CSV and NDJSON carry times to the millisecond (as the data dictionary says); the database keeps microseconds
                object? w = Millis(want[c]), g = Millis(got[c]);
                Assert.True(Show(w) == Show(g), $"{format} row {i} column {ExportRow.ColumnNames[c]}: '{Show(w)}' != '{Show(g)}'");
            }
        }
        Assert.All(records, r => Assert.Equal(CrawlVantage.Default, r.Row!.Vantage));
        Assert.All(records, r => Assert.Equal("mainnet", r.Row!.CrawlNetwork));
    }

    [Fact]
    public async Task A_file_without_the_columns_import_needs_is_refused_whole()
    {
        byte[] csv = Encoding.UTF8.GetBytes("node_id,dial_outcome\nabcd,ok\n");
        var ex = await Assert.ThrowsAsync<ExportFormatException>(() => ReadAllAsync(csv, ExportFormat.Csv));
        Assert.Contains("enr", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ExportFormatException>(() => ReadAllAsync(Encoding.UTF8.GetBytes("not json\n"), ExportFormat.Ndjson));
        await Assert.ThrowsAsync<ExportFormatException>(() => ReadAllAsync(Encoding.UTF8.GetBytes("PAR1 but not parquet"), ExportFormat.Parquet));
    }

    [Fact]
    public async Task A_record_that_does_not_read_is_reported_and_the_others_are_read()
    {
        var rows = await DatabaseRowsAsync();
        using var file = new MemoryStream();
        await Exporter.WriteAsync(rows.ToAsyncEnumerable(), ExportFormat.Ndjson, file, CancellationToken.None);
        var lines = Encoding.UTF8.GetString(file.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        lines.Insert(1, lines[1].Replace("\"crawl_id\":", "\"crawl_id\":\"x\",\"ignored\":", StringComparison.Ordinal));
        lines.Insert(2, "{\"truncated\":");
        var records = await ReadAllAsync(Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"), ExportFormat.Ndjson);
        Assert.Equal(rows.Count + 2, records.Count);
        Assert.Contains("crawl_id", records[1].Error, StringComparison.Ordinal);
        Assert.Contains("not JSON", records[2].Error, StringComparison.Ordinal);
        Assert.Equal(rows.Count, records.Count(r => r.Row is not null));
    }

    [Fact]
    public async Task Merged_census_endpoint_counts_each_node_once_and_is_in_the_openapi_document()
    {
        using var client = fx.Factory.CreateClient();
        var resp = await client.GetAsync("/api/v1/census/merged?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z");
        string body = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.StatusCode == HttpStatusCode.OK, body);
        var m = JsonDocument.Parse(body).RootElement;
        // crawl 1 saw nodes 1, 3, 8 and crawl 2 nodes 1-7, both from the default vantage: 8 distinct nodes
        Assert.Equal(8, m.GetProperty("observed").GetInt64());
        var v = Assert.Single(m.GetProperty("vantages").EnumerateArray());
        Assert.Equal("default", v.GetProperty("vantage").GetString());
        Assert.Equal(2, v.GetProperty("crawls").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, m.GetProperty("estimate").ValueKind);

        var bad = await client.GetAsync("/api/v1/census/merged?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        string doc = await client.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/api/v1/census/merged", doc, StringComparison.Ordinal);
        Assert.Contains("Chapman", doc, StringComparison.Ordinal);
    }
}
