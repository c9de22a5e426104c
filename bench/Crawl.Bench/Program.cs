using BenchmarkDotNet.Running;

namespace ClP2p.Bench;

/// <summary>
/// Whole-crawl benchmark: `dotnet run -c Release --project bench/Crawl.Bench -- crawl [--nodes 200] [--runs 3] [--db CONN]`
/// starts a JavaScript testnet (tests/interop/testnet.mjs) on 127.0.0.1 and reports wall time, CPU seconds and peak
/// memory per crawl; `-- startup --exe PATH` times the published executable from start to its first discv5 packet.
/// Any other arguments go to BenchmarkDotNet.
/// </summary>
public static class BenchProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "crawl") return await CrawlBench.RunAsync(args[1..]).ConfigureAwait(false);
        if (args.Length > 0 && args[0] == "startup") return await StartupBench.RunAsync(args[1..]).ConfigureAwait(false);
        BenchmarkSwitcher.FromAssembly(typeof(BenchProgram).Assembly).Run(args);
        return 0;
    }
}
