using BenchmarkDotNet.Running;

namespace ClP2p.Bench;

/// <summary>
/// Census API latency over HTTP against PostgreSQL (CLP2P_BENCH_PG). Start a throwaway server and run:
/// <code>
/// eval "$(scripts/pg-tmp start)"
/// dotnet run -c Release --project bench/Api.Bench -- --filter '*'
/// scripts/pg-tmp stop
/// </code>
/// The first run seeds 200 crawls × 15,000 nodes (plus one running crawl) into clp2p_bench_census; later runs and
/// Storage.Bench reuse it. `-- --page` times the dashboard in Chromium instead (<see cref="PageLoadBench"/>);
/// `-- --serve [--urls URL]` serves the API and the page over the data set until stopped (to look at it or time calls by hand).
/// </summary>
public static class BenchProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Contains("--page")) return await PageLoadBench.RunAsync(args).ConfigureAwait(false);
        if (args.Contains("--serve")) return await PageLoadBench.ServeAsync(args).ConfigureAwait(false);
        BenchmarkSwitcher.FromTypes([typeof(ApiBenchmarks)]).Run(args);
        return 0;
    }
}
