namespace ClP2p.Storage.Tests;

/// <summary>One seeded database per provider, shared by the read-only census tests of this class.</summary>
public sealed class CensusFixture : IAsyncLifetime
{
    private readonly Dictionary<StorageProvider, (TestDatabase Db, CensusSeed Seed)> _dbs = [];

    public (TestDatabase Db, CensusSeed Seed, CensusService Census) For(StorageProvider p) => (_dbs[p].Db, _dbs[p].Seed, new CensusService(_dbs[p].Db.Options));

    public async Task InitializeAsync()
    {
        foreach (StorageProvider p in new[] { StorageProvider.Postgres, StorageProvider.Sqlite })
        {
            TestDatabase db = await TestDatabase.CreateAsync(p);
            _dbs[p] = (db, await CensusSeed.WriteAsync(db.Options));
        }
    }

    public async Task DisposeAsync()
    {
        foreach ((TestDatabase db, _) in _dbs.Values) await db.DisposeAsync();
    }
}

public class CensusTests(CensusFixture fixture) : IClassFixture<CensusFixture>
{
    public static TheoryData<StorageProvider> Providers => TestDatabase.Providers;

    [Theory, MemberData(nameof(Providers))]
    public async Task Census_counts_match_the_seed_for_every_dimension_on_finished_and_running_crawls(StorageProvider provider)
    {
        var (_, seed, census) = fixture.For(provider);
        foreach (int k in new[] { 0, 1, 2 }) // 0 and 1 come from crawl_census, 2 (running) is computed live
        {
            foreach (CensusDimension d in CensusDimensions.All)
            {
                foreach (string? network in new[] { null, "mainnet", "hoodi" })
                {
                    CensusResult? r = await census.GetCensusAsync(d, seed.CrawlIds[k], network);
                    Assert.NotNull(r);
                    Dictionary<string, long> expected = seed.Expected(d, seed.CrawlIds[k], network);
                    Assert.Equal(expected.OrderBy(x => x.Key), CensusSeed.Actual(r.Groups, d).OrderBy(x => x.Key));
                    Assert.Equal(expected.Values.Sum(), r.Total);
                    if (r.Total > 0) Assert.Equal(1.0, r.Groups.Sum(g => g.Share), 9);
                    Assert.True(r.Groups.Zip(r.Groups.Skip(1)).All(p => p.First.Count >= p.Second.Count), "groups are ordered by count");
                }
            }
        }
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Census_defaults_to_the_newest_succeeded_crawl_and_labels_asns_and_digests(StorageProvider provider)
    {
        var (_, seed, census) = fixture.For(provider);
        CensusResult? r = await census.GetCensusAsync(CensusDimension.Asn);
        Assert.NotNull(r);
        Assert.Equal(seed.CrawlIds[1], r.Crawl.Id); // crawl 2 is still running
        Assert.Equal("Hetzner", r.Groups.Single(g => g.Key == "24940").Label);
        CensusResult? digests = await census.GetCensusAsync(CensusDimension.ForkDigest, seed.CrawlIds[0]);
        Assert.Equal("mainnet/electra", digests!.Groups.Single(g => g.Key == "6a95a1a9").Label);
        Assert.Null(digests.Groups.Single(g => g.Key == "deadbeef").Label);
        Assert.Null(await census.GetCensusAsync(CensusDimension.Client, 999_999));
        Assert.Equal(seed.CrawlIds[0], (await census.GetLatestCrawlAsync("mainnet"))!.Id); // the newest succeeded mainnet crawl
        Assert.Equal(seed.CrawlIds[1], (await census.GetLatestCrawlAsync())!.Id);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Time_series_has_one_point_per_crawl_in_range_with_the_seed_counts(StorageProvider provider)
    {
        var (_, seed, census) = fixture.For(provider);
        CensusSeries all = await census.GetTimeSeriesAsync(CensusDimension.Client, Samples.T0.AddHours(-1), Samples.T0.AddDays(1));
        Assert.Equal(seed.CrawlIds, all.Points.Select(p => p.CrawlId));
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(seed.CrawlStarts[k], all.Points[k].StartedAt);
            Assert.Equal(CensusSeed.NodesIn(k), all.Points[k].Total);
            Assert.Equal(seed.Expected(CensusDimension.Client, seed.CrawlIds[k]).OrderBy(x => x.Key), CensusSeed.Actual(all.Points[k].Groups).OrderBy(x => x.Key));
        }

        CensusSeries mainnetOnly = await census.GetTimeSeriesAsync(CensusDimension.DialOutcome, Samples.T0.AddHours(1), Samples.T0.AddDays(1), network: "mainnet");
        Assert.Equal(seed.CrawlIds.Skip(1), mainnetOnly.Points.Select(p => p.CrawlId));
        Assert.Equal(seed.Expected(CensusDimension.DialOutcome, seed.CrawlIds[1], "mainnet").Values.Sum(), mainnetOnly.Points[0].Total);

        CensusSeries hoodiCrawls = await census.GetTimeSeriesAsync(CensusDimension.Country, Samples.T0.AddHours(-1), Samples.T0.AddDays(1), crawlNetwork: "hoodi");
        Assert.Equal([seed.CrawlIds[1]], hoodiCrawls.Points.Select(p => p.CrawlId));
        Assert.Equal(seed.Expected(CensusDimension.Country, seed.CrawlIds[1]).OrderBy(x => x.Key), CensusSeed.Actual(hoodiCrawls.Points[0].Groups).OrderBy(x => x.Key));

        Assert.Empty((await census.GetTimeSeriesAsync(CensusDimension.Client, Samples.T0.AddDays(2), Samples.T0.AddDays(3))).Points);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Crawls_are_listed_newest_first_in_pages(StorageProvider provider)
    {
        var (_, seed, census) = fixture.For(provider);
        Page<CrawlInfo> first = await census.ListCrawlsAsync(0, 2);
        Assert.Equal(3, first.Total);
        Assert.Equal([seed.CrawlIds[2], seed.CrawlIds[1]], first.Items.Select(c => c.Id));
        Page<CrawlInfo> second = await census.ListCrawlsAsync(2, 2);
        Assert.Equal([seed.CrawlIds[0]], second.Items.Select(c => c.Id));
        Assert.Equal(CensusSeed.NodesIn(0), second.Items[0].Visits);
        Assert.Equal(CensusSeed.NodesIn(2), first.Items[0].Visits);
        Assert.Equal(CrawlStates.Running, first.Items[0].State);
        Assert.Equal([seed.CrawlIds[1]], (await census.ListCrawlsAsync(0, 10, "hoodi")).Items.Select(c => c.Id));
        CrawlInfo? one = await census.GetCrawlAsync(seed.CrawlIds[0]);
        Assert.Equal((CrawlStates.Succeeded, "mainnet", seed.CrawlStarts[0]), (one!.State, one.Network, one.StartedAt));
        Assert.Null(await census.GetCrawlAsync(-5));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => census.ListCrawlsAsync(0, CensusService.MaxPageSize + 1));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Node_lists_filter_and_page_like_the_seed(StorageProvider provider)
    {
        var (_, seed, census) = fixture.For(provider);
        long crawl = seed.CrawlIds[0];
        var filter = new NodeFilter { CrawlId = crawl, Client = "teku", Country = "DE", DialOutcome = "ok", Network = "mainnet" };
        var expected = seed.Visits.Where(v => v.CrawlId == crawl && v.Client == "teku" && v.DialOutcome == "ok"
                && seed.GeoOf(v)?.Country == "DE" && seed.EnrOf(v)?.NetworkName == "mainnet")
            .Select(v => Convert.ToHexStringLower(v.NodeId)).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(expected);
        Page<NodeSummary>? page = await census.ListNodesAsync(filter, 0, CensusService.MaxPageSize);
        Assert.Equal(expected, page!.Items.Select(n => n.NodeId));
        Assert.Equal(expected.Count, page.Total);
        Assert.All(page.Items, n => Assert.Equal(("teku", "DE", "ok"), (n.Client, n.Country, n.DialOutcome)));

        var byFork = seed.Visits.Count(v => v.CrawlId == crawl && seed.EnrOf(v)?.ForkName == "phase0");
        Assert.Equal(byFork, (await census.ListNodesAsync(new NodeFilter { CrawlId = crawl, Fork = "phase0" }, 0, 1))!.Total);
        Assert.Equal(byFork, (await census.ListNodesAsync(new NodeFilter { CrawlId = crawl, Fork = "F5A5FD42" }, 0, 1))!.Total);

        Page<NodeSummary>? p1 = await census.ListNodesAsync(new NodeFilter { CrawlId = crawl }, 0, 100);
        Page<NodeSummary>? p2 = await census.ListNodesAsync(new NodeFilter { CrawlId = crawl }, 100, 100);
        Assert.Equal(CensusSeed.NodesIn(0), p1!.Total);
        Assert.Empty(p1.Items.Select(n => n.NodeId).Intersect(p2!.Items.Select(n => n.NodeId)));
        Assert.True(string.CompareOrdinal(p1.Items[^1].NodeId, p2.Items[0].NodeId) < 0);
        Assert.Null(await census.ListNodesAsync(new NodeFilter { CrawlId = 424242 }));
        Assert.Equal(CensusSeed.NodesIn(1), (await census.ListNodesAsync(new NodeFilter(), 0, 1))!.Total); // latest succeeded crawl
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Node_history_lists_enr_seqs_visits_and_agents(StorageProvider provider)
    {
        var (_, seed, census) = fixture.For(provider);
        byte[] id = Samples.NodeId(5); // 5 % 5 == 0: its seq rises with each crawl
        NodeHistory? h = await census.GetNodeHistoryAsync(id);
        Assert.NotNull(h);
        Assert.Equal(Convert.ToHexStringLower(id), h.Node.NodeId);
        Assert.Equal(3UL, h.Node.LatestSeq); // seq 1, 2, 3 over the three crawls (i % 5 == 0)
        Assert.Equal([3UL, 2UL, 1UL], h.Enrs.Select(e => e.Seq));
        Assert.StartsWith("enr:", h.Enrs[0].Enr, StringComparison.Ordinal);
        var myVisits = seed.Visits.Where(v => v.NodeId.AsSpan().SequenceEqual(id)).OrderByDescending(v => v.VisitedAt).ToList();
        Assert.Equal(myVisits.Select(v => v.CrawlId), h.Visits.Select(v => v.CrawlId));
        Assert.Equal(myVisits.Select(v => v.DialOutcome), h.Visits.Select(v => v.DialOutcome));
        var agentStrings = myVisits.Where(v => v.AgentVersion is not null).Select(v => v.AgentVersion!).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.Equal(agentStrings, h.Agents.Select(a => a.AgentVersion).Order(StringComparer.Ordinal));
        Assert.Equal(myVisits.Count(v => v.AgentVersion is not null), h.Agents.Sum(a => a.Visits));
        VisitRecord? ok = h.Visits.FirstOrDefault(v => v.DialOutcome == "ok");
        if (ok is not null)
        {
            Assert.Equal((12_800_031UL, "6a95a1a9", 4UL), ((ulong)ok["head_slot"]!, (string?)ok["status_fork_digest"], (ulong)ok["custody_group_count"]!));
            Assert.Equal(string.Concat(Enumerable.Repeat("ab", 32)), ok["head_root"]);
            // Every exported visit column is a field of the history's visits (one column map for both).
            Assert.All(VisitColumns.Exported, c => Assert.True(ok.Fields.ContainsKey(c.Name), c.Name));
        }
        Assert.Single((await census.GetNodeHistoryAsync(id, maxVisits: 1))!.Visits);
        Assert.Null(await census.GetNodeHistoryAsync(new byte[32]));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Export_streams_one_row_per_node_seen_with_the_seed_values(StorageProvider provider)
    {
        var (_, seed, census) = fixture.For(provider);
        long crawl = seed.CrawlIds[0];
        var rows = new List<ExportRow>();
        await foreach (ExportRow row in census.ExportAsync(crawl)) rows.Add(row);
        Assert.Equal(CensusSeed.NodesIn(0), rows.Count);
        Assert.Equal(rows.Select(r => r.NodeId).Order(StringComparer.Ordinal), rows.Select(r => r.NodeId));
        Assert.Equal(ExportRow.ColumnNames.Count, ExportRow.ColumnTypes.Count);
        Assert.All(rows, r => Assert.Equal(ExportRow.ColumnNames.Count, r.Values().Length));
        foreach (VisitObservation v in seed.Visits.Where(v => v.CrawlId == crawl).Take(60))
        {
            ExportRow r = rows.Single(x => x.NodeId == Convert.ToHexStringLower(v.NodeId));
            EnrObservation e = seed.EnrOf(v)!;
            IpGeo? g = seed.GeoOf(v);
            Assert.Equal(CensusService.EnrText(e.Raw), r["enr"]);
            Assert.Equal((e.Seq, v.Ip, e.Udp, e.Tcp), ((ulong)r["seq"]!, (string?)r["ip"], (int?)r["udp"], (int?)r["tcp"]));
            Assert.Equal(e.ForkDigest is null ? null : Convert.ToHexStringLower(e.ForkDigest), r["fork_digest"]);
            Assert.Equal(e.NextForkEpoch, (ulong?)r["next_fork_epoch"]);
            Assert.Equal((v.DialOutcome, v.DialError, v.AgentVersion, v.Client, v.ClientVersion),
                ((string)r["dial_outcome"]!, (string?)r["dial_error"], (string?)r["agent_version"], (string?)r["client"], (string?)r["client_version"]));
            Assert.Equal((v.HeadSlot, v.FinalizedEpoch, v.GoodbyeReason, v.LatencyMs), ((ulong?)r["head_slot"], (ulong?)r["finalized_epoch"], (ulong?)r["goodbye_reason"], (int?)r["latency_ms"]));
            Assert.Equal((g?.Country, g?.City, g?.Asn, g?.AsOrg), ((string?)r["country"], (string?)r["city"], (long?)r["asn"], (string?)r["as_org"]));
            Assert.Equal(v.VisitedAt, (DateTimeOffset)r["visited_at"]!);
            // The export's types are those its columns declare (what the Parquet schema is built from).
            for (int i = 0; i < ExportRow.ColumnNames.Count; i++)
                if (r.Values()[i] is { } value) Assert.Equal(Nullable.GetUnderlyingType(ExportRow.ColumnTypes[i]) ?? ExportRow.ColumnTypes[i], value.GetType());
        }
        Assert.Empty(await census.ExportAsync(987_654).ToListAsync());
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Ips_without_geo_are_listed_for_enrichment(StorageProvider provider)
    {
        var (_, seed, census) = fixture.For(provider);
        IReadOnlyList<string> ips = await census.ListIpsWithoutGeoAsync(seed.CrawlIds[0]);
        var expected = seed.Visits.Where(v => v.CrawlId == seed.CrawlIds[0] && seed.GeoOf(v) is null).Select(v => v.Ip!).Distinct();
        Assert.Equal(expected.Order(StringComparer.Ordinal), ips.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_sqlite_bit_count_function_counts_as_the_portable_replace_chain_does()
    {
        // the census build counts attnets and syncnets bits with a function on SQLite; every other query, and PostgreSQL,
        // with the REPLACE chain: both must give the same key for any stored text
        await using var conn = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=:memory:");
        CensusSql.RegisterHexBits(conn);
        await conn.OpenAsync();
        string?[] values = [null, "", "0", "00", "1", "8", "9", "ff", "FF", "Ab", "0123456789abcdef", "ffffffffffffffff", "0x1F", "zz", " 3 ", "\u00fc7", "\U0001F600f", "g0G"];
        foreach (string? v in values)
        {
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = $"SELECT {CensusSql.BitCount("@x")}, {CensusSql.BitCount("@x", sqliteBits: true)}";
            cmd.Parameters.AddWithValue("@x", (object?)v ?? DBNull.Value);
            await using var r = await cmd.ExecuteReaderAsync();
            Assert.True(await r.ReadAsync());
            object chain = r.GetValue(0), function = r.GetValue(1);
            Assert.True(Equals(chain, function), $"{v}: the chain gives {chain}, the function {function}");
            Assert.Equal(v is null, chain is DBNull);
        }
        Assert.Equal("64", CensusSql.HexBits("ffffffffffffffff"));
        Assert.Equal("6", CensusSql.HexBits("0x1F"));   // 'x' is no hex digit: it stays one character, as in the chain
    }
}
