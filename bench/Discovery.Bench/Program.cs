using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Running;

namespace ClP2p.Bench;

/// <summary>
/// Benchmark entry point: dotnet run -c Release --project bench/Discovery.Bench -- --filter '*' [--job short]
/// "--node [peers] [seconds]" measures whole nodes over loopback sockets (see <see cref="NodeThroughput"/>);
/// "--findnode [servers] [seconds] [inflight]" FINDNODE requests answered with full buckets (see <see cref="FindNodeThroughput"/>);
/// "--node-inbound [peers] [pings]" one node's receive path under prepared traffic (see <see cref="NodeInbound"/>).
/// On a shared, loaded machine wall-clock figures overstate the cost; "--cpu-time" runs the same three operations
/// in a loop, and the session cipher against the platform's AES-GCM, and reports process CPU time per operation.
/// </summary>
public static class BenchProgram
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--node-inbound")
        {
            NodeInbound.RunAsync(args).GetAwaiter().GetResult();
            return;
        }
        if (args.Length > 0 && args[0] == "--findnode")
        {
            FindNodeThroughput.RunAsync(args).GetAwaiter().GetResult();
            return;
        }
        if (args.Length > 0 && args[0] == "--node")
        {
            NodeThroughput.RunAsync(args).GetAwaiter().GetResult();
            return;
        }
        if (args.Length > 0 && args[0] == "--cpu-time")
        {
            CpuTime();
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(BenchProgram).Assembly).Run(args);
    }

    private static void CpuTime()
    {
        var b = new DiscoveryBenchmarks();
        b.Setup();
        Measure("ENR decode+verify", 20_000, b.EnrDecodeVerify);
        Measure("ordinary packet decode+decrypt", 400_000, b.PacketDecodeDecrypt);
        Measure("full handshake (both sides)", 5_000, b.FullHandshake);
        Measure("session cipher: 1,100-byte message sealed and opened", 200_000, b.SealOpenLarge);
        Measure("platform AES-GCM: 1,100-byte message sealed and opened", 200_000, b.SealOpenLargePlatform);
        Measure("session cipher: 60-byte message sealed and opened", 400_000, b.SealOpenSmall);
        Measure("platform AES-GCM: 60-byte message sealed and opened", 400_000, b.SealOpenSmallPlatform);
        b.Cleanup();
    }

    private static void Measure(string name, int n, Func<bool> op)
    {
        for (int i = 0; i < n / 5; i++) op();
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        var cpu0 = p.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < n; i++) if (!op()) throw new InvalidOperationException(name + " failed");
        sw.Stop();
        p.Refresh();
        double cpu = (p.TotalProcessorTime - cpu0).TotalMicroseconds / n, wall = sw.Elapsed.TotalMicroseconds / n;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: CPU {cpu:F2} us/op = {1e6 / cpu:F0}/s; wall {wall:F2} us/op = {1e6 / wall:F0}/s"));
    }
}
