using ClP2p.Crawler.Hosting;
using ClP2p.Crawler.Tests.EndToEnd;

namespace ClP2p.Crawler.Tests;

public sealed class PoolThreadsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-pool-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    [InlineData(16, 17)]
    public void The_bound_is_one_worker_more_than_the_processors(int processors, int bound) =>
        Assert.Equal(bound, PoolThreads.BoundFor(processors, null));

    [Fact]
    public void Zero_leaves_the_runtimes_bound()
    {
        Assert.Null(PoolThreads.BoundFor(2, "0"));
        Assert.Equal(3, PoolThreads.BoundFor(2, "1"));   // only 0 means anything
    }

    // the bound is set by `clp2p crawl` for its own process (never in this test host, whose tests block pool threads):
    // a crawl of a bootnode that never answers, its debug log read for what the process did
    [Theory]
    [InlineData(null)]
    [InlineData("0")]
    public async Task A_crawl_process_bounds_its_pool_unless_told_not_to(string? setting)
    {
        using var silent = new NoAnswerCrawlTests.SilentBootnode();
        var env = new Dictionary<string, string> { ["CLP2P_LOG_LEVEL"] = "Debug" };
        if (setting is not null) env[PoolThreads.Variable] = setting;
        var run = await ProcessRun.RunAsync("clp2p.dll", _dir, env, TimeSpan.FromMinutes(2),
            ["crawl", "--network", "custom", "--bootnode", silent.Enr, "--allow-loopback", "--listen-address", "127.0.0.1",
             "--data-dir", Path.Combine(_dir, "data"), "--max-duration", "3s"]);
        string expected = setting == "0"
            ? $"thread pool: the runtime's bound ({PoolThreads.Variable}=0)"
            : $"thread pool: at most {Environment.ProcessorCount + 1} worker threads ({Environment.ProcessorCount} processors)";
        Assert.Contains(expected, run.Stdout + run.Stderr);
    }
}
