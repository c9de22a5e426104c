using System.Text.Json;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>
/// The crawl lease through the real executables: `clp2p crawl` started beside a live `clp2p run` on the same PostgreSQL
/// database leaves the running crawl alone. The live crawl's process is paused (SIGSTOP) once its crawl row exists, so
/// it can neither end by itself before the second crawl looks (the race an earlier version of this check lost) nor
/// renew its heartbeat meanwhile: only the lease, still fresh, keeps it from being marked failed. Everything stays on
/// loopback (a silent bootnode of the test, and a loopback bootnode the second crawl's address policy refuses).
/// </summary>
public sealed class LeaseEndToEndTests : IDisposable
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-lease-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Crawl_beside_a_running_run_does_not_mark_its_crawl_failed()
    {
        await using var pg = await PgDatabase.CreateAsync();
        using var silent = new NoAnswerCrawlTests.SilentBootnode();
        using var live = Clp2pProcess.Start(_dir, "run", "--no-api", "--network", "custom", "--bootnode", silent.Enr, "--allow-loopback",
            "--listen-address", "127.0.0.1", "--db", pg.ConnectionString, "--data-dir", Path.Combine(_dir, "live"), "--redial-interval", "0");
        string started = await live.WaitForLineAsync(" bootnodes into ", HangGuard);   // its crawl row exists, state running
        live.Pause();
        try
        {
            var beside = await ProcessRun.RunAsync("clp2p.dll", _dir, null, HangGuard, "crawl", "--network", "custom",
                "--bootnode", CommandLineFailureTests.LoopbackBootnode(), "--listen-address", "127.0.0.1",
                "--db", pg.ConnectionString, "--data-dir", Path.Combine(_dir, "beside"), "--summary-json", Path.Combine(_dir, "beside.json"));
            // The second crawl ran to its own end (failed: its loopback bootnode is refused) and looked for dead crawls twice.
            Assert.True(beside.ExitCode == 1, beside.ToString());
            Assert.Contains("the address policy refused all 1 bootnode(s)", Assert.Single(beside.StderrLines), StringComparison.Ordinal);
            Assert.DoesNotContain("marked crawls", beside.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("stopped renewing its lease", beside.Stdout, StringComparison.Ordinal);
            await using var db = pg.Open();
            var rows = await Sql.RowsAsync(db, "SELECT id, state FROM crawls ORDER BY id");
            Assert.Equal(2, rows.Count);
            Assert.Equal("running", rows[0]["state"]);   // the live crawl, untouched
            Assert.Equal("failed", rows[1]["state"]);    // the one beside it
            Assert.Contains($"crawl {rows[0]["id"]} of custom", started, StringComparison.Ordinal);
        }
        finally
        {
            live.Resume();
        }

        // Resumed, the live crawl still holds its row: it ends on its own terms (aborted by SIGTERM here), not as
        // "interrupted" by another process.
        live.Terminate();
        int code = await live.WaitAsync(HangGuard);
        Assert.True(code is 0 or 130, $"clp2p run exited {code}:\n{live.Output}");
        await using (var db = pg.Open())
        {
            var first = (await Sql.RowsAsync(db, "SELECT state, summary_json FROM crawls ORDER BY id LIMIT 1"))[0];
            Assert.NotEqual("running", first["state"]);
            using var summary = JsonDocument.Parse((string)first["summary_json"]!);
            Assert.NotEqual("interrupted", summary.RootElement.GetProperty("ended_by").GetString());
        }
        Assert.DoesNotContain("is no longer running in the database", live.Output, StringComparison.Ordinal);
    }
}
