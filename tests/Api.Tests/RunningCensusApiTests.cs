using System.Text.Json;
using ClP2p.Storage;

namespace ClP2p.Api.Tests;

/// <summary>The census set of a crawl still running, which the API keeps until the database changes, over HTTP.</summary>
public sealed class RunningCensusApiTests(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private async Task WriteVisitsAsync(long crawl, int from, int to)
    {
        await using var writer = new ResultWriter(fx.Storage);
        for (int i = from; i < to; i++)
        {
            await writer.AddVisitAsync(new VisitObservation
            {
                CrawlId = crawl, NodeId = ApiFixture.NodeId(i), VisitedAt = ApiFixture.T0.AddHours(2).AddSeconds(i), Ip = $"10.9.0.{i}",
                DiscoveryAnswered = true, DialOutcome = i % 2 == 0 ? "ok" : "refused", AgentVersion = i % 2 == 0 ? "teku/v25.1.0/linux-x86_64" : null,
                Client = i % 2 == 0 ? "teku" : null, ClientVersion = i % 2 == 0 ? "v25.1.0" : null,
            });
        }
    }

    [Fact]
    public async Task A_running_crawls_census_set_follows_new_visits_and_equals_each_census_counted_alone()
    {
        long running = await new CrawlStore(fx.Storage).StartCrawlAsync("mainnet", ApiFixture.T0.AddHours(2), null);
        using var client = fx.Factory.CreateClient();
        string all = string.Join(',', CensusDimensions.All.Select(CensusDimensions.Name));
        string url = $"/api/v1/census/set?dimensions={all}&crawl={running}";

        await WriteVisitsAsync(running, 1, 4);
        JsonElement before = await SelectionApiTests.GetJsonAsync(client, url);
        Assert.Equal(before.GetRawText(), (await SelectionApiTests.GetJsonAsync(client, url)).GetRawText());
        await AssertEachCensusAsync(before, 3);

        await WriteVisitsAsync(running, 4, 9);
        JsonElement after = await SelectionApiTests.GetJsonAsync(client, url);
        await AssertEachCensusAsync(after, 8);
        Assert.Equal(8, after.GetProperty("crawl").GetProperty("visits").GetInt64());

        // each census as /census counts it on its own (a running crawl's single census is never kept)
        async Task AssertEachCensusAsync(JsonElement set, long visits)
        {
            foreach (JsonElement c in set.GetProperty("censuses").EnumerateArray())
            {
                JsonElement one = await SelectionApiTests.GetJsonAsync(client, $"/api/v1/census?dimension={c.GetProperty("dimension").GetString()}&crawl={running}");
                Assert.Equal(visits, c.GetProperty("total").GetInt64());
                Assert.Equal(one.GetProperty("total").GetInt64(), c.GetProperty("total").GetInt64());
                Assert.Equal(one.GetProperty("groups").GetRawText(), c.GetProperty("groups").GetRawText());
            }
        }
    }
}
