using ClP2p.Discovery;
using ClP2p.Sim;

namespace ClP2p.Crawler.Tests.Simulated;

/// <summary>The simulator's own logic, without sockets: the network it plans and the compare step.</summary>
public sealed class SimulatorTests : IDisposable
{
    private static readonly SimOptions Planned = new() { Records = 600, IpOctet = 77, Port = 23_456, Now = 1_790_000_000, Seed = 5 };
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-sim-unit-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Tables_hold_at_most_k_records_per_bucket_at_the_right_distance_and_reach_every_record_from_the_bootnode()
    {
        var pop = Population.Build(Planned);
        Assert.Equal(300, pop.Records.Count(r => !r.IsLive));
        Assert.Equal(NodeKind.Dialable, pop.Bootnode.Kind);
        var reached = new HashSet<int> { 0 };
        var queue = new Queue<int>([0]);
        while (queue.Count > 0)
        {
            var node = pop.Records[queue.Dequeue()];
            for (int d = 1; d <= 256; d++)
            {
                var bucket = node.Table![d - 1];
                if (bucket is null) continue;
                Assert.InRange(bucket.Count, 1, 16);
                Assert.Equal(bucket.Count, bucket.Distinct().Count());
                foreach (int j in bucket)
                {
                    Assert.Equal(d, NodeId.LogDistance(node.NodeId, pop.Records[j].NodeId));
                    if (reached.Add(j) && pop.Records[j].IsLive) queue.Enqueue(j);
                }
            }
        }
        Assert.Equal(pop.Records.Count, reached.Count);
        // dead entries sit among live ones
        Assert.Contains(pop.Records.Where(r => r.IsLive).SelectMany(r => r.Table!.Where(b => b != null).SelectMany(b => b!)), j => !pop.Records[j].IsLive);
    }

    [Fact]
    public void The_same_options_give_the_same_network_and_each_record_is_the_one_its_node_builds()
    {
        var a = Population.Build(Planned);
        var b = Population.Build(Planned);
        Assert.Equal(a.Fingerprint(), b.Fingerprint());
        Assert.NotEqual(a.Fingerprint(), Population.Build(Planned with { Seed = 6 }).Fingerprint());
        var r = a.Records[1];
        Assert.Equal(r.NodeId, r.Enr.NodeId);
        Assert.True(Population.BuildEnr(r).Raw.Span.SequenceEqual(r.Enr.Raw.Span));
    }

    [Fact]
    public void Compare_counts_found_enumerated_ok_wrong_and_written_twice()
    {
        string truth = Path.Combine(_dir, "truth.json");
        File.WriteAllText(truth, """
            {"nodes":[
              {"node_id":"a1","kind":"dialable","live":true,"dialable":true,"rtt_ms":50,"table_size":10,"peer_id":"P1","agent":"teku/v1","status_fork_digest":"01020304","head_slot":7},
              {"node_id":"a2","kind":"dialable","live":true,"dialable":true,"rtt_ms":50,"table_size":10,"peer_id":"P2","agent":"teku/v1","status_fork_digest":"01020304","head_slot":7},
              {"node_id":"b1","kind":"tcp_closed","live":true,"dialable":false,"rtt_ms":50},
              {"node_id":"d1","kind":"dead","live":false,"dialable":false,"rtt_ms":50},
              {"node_id":"d2","kind":"dead","live":false,"dialable":false,"rtt_ms":50}
            ]}
            """);
        string export = Path.Combine(_dir, "export.ndjson");
        File.WriteAllLines(export,
        [
            """{"node_id":"a1","discovery_answered":true,"neighbours":10,"dial_outcome":"ok","peer_id":"P1","agent_version":"teku/v1","status_fork_digest":"01020304","head_slot":7}""",
            """{"node_id":"a2","discovery_answered":true,"neighbours":7,"dial_outcome":"ok","peer_id":"P2","agent_version":"teku/v1","status_fork_digest":"01020304","head_slot":8}""",
            """{"node_id":"b1","discovery_answered":false,"dial_outcome":"refused"}""",
            """{"node_id":"d1","discovery_answered":null,"dial_outcome":"timeout"}""",
            """{"node_id":"d1","discovery_answered":null,"dial_outcome":"timeout"}""",
            """{"node_id":"zz","discovery_answered":true,"dial_outcome":"ok"}""",
        ]);
        var r = Compare.Run(export, truth);
        Assert.Equal((5, 3, 2), (r.Records, r.Live, r.Dialable));
        Assert.Equal(4, r.Found);          // a1, a2, b1, d1 found; d2 missing
        Assert.Equal(3, r.LiveFound);
        Assert.Equal(2, r.Enumerated);     // b1 did not answer
        Assert.Equal((1, 2, 3), (r.TablesComplete, r.TablesCompared, r.TableRecordsMissing));   // a2 listed 7 of its 10
        Assert.Equal(2, r.DialledOk);
        Assert.Equal(2, r.Wrong);          // a2's head slot differs; zz is not in the network
        Assert.Equal(1, r.WrittenTwice);   // d1
        Assert.Equal(6, r.Rows);
    }
}
