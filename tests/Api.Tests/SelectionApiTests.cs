using System.Net;
using System.Text.Json;
using ClP2p.Storage;

namespace ClP2p.Api.Tests;

/// <summary>The dashboard's combined census call and its exports of the current selection (network and filters).</summary>
public sealed class SelectionApiTests(ApiFixture fx) : IClassFixture<ApiFixture>
{
    /// <summary>A 200 answer's JSON, with the API's Server-Timing header.</summary>
    internal static async Task<JsonElement> GetJsonAsync(HttpClient client, string url)
    {
        var resp = await client.GetAsync(url);
        string body = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.StatusCode == HttpStatusCode.OK, $"{url}: {(int)resp.StatusCode} {body}");
        Assert.Contains("app;dur=", resp.Headers.GetValues("Server-Timing").Single(), StringComparison.Ordinal);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [Fact]
    public async Task Census_set_answers_each_dimension_as_the_census_endpoint_does()
    {
        using var client = fx.Factory.CreateClient();
        string all = string.Join(',', CensusDimensions.All.Select(CensusDimensions.Name));
        foreach (string q in new[] { "", $"&crawl={fx.Crawl1}", "&network=mainnet", $"&crawl={fx.Crawl1}&network=hoodi" })
        {
            var set = await GetJsonAsync(client, $"/api/v1/census/set?dimensions={all}{q}");
            var censuses = set.GetProperty("censuses").EnumerateArray().ToList();
            Assert.Equal(CensusDimensions.All.Select(CensusDimensions.Name), censuses.Select(c => c.GetProperty("dimension").GetString()));
            foreach (var c in censuses)
            {
                var one = await GetJsonAsync(client, $"/api/v1/census?dimension={c.GetProperty("dimension").GetString()}{q}");
                Assert.Equal(one.GetProperty("total").GetInt64(), c.GetProperty("total").GetInt64());
                Assert.Equal(one.GetProperty("groups").GetRawText(), c.GetProperty("groups").GetRawText());
                Assert.Equal(one.GetProperty("crawl").GetProperty("id").GetInt64(), set.GetProperty("crawl").GetProperty("id").GetInt64());
            }
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/v1/census/set?dimensions=client,colour")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/v1/census/set")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/v1/census/set?dimensions=client&crawl=987654")).StatusCode);
    }

    [Fact]
    public async Task Export_takes_the_network_and_the_node_filters_of_the_node_list()
    {
        using var client = fx.Factory.CreateClient();
        foreach (string q in new[] { "outcome=ok", "client=lighthouse", "country=US&outcome=ok", "network=mainnet", "network=hoodi", "q=1.1.1.5", "" })
        {
            var nodes = await GetJsonAsync(client, $"/api/v1/nodes?limit=1000&{q}");
            var expected = nodes.GetProperty("items").EnumerateArray().Select(n => n.GetProperty("node_id").GetString()).ToList();
            string body = await client.GetStringAsync($"/api/v1/crawls/latest/export?format=ndjson&{q}");
            var exported = body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("node_id").GetString()).ToList();
            Assert.Equal(expected, exported);
        }
        // the filters select a strict subset, so an export that ignored them would fail above
        Assert.Equal(4, ApiFixture.Crawl2Nodes.Count(n => n.Outcome == "ok"));
        Assert.Equal(7, ApiFixture.Crawl2Nodes.Length);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/v1/crawls/latest/export?format=csv&digest_mismatch=maybe")).StatusCode);
    }
}
