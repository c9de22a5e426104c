using System.Diagnostics;
using System.Globalization;
using System.Net;
using ClP2p.Discovery;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Bench;

/// <summary>
/// Whole-node throughput over real loopback sockets, every node in this process:
/// <c>dotnet run -c Release --project bench/Discovery.Bench -- --node [peers] [seconds] [shards]</c>.
/// One client node and <c>peers</c> server nodes. "node start + dispose": the fixed cost of a node. "handshakes": a fresh client pings every server (one handshake
/// each, both sides in this process), repeated for the given time. "requests": one client with a session to every
/// server keeps 256 PINGs in flight (4 packets per PING: request and answer, each sent and received).
/// Prints operations per second of wall time and the cores used (process CPU time / wall time).
/// </summary>
internal static class NodeThroughput
{
    /// <summary>Handler shards per node (4th argument; 0 = one per processor).</summary>
    private static int Shards;

    public static async Task RunAsync(string[] args)
    {
        Shards = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 0;
        int peers = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200;
        double seconds = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 10;
        var servers = new List<Discv5Node>();
        try
        {
            for (int i = 0; i < peers; i++)
            {
                var s = NewNode();
                await s.StartAsync();
                servers.Add(s);
            }
            var records = servers.Select(s => s.LocalEnr).ToArray();
            await Measure("node start + dispose", seconds, async () =>
            {
                for (int i = 0; i < 20; i++)
                {
                    await using var n = NewNode();
                    await n.StartAsync();
                }
                return 20;
            });
            await Measure("handshakes (fresh client pings every server)", seconds, async () =>
            {
                await using var c = NewNode();
                await c.StartAsync();
                int ok = 0;
                await Parallel.ForEachAsync(records, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (r, _) =>
                {
                    if (await Ping(c, r)) Interlocked.Increment(ref ok);
                });
                return ok;
            });
            await using var client = NewNode();
            await client.StartAsync();
            foreach (var r in records) if (!await Ping(client, r)) throw new InvalidOperationException("warm-up ping failed");
            await Measure("PING requests on established sessions (256 in flight)", seconds, async () =>
            {
                int ok = 0;
                var work = Enumerable.Range(0, records.Length * 10).Select(i => records[i % records.Length]);
                await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (r, _) =>
                {
                    if (await Ping(client, r)) Interlocked.Increment(ref ok);
                });
                return ok;
            });
        }
        finally
        {
            foreach (var s in servers) await s.DisposeAsync();
        }
    }

    private static async Task Measure(string name, double seconds, Func<Task<int>> round)
    {
        await round(); // warm-up
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        var cpu0 = p.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        long ops = 0;
        while (sw.Elapsed.TotalSeconds < seconds) ops += await round();
        sw.Stop();
        p.Refresh();
        double cpu = (p.TotalProcessorTime - cpu0).TotalSeconds, wall = sw.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {ops} in {wall:F1} s = {ops / wall:F0}/s; CPU {cpu:F1} s = {cpu / wall:F2} cores, {cpu * 1e6 / ops:F0} us CPU/op"));
    }

    internal static Discv5Node NewNode()
    {
        var key = new byte[32];
        Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, key);
        return new Discv5Node(new Discv5Options
        {
            PrivateKey = key,
            BindEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ContactFilter = ContactFilters.PublicOrLoopback,
            LivenessInterval = TimeSpan.Zero,
            RequestTimeout = TimeSpan.FromSeconds(5),
            HandlerShards = Shards,
        });
    }

    private static async Task<bool> Ping(Discv5Node n, Enr r) => (await n.PingAsync(r)).IsOk;
}
