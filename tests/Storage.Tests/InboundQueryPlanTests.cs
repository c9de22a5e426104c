using ClP2p.Storage;

namespace ClP2p.Storage.Tests;

/// <summary>
/// The end of every crawl asks, for each of its nodes, whether the node contacted us (<see cref="CrawlStore.ApplyInboundAsync"/>).
/// Answered by scanning the visits table once per node, that cost 100 s of CPU at the end of a 20,000-node crawl on
/// SQLite; the partial index on inbound visits makes each question one index probe. SQLite's plans show it.
/// </summary>
public sealed class InboundQueryPlanTests
{
    [Theory]
    [InlineData(nameof(CrawlStore.SeenInboundSql))]
    [InlineData(nameof(CrawlStore.InboundOnlySql))]
    public async Task Sqlite_answers_the_inbound_questions_without_scanning_the_visits(string statement)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(StorageProvider.Sqlite);
        string sql = statement == nameof(CrawlStore.SeenInboundSql) ? CrawlStore.SeenInboundSql : CrawlStore.InboundOnlySql;
        await using var connection = Sql.Open(db.Options);
        await connection.OpenAsync();
        var plan = new List<string>();
        await using (var cmd = Sql.Command(connection, null, "EXPLAIN QUERY PLAN " + sql,
            ("crawl", 1L), ("from", Samples.T0.UtcDateTime), ("to", Samples.T0.AddDays(1).UtcDateTime)))
        await using (var r = await cmd.ExecuteReaderAsync())
            while (await r.ReadAsync()) plan.Add(r.GetString(3));
        Assert.Contains(plan, p => p.Contains("ix_visits_node_id_visited_at", StringComparison.Ordinal));
        // a bare "SCAN x" reads every visit; "SCAN x USING INDEX" of the partial index reads only inbound contacts
        Assert.DoesNotContain(plan, p => p.StartsWith("SCAN ", StringComparison.Ordinal) && !p.Contains(" USING ", StringComparison.Ordinal));
    }
}
