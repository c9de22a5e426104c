using System.Globalization;

namespace ClP2p.Sim;

/// <summary>
/// `clp2p-sim run [options] [--truth PATH]`: stands up a simulated network on loopback, prints the bootnode ENR, writes
/// the ground truth, runs until standard input closes or Ctrl-C.
/// `clp2p-sim compare --export EXPORT.ndjson --truth TRUTH.json`: found / enumerated / dialled-ok / wrong counts.
/// `clp2p-sim bench [--records 1000,5000,20000] [--runs 1] [--baseline-records 20] [--baseline-runs 3] [--clp2p PATH] [options] [-- crawl flags]`: the whole benchmark.
/// Options: --records N --dead-fraction F --dialable-fraction F --slow-fraction F --rtt MIN-MAX --jitter F --loss F
/// --dead-per-endpoint N --seed N --workers N (0: as the fd limit needs) --sched batch|normal (the simulator's threads'
/// scheduling policy; batch: they do not pre-empt the crawler, see <see cref="Scheduling"/>).
/// </summary>
public static class SimProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("usage: clp2p-sim run|compare|bench [options]   (see docs/performance.md)");
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            return args[0] switch
            {
                "run" => await RunAsync(args[1..]).ConfigureAwait(false),
                "worker" => await WorkerAsync(args[1..]).ConfigureAwait(false),
                "compare" => CompareCommand(args[1..]),
                "bench" => await Bench.RunAsync(args[1..]).ConfigureAwait(false),
                _ => Fail($"unknown command '{args[0]}' (run, compare, bench)"),
            };
        }
        catch (ArgumentException e)
        {
            return Fail(e.Message);
        }
    }

    internal static int Fail(string message)
    {
        Console.Error.WriteLine($"clp2p-sim: {message}");
        return 2;
    }

    internal static string? Arg(IReadOnlyList<string> args, string name)
    {
        for (int i = 0; i < args.Count - 1; i++) if (args[i] == name) return args[i + 1];
        return null;
    }

    private static async Task<int> RunAsync(string[] args)
    {
        var options = SimOptions.Parse(args, ["--truth"]);
        if (options.BatchScheduling && !Scheduling.BatchThisProcess()) Console.Error.WriteLine("clp2p-sim: SCHED_BATCH refused; the simulator runs under the default policy");
        string truth = Arg(args, "--truth") ?? "sim-truth.json";
        await using var net = await SimNetwork.StartAsync(options, Console.Error.WriteLine).ConfigureAwait(false);
        net.WriteTruth(truth);
        Console.Error.WriteLine(net.Describe());
        Console.Error.WriteLine($"ground truth: {Path.GetFullPath(truth)}");
        Console.WriteLine($"bootnode {net.BootnodeEnr}");
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        var stdinClosed = Task.Run(() => { while (Console.In.ReadLine() != null) { } });
        await Task.WhenAny(stdinClosed, Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default)).ConfigureAwait(false);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"stopping: shard 0 sent {net.LocalShard.DatagramsSent} datagrams, lost {net.LocalShard.DatagramsLost}, failed to send {net.LocalShard.DatagramsFailed}, {net.LocalShard.Line.SentOver100MsLate} sent over 100 ms late (the latest {net.LocalShard.Line.MaxLateMs:0} ms), accepted {net.LocalShard.Connections} connections"));
        return 0;
    }

    private static async Task<int> WorkerAsync(string[] args)
    {
        var options = SimOptions.Parse(args, ["--shard"]);
        if (options.BatchScheduling) Scheduling.BatchThisProcess();
        int shard = int.Parse(Arg(args, "--shard") ?? throw new ArgumentException("--shard is required"), CultureInfo.InvariantCulture);
        SimShard s;
        try
        {
            var pop = Population.Build(options);
            s = new SimShard(pop, shard, options.Workers);
            await s.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or InvalidOperationException)
        {
            Console.WriteLine($"error {e.Message}");
            return 1;
        }
        await using (s.ConfigureAwait(false))
        {
            Console.WriteLine($"ready {s.Population.Fingerprint()}");
            while (await Console.In.ReadLineAsync().ConfigureAwait(false) != null) { }
        }
        return 0;
    }

    private static int CompareCommand(string[] args)
    {
        for (int i = 0; i < args.Length; i += 2)
            if (args[i] is not ("--export" or "--truth")) throw new ArgumentException($"unknown option '{args[i]}' (compare takes --export and --truth)");
        string export = Arg(args, "--export") ?? throw new ArgumentException("--export EXPORT.ndjson is required");
        string truth = Arg(args, "--truth") ?? throw new ArgumentException("--truth TRUTH.json is required");
        if (!File.Exists(export)) return Fail($"no such file: {export}");
        if (!File.Exists(truth)) return Fail($"no such file: {truth}");
        var r = Compare.Run(export, truth);
        Console.Write(r.Format());
        return 0;
    }
}
