using System.Net;
using ClP2p.Crawler.Engine;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Crawler.Hosting;
using ClP2p.Crawler.Tests.EndToEnd;
using ClP2p.Discovery;
using ClP2p.Eth2.Dialing;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.Ssz;
using ClP2p.Storage;

namespace ClP2p.Crawler.Tests;

/// <summary>
/// ENR consensus fields as real records carry them: no cgc/nfd (most testnet records), Nimbus's one-byte cgc 0, a cgc
/// beyond NUMBER_OF_CUSTODY_GROUPS; and the repair that decodes stored records again.
/// </summary>
public sealed class EnrIngestTests
{
    private static readonly byte[] Eth2Bpo2 = Convert.FromHexString("8c9f62fe06000000ffffffffffffffff");

    private static Enr Record(int i, byte[]? cgc)
    {
        var key = new byte[32];
        key[31] = (byte)(i + 1);
        key[0] = 0x11;
        var b = new EnrBuilder().WithIp(IPAddress.Parse("203.0.113." + i)).WithUdp(9000).WithTcp(9000).With("eth2", Eth2Bpo2)
            .With("attnets", new byte[8]);
        if (cgc is not null) b = b.With("cgc", cgc);
        return b.Build(key);
    }

    [Fact]
    public async Task Absent_cgc_is_null_nimbus_zero_is_zero_out_of_range_is_flagged_and_old_rows_are_repaired()
    {
        Enr none = Record(1, null), nimbus = Record(2, [0x00]), big = Record(3, [0xc8]), eight = Record(4, [0x08]);
        var sink = new StorageCrawlSink(null!, 0, NetworkRegistry.Builtin, TimeProvider.System);
        var observed = new[] { none, nimbus, big, eight }.Select(e => sink.ToObservation(e, DateTimeOffset.UnixEpoch)).ToArray();
        Assert.Equal(new ulong?[] { null, 0, 200, 8 }, observed.Select(o => o.Cgc));
        Assert.All(observed, o => Assert.Null(o.Nfd));
        Assert.All(observed, o => Assert.Equal(("mainnet", "bpo2"), (o.NetworkName, o.ForkName)));
        Assert.Equal(0, sink.MalformedEth2Fields);

        // Rows as the old ingest stored them (absent cgc as 0, Nimbus's 0x00 as null), repaired from the stored records.
        await using var pg = await PgDatabase.CreateAsync();
        Assert.True(StorageOptions.TryParse(pg.ConnectionString, Path.GetTempPath(), out var storage, out var error), error);
        await StorageMigrator.MigrateAsync(storage);
        long crawl = await new CrawlStore(storage).StartCrawlAsync("mainnet", DateTimeOffset.UnixEpoch, null);
        await using (var writer = new ResultWriter(storage))
        {
            ulong?[] old = [0, null, 200, 8];
            for (int i = 0; i < observed.Length; i++)
            {
                await writer.AddEnrAsync(observed[i] with { Cgc = old[i] });
                await writer.AddVisitAsync(new VisitObservation { CrawlId = crawl, NodeId = observed[i].NodeId, EnrSeq = observed[i].Seq, VisitedAt = DateTimeOffset.UnixEpoch });
            }
        }
        Assert.Equal(2, await StoredDataRepair.RedecodeEnrCgcAsync(storage, StoredData.RedecodeCgc));
        var rows = await new CensusService(storage).ExportAsync(crawl).ToListAsync();
        ExportRow Row(Enr e) => rows.Single(r => r.NodeId == e.NodeId.ToString());
        Assert.Equal(((ulong?)null, (bool?)null), ((ulong?)Row(none)["cgc"], (bool?)Row(none)["cgc_out_of_range"]));
        Assert.Equal(((ulong?)0, (bool?)false), ((ulong?)Row(nimbus)["cgc"], (bool?)Row(nimbus)["cgc_out_of_range"]));
        Assert.Equal(((ulong?)200, (bool?)true), ((ulong?)Row(big)["cgc"], (bool?)Row(big)["cgc_out_of_range"]));
        Assert.Equal(((ulong?)8, (bool?)false), ((ulong?)Row(eight)["cgc"], (bool?)Row(eight)["cgc_out_of_range"]));
    }

    [Fact]
    public void A_status_naming_another_digest_than_the_record_is_a_digest_mismatch_with_the_digest_sent_kept()
    {
        // An old record still on mainnet's bpo1 digest: we sent mainnet's current (bpo2) digest and the peer answered
        // with it. The visit keeps what we sent and flags that the peer's Status and its record disagree.
        var key = new byte[32];
        key[31] = 9;
        var record = new EnrBuilder().WithIp(IPAddress.Parse("203.0.113.9")).WithUdp(9000).WithTcp(9000)
            .With("eth2", Convert.FromHexString("cb0d1acc06000000ffffffffffffffff")).Build(key);
        var node = new DiscoveredNode<Enr>(record.NodeId.ToString(), record.Seq, true, new IPEndPoint(IPAddress.Parse("203.0.113.9"), 9000), record);
        StatusMessage Status(string digest) => new(ForkDigest.Parse(digest), Root.Zero, 1, Root.Zero, 32, 0);
        VisitObservation Visit(StatusMessage? answer) => StorageCrawlSink.ToVisit(1, new NodeOutcome<Enr, BeaconDialResult>(node, null,
            new DialReport<BeaconDialResult>("ok", TimeSpan.FromSeconds(1), new BeaconDialResult
            {
                Outcome = DialOutcome.Ok, Status = answer, StatusSent = Status("8c9f62fe"),
                GoodbyeReason = answer is null ? 2 : null,
            }), null, DateTimeOffset.UnixEpoch), "203.0.113.9");

        var moved = Visit(Status("8c9f62fe"));
        Assert.Equal((true, "8c9f62fe", "8c9f62fe"), (moved.DigestMismatch, Convert.ToHexStringLower(moved.StatusForkDigest!), Convert.ToHexStringLower(moved.StatusDigestSent!)));
        var same = Visit(Status("cb0d1acc"));
        Assert.False(same.DigestMismatch);
        // Goodbye(2) and no Status: nothing to compare, the Goodbye and the digest we sent are kept.
        var bye = Visit(null);
        Assert.Equal(((bool?)null, (ulong?)2, "8c9f62fe"), (bye.DigestMismatch, bye.GoodbyeReason, Convert.ToHexStringLower(bye.StatusDigestSent!)));
    }

    [Fact]
    public async Task The_nodes_the_summary_counts_as_not_fully_enumerated_are_the_ones_the_census_counts_incomplete()
    {
        // one node fully enumerated, one that answered and then left a distance unanswered, one that never answered,
        // as discovery reports them (DhtCrawler: an error exactly when a node was not fully enumerated)
        Enr[] records = [Record(1, null), Record(2, null), Record(3, null)];
        NodeQueried<Enr>[] reports =
        [
            new(records[0].NodeId.ToString(), true, 16, null, TimeSpan.Zero) { Complete = true },
            new(records[1].NodeId.ToString(), true, 5, "Timeout", TimeSpan.Zero) { Complete = false },
            new(records[2].NodeId.ToString(), false, 0, "Timeout", TimeSpan.Zero) { Complete = false },
        ];
        var counters = new CrawlCounters();
        foreach (var q in reports) counters.NodeQueried(q.Answered, q.Complete);
        var summary = CrawlSummary.From(1, "mainnet", CrawlStates.Succeeded, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, counters);

        await using var pg = await PgDatabase.CreateAsync();
        Assert.True(StorageOptions.TryParse(pg.ConnectionString, Path.GetTempPath(), out var storage, out var error), error);
        await StorageMigrator.MigrateAsync(storage);
        var store = new CrawlStore(storage);
        long crawl = await store.StartCrawlAsync("mainnet", DateTimeOffset.UnixEpoch, null);
        var sink = new StorageCrawlSink(null!, 0, NetworkRegistry.Builtin, TimeProvider.System);
        await using (var writer = new ResultWriter(storage))
        {
            for (int i = 0; i < records.Length; i++)
            {
                var node = new DiscoveredNode<Enr>(records[i].NodeId.ToString(), records[i].Seq, true, new IPEndPoint(IPAddress.Parse("203.0.113." + (i + 1)), 9000), records[i]);
                await writer.AddEnrAsync(sink.ToObservation(records[i], DateTimeOffset.UnixEpoch));
                await writer.AddVisitAsync(StorageCrawlSink.ToVisit(crawl, new NodeOutcome<Enr, BeaconDialResult>(node, reports[i], null,
                    NotDialledReasons.DialingDisabled, DateTimeOffset.UnixEpoch), "203.0.113." + (i + 1)));
            }
        }
        await store.FinishCrawlAsync(crawl, CrawlStates.Succeeded, new CrawlCounts(3, 3, 0, 0, 0), summary.ToJson());

        var census = (await new CensusService(storage).GetCensusAsync(CensusDimension.Discovery, crawl))!;
        long Count(string key) => census.Groups.Where(g => g.Key == key).Sum(g => g.Count);
        Assert.Equal(1, summary.Incomplete);
        Assert.Equal((summary.Incomplete, 1L, 1L), (Count("incomplete"), Count("answered"), Count("silent")));
    }
}
