using System.Diagnostics;
using ClP2p.Sim;

namespace ClP2p.Crawler.Tests.Simulated;

/// <summary>
/// The simulator runs under SCHED_BATCH so that it does not pre-empt the crawler it shares the cores with, and the
/// crawler it starts for the benchmark runs under the default policy (Scheduling's remarks).
/// </summary>
public sealed class SimulatorSchedulingTests
{
    [Fact]
    public void A_process_started_from_a_batch_thread_inherits_batch_unless_started_under_the_normal_policy()
    {
        // on a thread of its own: the test process's other threads keep the default policy
        string? before = null, inherited = null, started = null, after = null;
        Exception? failure = null;
        var t = new Thread(() =>
        {
            try
            {
                before = Scheduling.PolicyOf(0);
                Assert.True(Scheduling.BatchThisThread());
                inherited = PolicyOfChild(() => Process.Start(Sleeper())!);
                started = PolicyOfChild(() => Scheduling.StartUnderNormalPolicy(() => Process.Start(Sleeper())!));
                after = Scheduling.PolicyOf(0);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        t.Start();
        t.Join();
        Assert.Null(failure);
        Assert.Equal("normal", before);
        Assert.Equal("batch", inherited);
        Assert.Equal("normal", started);
        Assert.Equal("batch", after);
    }

    [Theory]
    [InlineData("batch")]
    [InlineData("normal")]
    public async Task Every_thread_of_a_running_simulator_has_the_policy_it_was_given(string sched)
    {
        string dll = typeof(SimNetwork).Assembly.Location;
        string truth = Path.Combine(Path.GetTempPath(), $"clp2p-sched-{Environment.ProcessId}-{sched}.json");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { dll, "run", "--records", "20", "--now", "1790000000", "--sched", sched, "--truth", truth })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        _ = p.StandardError.ReadToEndAsync();
        try
        {
            // the network is up (its thread pool, sockets and timers started) once it prints the bootnode
            string? line;
            while ((line = await p.StandardOutput.ReadLineAsync()) is not null && !line.StartsWith("bootnode ", StringComparison.Ordinal)) { }
            Assert.NotNull(line);
            var policies = Directory.EnumerateDirectories($"/proc/{p.Id}/task")
                .Select(d => Scheduling.PolicyOf(int.Parse(Path.GetFileName(d), System.Globalization.CultureInfo.InvariantCulture)))
                .ToList();
            Assert.True(policies.Count > 5, $"{policies.Count} threads");
            // a thread that ended between the listing and the query reads as -1
            Assert.All(policies.Where(x => x != "-1"), x => Assert.Equal(sched, x));
        }
        finally
        {
            p.StandardInput.Close();   // the simulator stops when its standard input closes
            p.WaitForExit();
            File.Delete(truth);
        }
    }

    private static ProcessStartInfo Sleeper() => new("sleep", "30") { UseShellExecute = false };

    private static string PolicyOfChild(Func<Process> start)
    {
        using var p = start();
        try
        {
            return Scheduling.PolicyOf(p.Id);
        }
        finally
        {
            p.Kill();
            p.WaitForExit();
        }
    }
}
