using System.Diagnostics;
using System.Globalization;
using System.Net;
using ClP2p.Discovery;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Bench;

/// <summary>
/// The crawl's unit of discovery work, over real loopback sockets, every node in this process:
/// <c>dotnet run -c Release --project bench/Discovery.Bench -- --findnode [servers] [seconds] [inflight]</c>.
/// Each server's table is filled from 4,000 records shaped as a consensus node's (eth2, attnets, syncnets, cgc, ip, udp,
/// tcp), so it holds 16 records in each of its top buckets, as a mainnet node's table does. One client with a session
/// to every server keeps <c>inflight</c> FINDNODE requests going, one distance each from 256 down to 249 (the full
/// buckets a crawl asks one by one; each answer is 16 records in 4-5 NODES packets). Prints requests per second, CPU
/// per request (client and servers together: both are this node implementation, as crawler and simulator are),
/// bytes allocated per request and the garbage collections.
/// </summary>
internal static class FindNodeThroughput
{
    public static async Task RunAsync(string[] args)
    {
        int serverCount = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 64;
        double seconds = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 10;
        int inflight = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 256;
        var records = MakeRecords(4_000);
        var servers = new List<Discv5Node>();
        await using var client = NewNode();
        try
        {
            for (int i = 0; i < serverCount; i++)
            {
                var s = NewNode();
                await s.StartAsync();
                foreach (var r in records) s.AddToTable(r);
                servers.Add(s);
            }
            await client.StartAsync();
            var targets = servers.Select(s => s.LocalEnr).ToArray();
            foreach (var t in targets)
                if (!(await client.PingAsync(t)).IsOk) throw new InvalidOperationException("warm-up ping failed");
            Console.WriteLine($"{serverCount} servers, table of the first: {servers[0].TableCount} records; {inflight} requests in flight");
            await Round(client, targets, inflight, TimeSpan.FromSeconds(Math.Min(3, seconds)));   // warm-up (JIT tiers)
            using var p = Process.GetCurrentProcess();
            p.Refresh();
            var cpu0 = p.TotalProcessorTime;
            long alloc0 = GC.GetTotalAllocatedBytes(precise: false);
            int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
            var pause0 = GC.GetTotalPauseDuration();
            using var sampler = Environment.GetEnvironmentVariable("BENCH_ALLOC") == "1" ? new AllocationSampler() : null;
            var sw = Stopwatch.StartNew();
            var (ok, failed, recs) = await Round(client, targets, inflight, TimeSpan.FromSeconds(seconds));
            sw.Stop();
            p.Refresh();
            double cpu = (p.TotalProcessorTime - cpu0).TotalSeconds, wall = sw.Elapsed.TotalSeconds;
            long alloc = GC.GetTotalAllocatedBytes(precise: false) - alloc0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"FINDNODE: {ok} ok, {failed} failed, {recs / Math.Max(1, ok):F1} records each, in {wall:F1} s = {ok / wall:F0}/s; " +
                $"CPU {cpu:F1} s = {cpu / wall:F2} cores, {cpu * 1e6 / Math.Max(1, ok):F0} us CPU/request; {alloc / Math.Max(1, ok):F0} B allocated/request; " +
                $"GCs {GC.CollectionCount(0) - g0}/{GC.CollectionCount(1) - g1}/{GC.CollectionCount(2) - g2} (gen0/1/2), pause {(GC.GetTotalPauseDuration() - pause0).TotalMilliseconds:F0} ms"));
            sampler?.Print();
        }
        finally
        {
            foreach (var s in servers) await s.DisposeAsync();
        }
    }

    private static async Task<(long Ok, long Failed, long Records)> Round(Discv5Node client, Enr[] targets, int inflight, TimeSpan duration)
    {
        long ok = 0, failed = 0, recs = 0, next = 0;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, inflight).Select(_ => Task.Run(async () =>
        {
            while (sw.Elapsed < duration)
            {
                long i = Interlocked.Increment(ref next);
                var t = targets[i % targets.Length];
                int d = 256 - (int)(i / targets.Length % 8);
                var res = await client.FindNodeAsync(t, [d]);
                if (res.TryGetValue(out var found))
                {
                    Interlocked.Increment(ref ok);
                    Interlocked.Add(ref recs, found.Count);
                }
                else
                {
                    Interlocked.Increment(ref failed);
                }
            }
        })));
        return (ok, failed, recs);
    }

    private static Enr[] MakeRecords(int n)
    {
        var rng = new Random(7);
        var result = new Enr[n];
        var key = new byte[32];
        var eth2 = new byte[16];
        var attnets = new byte[8];
        for (int i = 0; i < n; i++)
        {
            Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, key);
            rng.NextBytes(eth2);
            rng.NextBytes(attnets);
            result[i] = new EnrBuilder().WithSeq(1)
                .With("eth2", eth2).With("attnets", attnets).With("syncnets", [0x0f]).WithUInt("cgc", 4)
                .WithIp(new IPAddress([127, 200, (byte)(i >> 8), (byte)(i & 0xff)])).WithUdp(9000).WithTcp(9000)
                .Build(key);
        }
        return result;
    }

    private static Discv5Node NewNode() => NodeThroughput.NewNode();
}
