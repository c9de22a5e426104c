using BenchmarkDotNet.Running;

namespace ClP2p.Bench;

/// <summary>
/// Storage benchmarks against PostgreSQL (CLP2P_BENCH_PG). Start a throwaway server and run:
/// <code>
/// eval "$(scripts/pg-tmp start)"
/// dotnet run -c Release --project bench/Storage.Bench -- --filter '*'
/// scripts/pg-tmp stop
/// </code>
/// </summary>
public static class BenchProgram
{
    public static void Main(string[] args)
    {
        if (args is ["copy-cpu", ..])
        {
            VisitCopyBenchmarks.CompareCpu(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 15);
            return;
        }
        if (args is ["sqlite-cpu", ..])
        {
            SqliteSinkBench.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 7,
                args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 20_000);
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(BenchProgram).Assembly).Run(args);
    }
}
