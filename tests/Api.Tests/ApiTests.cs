using System.Globalization;
using System.Net;
using System.Text.Json;
using ClP2p.Storage;
using CsvHelper;
using Parquet;

namespace ClP2p.Api.Tests;

/// <summary>Every endpoint of /api/v1 against real PostgreSQL, seeded through the Storage writer.</summary>
public sealed class ApiTests(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private HttpClient Client() => fx.Factory.CreateClient();

    private async Task<JsonElement> GetJsonAsync(string url)
    {
        using var client = Client();
        var resp = await client.GetAsync(url);
        string body = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.StatusCode == HttpStatusCode.OK, $"{url}: {(int)resp.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private async Task AssertProblemAsync(string url, HttpStatusCode status, string? parameter = null)
    {
        using var client = Client();
        var resp = await client.GetAsync(url);
        Assert.Equal(status, resp.StatusCode);
        Assert.Equal("application/problem+json", resp.Content.Headers.ContentType?.MediaType);
        if (parameter is not null)
        {
            var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync()).RootElement;
            Assert.True(doc.GetProperty("errors").TryGetProperty(parameter, out _), $"{url}: the problem does not name '{parameter}'");
        }
    }

    [Fact]
    public async Task Networks_lists_the_six_networks_with_fork_digests()
    {
        var nets = await GetJsonAsync("/api/v1/networks");
        var names = nets.EnumerateArray().Select(n => n.GetProperty("name").GetString()).ToList();
        Assert.Equal(["mainnet", "sepolia", "holesky", "hoodi", "gnosis", "chiado"], names);
        var mainnet = nets.EnumerateArray().Single(n => n.GetProperty("name").GetString() == "mainnet");
        var digests = mainnet.GetProperty("forks").EnumerateArray().Select(f => f.GetProperty("digest").GetString()).ToList();
        Assert.Contains("cc2c5cdb", digests);   // fulu
        Assert.Contains("8c9f62fe", digests);   // bpo2

        // A coming fork has its digest before its epoch is set (networks.json: mainnet Gloas after BPO2 is ce2153ed).
        JsonElement Fork(JsonElement net, string name) => net.GetProperty("forks").EnumerateArray().Single(f => f.GetProperty("name").GetString() == name);
        var gloas = Fork(mainnet, "gloas");
        Assert.Equal(("ce2153ed", false), (gloas.GetProperty("digest").GetString(), gloas.GetProperty("scheduled").GetBoolean()));
        // Each schedule states its sources and whether it is verified (more than one source for every epoch).
        JsonElement Net(string name) => nets.EnumerateArray().Single(n => n.GetProperty("name").GetString() == name);
        Assert.True(mainnet.GetProperty("verified").GetBoolean());
        Assert.Contains("gloas", mainnet.GetProperty("sources").EnumerateObject().Select(p => p.Name));
        foreach (string single in new[] { "hoodi", "sepolia" })   // Gloas from one source each (networks.json sources.gloas)
        {
            Assert.False(Net(single).GetProperty("verified").GetBoolean(), single);
            Assert.False(Fork(Net(single), "gloas").GetProperty("verified").GetBoolean(), single);
            Assert.True(Fork(Net(single), "fulu").GetProperty("verified").GetBoolean(), single);
        }
        // Holesky is kept to name old data, marked retired.
        Assert.Contains("Fusaka", Net("holesky").GetProperty("retired").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, mainnet.GetProperty("retired").ValueKind);
    }

    [Fact]
    public async Task Crawls_are_listed_newest_first_and_paged()
    {
        var page = await GetJsonAsync("/api/v1/crawls?limit=1");
        Assert.Equal(2, page.GetProperty("total").GetInt64());
        Assert.Equal(fx.Crawl2, page.GetProperty("items")[0].GetProperty("id").GetInt64());
        var second = await GetJsonAsync("/api/v1/crawls?limit=1&offset=1");
        Assert.Equal(fx.Crawl1, second.GetProperty("items")[0].GetProperty("id").GetInt64());
        await AssertProblemAsync("/api/v1/crawls?limit=0", HttpStatusCode.BadRequest, "limit");
        await AssertProblemAsync("/api/v1/crawls?limit=100000", HttpStatusCode.BadRequest, "limit");
        await AssertProblemAsync("/api/v1/crawls?offset=-1", HttpStatusCode.BadRequest, "offset");
    }

    [Fact]
    public async Task One_crawl_by_id_or_latest_and_404_for_unknown()
    {
        var latest = await GetJsonAsync("/api/v1/crawls/latest");
        Assert.Equal(fx.Crawl2, latest.GetProperty("id").GetInt64());
        var first = await GetJsonAsync($"/api/v1/crawls/{fx.Crawl1}");
        Assert.Equal("succeeded", first.GetProperty("state").GetString());
        await AssertProblemAsync("/api/v1/crawls/987654", HttpStatusCode.NotFound);
        await AssertProblemAsync("/api/v1/crawls/abc", HttpStatusCode.BadRequest, "id");
    }

    [Fact]
    public async Task Census_by_client_counts_the_latest_crawl()
    {
        var census = await GetJsonAsync("/api/v1/census?dimension=client");
        Assert.Equal(fx.Crawl2, census.GetProperty("crawl").GetProperty("id").GetInt64());
        Assert.Equal(ApiFixture.Crawl2Nodes.Length, census.GetProperty("total").GetInt64());
        var groups = census.GetProperty("groups").EnumerateArray().ToDictionary(g => g.GetProperty("key").GetString() ?? "", g => g);
        Assert.Equal(2, groups["lighthouse"].GetProperty("count").GetInt64());
        Assert.Equal(1, groups["prysm"].GetProperty("count").GetInt64());
        Assert.Equal(2.0 / 7, groups["lighthouse"].GetProperty("share").GetDouble(), 6);
        var older = await GetJsonAsync($"/api/v1/census?dimension=client&crawl={fx.Crawl1}");
        Assert.Equal(3, older.GetProperty("total").GetInt64());
    }

    [Theory]
    [InlineData("client")]
    [InlineData("client_version")]
    [InlineData("fork_digest")]
    [InlineData("fork_name")]
    [InlineData("network")]
    [InlineData("next_fork")]
    [InlineData("country")]
    [InlineData("asn")]
    [InlineData("os")]
    [InlineData("arch")]
    [InlineData("ip_version")]
    [InlineData("dial_outcome")]
    public async Task Every_census_dimension_answers_groups_that_add_up(string dimension)
    {
        var census = await GetJsonAsync($"/api/v1/census?dimension={dimension}&network=mainnet");
        long total = census.GetProperty("total").GetInt64();
        Assert.Equal(ApiFixture.Crawl2Nodes.Length, total);
        var groups = census.GetProperty("groups").EnumerateArray().ToList();
        Assert.Equal(total, groups.Sum(g => g.GetProperty("count").GetInt64()));
        Assert.Equal(1.0, groups.Sum(g => g.GetProperty("share").GetDouble()), 6);
        Assert.All(groups, g => Assert.True(g.TryGetProperty("key", out _)));
        var series = await GetJsonAsync($"/api/v1/census/timeseries?dimension={dimension}&from=2026-10-01T00:00:00Z&to=2026-12-01T00:00:00Z");
        Assert.Equal(2, series.GetProperty("points").GetArrayLength());
    }

    [Fact]
    public async Task Census_by_country_and_outcome_are_right()
    {
        var country = await GetJsonAsync("/api/v1/census?dimension=country");
        var byCountry = country.GetProperty("groups").EnumerateArray().ToDictionary(g => g.GetProperty("key").GetString() ?? "", g => g.GetProperty("count").GetInt64());
        Assert.Equal(2, byCountry["DE"]);
        Assert.Equal(2, byCountry["US"]);
        Assert.Equal(1, byCountry["FR"]);
        var outcome = await GetJsonAsync("/api/v1/census?dimension=dial_outcome");
        var byOutcome = outcome.GetProperty("groups").EnumerateArray().ToDictionary(g => g.GetProperty("key").GetString() ?? "", g => g.GetProperty("count").GetInt64());
        Assert.Equal(4, byOutcome["ok"]);
        Assert.Equal(1, byOutcome["refused"]);
        Assert.Equal(1, byOutcome["not_dialled"]);
    }

    [Fact]
    public async Task Time_series_has_one_point_per_crawl_in_range()
    {
        var series = await GetJsonAsync("/api/v1/census/timeseries?dimension=client&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z");
        var points = series.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal([fx.Crawl1, fx.Crawl2], points.Select(p => p.GetProperty("crawl_id").GetInt64()).Order().ToList());
        var none = await GetJsonAsync("/api/v1/census/timeseries?dimension=client&from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z");
        Assert.Equal(0, none.GetProperty("points").GetArrayLength());
    }

    [Fact]
    public async Task Bad_census_parameters_get_400_naming_the_parameter()
    {
        await AssertProblemAsync("/api/v1/census?dimension=flavour", HttpStatusCode.BadRequest, "dimension");
        await AssertProblemAsync("/api/v1/census?crawl=yesterday", HttpStatusCode.BadRequest, "crawl");
        await AssertProblemAsync("/api/v1/census?crawl=987654", HttpStatusCode.NotFound);
        await AssertProblemAsync("/api/v1/census/timeseries?from=notatime", HttpStatusCode.BadRequest, "from");
        await AssertProblemAsync("/api/v1/census/timeseries?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", HttpStatusCode.BadRequest, "to");
    }

    [Fact]
    public async Task Nodes_are_filtered_and_paged_and_one_node_has_its_history()
    {
        var all = await GetJsonAsync("/api/v1/nodes");
        Assert.Equal(ApiFixture.Crawl2Nodes.Length, all.GetProperty("total").GetInt64());
        var lighthouse = await GetJsonAsync("/api/v1/nodes?client=lighthouse");
        Assert.Equal(2, lighthouse.GetProperty("total").GetInt64());
        Assert.All(lighthouse.GetProperty("items").EnumerateArray(), n => Assert.Equal("lighthouse", n.GetProperty("client").GetString()));
        var us = await GetJsonAsync("/api/v1/nodes?country=US");
        Assert.Equal(2, us.GetProperty("total").GetInt64());
        var refused = await GetJsonAsync("/api/v1/nodes?outcome=refused");
        Assert.Equal(1, refused.GetProperty("total").GetInt64());
        var electra = await GetJsonAsync("/api/v1/nodes?fork=electra");
        Assert.Equal(1, electra.GetProperty("total").GetInt64());
        var paged = await GetJsonAsync("/api/v1/nodes?limit=3&offset=3");
        Assert.Equal(3, paged.GetProperty("items").GetArrayLength());
        var older = await GetJsonAsync($"/api/v1/nodes?crawl={fx.Crawl1}");
        Assert.Equal(3, older.GetProperty("total").GetInt64());

        string id = Convert.ToHexStringLower(ApiFixture.NodeId(1));
        var history = await GetJsonAsync($"/api/v1/nodes/{id}");
        Assert.Equal(id, history.GetProperty("node").GetProperty("node_id").GetString());
        Assert.Equal(2, history.GetProperty("visits").GetArrayLength());   // seen in both crawls
        await AssertProblemAsync($"/api/v1/nodes/{new string('0', 64)}", HttpStatusCode.NotFound);
        await AssertProblemAsync("/api/v1/nodes/xyz", HttpStatusCode.BadRequest, "id");
        await AssertProblemAsync("/api/v1/nodes?limit=5000", HttpStatusCode.BadRequest, "limit");
    }

    [Fact]
    public async Task OpenApi_document_with_definitions_and_docs_page_are_served()
    {
        using var client = Client();
        string doc = await client.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/api/v1/census", doc, StringComparison.Ordinal);
        Assert.Contains("**dialled**", doc, StringComparison.Ordinal);   // the definitions are published in the document
        Assert.Contains("**share**", doc, StringComparison.Ordinal);
        var page = await client.GetAsync("/scalar");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    private async Task<List<Dictionary<string, string>>> DatabaseRowsAsync()
    {
        var census = new CensusService(fx.Storage);
        var rows = new List<Dictionary<string, string>>();
        await foreach (var r in census.ExportAsync(fx.Crawl2))
        {
            var values = r.Values();
            rows.Add(ExportRow.ColumnNames.Select((n, i) => (n, v: Text(values[i]))).ToDictionary(x => x.n, x => x.v));
        }
        return rows;
    }

    private static string Text(object? v) => v switch
    {
        null => "",
        DateTimeOffset t => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        DateTime t => DateTime.SpecifyKind(t, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        JsonElement e => e.ValueKind switch { JsonValueKind.Null => "", JsonValueKind.String => e.GetString()!, _ => e.GetRawText() },
        _ => v.ToString() ?? "",
    };

    private static void AssertSameRows(List<Dictionary<string, string>> expected, List<Dictionary<string, string>> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        var byId = actual.ToDictionary(r => r["node_id"], StringComparer.Ordinal);
        foreach (var e in expected)
        {
            var a = byId[e["node_id"]];
            foreach (var col in ExportRow.ColumnNames) Assert.True(e[col] == a[col], $"{col} of {e["node_id"]}: '{e[col]}' != '{a[col]}'");
        }
    }

    [Fact]
    public async Task Csv_export_round_trips_the_database_rows()
    {
        using var client = Client();
        var resp = await client.GetAsync("/api/v1/crawls/latest/export?format=csv");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        using var reader = new StreamReader(await resp.Content.ReadAsStreamAsync());
        using var csv = new CsvReader(reader, CultureInfo.InvariantCulture);
        await csv.ReadAsync();
        csv.ReadHeader();
        Assert.Equal(ExportRow.ColumnNames, csv.HeaderRecord!);
        var rows = new List<Dictionary<string, string>>();
        while (await csv.ReadAsync()) rows.Add(ExportRow.ColumnNames.ToDictionary(n => n, n => csv.GetField(n) ?? ""));
        AssertSameRows(await DatabaseRowsAsync(), rows);
    }

    [Fact]
    public async Task Ndjson_export_round_trips_the_database_rows()
    {
        using var client = Client();
        string body = await client.GetStringAsync("/api/v1/crawls/latest/export?format=ndjson");
        var rows = body.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => ExportRow.ColumnNames.ToDictionary(n => n, n => Text(e.GetProperty(n)))).ToList();
        AssertSameRows(await DatabaseRowsAsync(), rows);
    }

    [Fact]
    public async Task Parquet_export_round_trips_the_database_rows()
    {
        using var client = Client();
        byte[] bytes = await client.GetByteArrayAsync($"/api/v1/crawls/{fx.Crawl2}/export?format=parquet");
        using var ms = new MemoryStream(bytes);
        await using var reader = await ParquetReader.CreateAsync(ms);
        var columns = ExportRow.ColumnNames.ToDictionary(n => n, _ => new List<object?>());
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            int n = (int)group.RowCount;
            var fields = reader.Schema.DataFields;
            for (int c = 0; c < fields.Length; c++)
            {
                var f = fields[c];
                var t = ExportRow.ColumnTypes[c];
                var list = columns[f.Name];
                if (t == typeof(string)) { var m = new string?[n]; await group.ReadAsync(f, m.AsMemory()!); list.AddRange(m); }
                else if (t == typeof(ulong?)) { var m = new ulong?[n]; await group.ReadAsync<ulong>(f, m.AsMemory()); list.AddRange(m.Cast<object?>()); }
                else if (t == typeof(int?)) { var m = new int?[n]; await group.ReadAsync<int>(f, m.AsMemory()); list.AddRange(m.Cast<object?>()); }
                else if (t == typeof(long?)) { var m = new long?[n]; await group.ReadAsync<long>(f, m.AsMemory()); list.AddRange(m.Cast<object?>()); }
                else if (t == typeof(long)) { var m = new long[n]; await group.ReadAsync<long>(f, m.AsMemory()); list.AddRange(m.Cast<object?>()); }
                else if (t == typeof(bool?)) { var m = new bool?[n]; await group.ReadAsync<bool>(f, m.AsMemory()); list.AddRange(m.Cast<object?>()); }
                else if (t == typeof(DateTimeOffset?)) { var m = new DateTime?[n]; await group.ReadAsync<DateTime>(f, m.AsMemory()); list.AddRange(m.Cast<object?>()); }
                else { var m = new DateTime[n]; await group.ReadAsync<DateTime>(f, m.AsMemory()); list.AddRange(m.Cast<object?>()); }
            }
        }
        int count = columns["node_id"].Count;
        var rows = Enumerable.Range(0, count)
            .Select(i => ExportRow.ColumnNames.ToDictionary(n => n, n => Text(columns[n][i]))).ToList();
        AssertSameRows(await DatabaseRowsAsync(), rows);
    }

    [Fact]
    public async Task Export_with_a_bad_format_or_unknown_crawl_is_refused()
    {
        await AssertProblemAsync("/api/v1/crawls/latest/export?format=xls", HttpStatusCode.BadRequest, "format");
        await AssertProblemAsync("/api/v1/crawls/987654/export?format=csv", HttpStatusCode.NotFound);
    }
}
