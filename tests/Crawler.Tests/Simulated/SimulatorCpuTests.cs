using ClP2p.Sim;

namespace ClP2p.Crawler.Tests.Simulated;

/// <summary>The simulator's CPU, which the benchmark prints beside the crawler's as the machine's speed.</summary>
public sealed class SimulatorCpuTests
{
    [Fact]
    public async Task The_simulators_cpu_counts_its_worker_processes_as_well_as_this_one()
    {
        // two processes: shard 0 here, shard 1 in a worker
        await using var net = await SimNetwork.StartAsync(new SimOptions { Records = 40, Workers = 2, Now = 1_790_000_000, Seed = 9 });
        double workers = net.WorkersCpuSeconds();
        double own = Environment.CpuUsage.TotalTime.TotalSeconds;
        double total = net.CpuSeconds();
        // the worker started a runtime and built its shard's nodes: it has used CPU, and the total is more than this
        // process's own
        Assert.True(workers > 0, $"workers {workers} s");
        Assert.True(total >= own + workers, $"total {total} s, own {own} s, workers {workers} s");
        // and it only grows
        Assert.True(net.CpuSeconds() >= total);
    }
}
