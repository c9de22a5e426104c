using BenchmarkDotNet.Running;

namespace ClP2p.Bench;

/// <summary>Benchmark entry point: dotnet run -c Release --project bench/Libp2p.Bench -- --filter *</summary>
public static class BenchProgram
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(BenchProgram).Assembly).Run(args);
}
