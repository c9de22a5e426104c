using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ClP2p.Discovery;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>
/// A crawl that reached nobody is failed, not succeeded: with a loopback bootnode that never answers, and with a
/// loopback bootnode the address policy refuses (no --allow-loopback). Both stay on loopback: the silent bootnode is a
/// UDP socket of this test that reads and never answers. The CLI prints one line with the likely cause and exits 1,
/// the summary JSON and the crawl row say failed with the reason, and the summary says why the crawl ended.
/// </summary>
public sealed class NoAnswerCrawlTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-noanswer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A loopback UDP socket with a record that reads every packet and never answers.</summary>
    internal sealed class SilentBootnode : IDisposable
    {
        private readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private int _received;

        public SilentBootnode()
        {
            Enr = new EnrBuilder().WithSeq(1).WithIp(IPAddress.Loopback).WithUdp(((IPEndPoint)_socket.Client.LocalEndPoint!).Port)
                .Build(Config.NodeKeyStore.Generate()).ToText();
            _loop = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        await _socket.ReceiveAsync(_stop.Token);
                        Interlocked.Increment(ref _received);
                    }
                }
                catch (OperationCanceledException) { }
                catch (SocketException) { }
            });
        }

        public string Enr { get; }
        public int Received => Volatile.Read(ref _received);

        public void Dispose()
        {
            _stop.Cancel();
            _loop.Wait(HangGuard);
            _socket.Dispose();
            _stop.Dispose();
        }
    }

    private async Task<(ProcessRun Run, JsonElement Summary, Dictionary<string, object?> Row)> CrawlAsync(string bootnode, params string[] extra)
    {
        string summaryPath = Path.Combine(_dir, "summary.json");
        string data = Path.Combine(_dir, "data");
        var run = await ProcessRun.RunAsync("clp2p.dll", _dir, null, Timeout,
            ["crawl", "--network", "custom", "--bootnode", bootnode, "--listen-address", "127.0.0.1", "--data-dir", data,
             "--summary-json", summaryPath, .. extra.Contains("--max-duration") ? extra : ["--max-duration", "90s", .. extra]]);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(summaryPath));
        await using var db = Sql.OpenSqlite(Path.Combine(data, "clp2p.db"));
        var rows = await Sql.RowsAsync(db, "SELECT state, summary_json FROM crawls");
        return (run, doc.RootElement.Clone(), Assert.Single(rows));
    }

    [Fact]
    public async Task Bootnode_that_never_answers_fails_the_crawl_with_its_likely_cause()
    {
        using var silent = new SilentBootnode();
        var (run, summary, row) = await CrawlAsync(silent.Enr, "--allow-loopback");

        Assert.True(run.ExitCode == 1, run.ToString());
        string line = Assert.Single(run.StderrLines);
        Assert.Contains("failed: none of the 1 bootnode(s) answered discovery", line, StringComparison.Ordinal);
        Assert.Contains("likely cause: no network, UDP blocked by a firewall, or stale bootnodes", line, StringComparison.Ordinal);
        Assert.True(silent.Received > 0, "the crawler did try the (loopback) bootnode");

        Assert.Equal("failed", summary.GetProperty("state").GetString());
        Assert.Equal("completed", summary.GetProperty("ended_by").GetString());   // discovery gave up by itself, before --max-duration
        Assert.Contains("none of the 1 bootnode(s) answered", summary.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, summary.GetProperty("discovery_answered").GetInt64());
        Assert.Equal("failed", row["state"]);
        Assert.Contains("none of the 1 bootnode(s) answered", (string)row["summary_json"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Loopback_bootnode_without_allow_loopback_fails_and_is_never_contacted()
    {
        using var silent = new SilentBootnode();
        var (run, summary, row) = await CrawlAsync(silent.Enr);

        Assert.True(run.ExitCode == 1, run.ToString());
        string line = Assert.Single(run.StderrLines);
        Assert.Contains("the address policy refused all 1 bootnode(s) (1 loopback", line, StringComparison.Ordinal);
        Assert.Contains("likely cause: loopback not allowed: add --allow-loopback", line, StringComparison.Ordinal);
        Assert.Equal(0, silent.Received);

        Assert.Equal("failed", summary.GetProperty("state").GetString());
        Assert.Equal("completed", summary.GetProperty("ended_by").GetString());
        Assert.Equal(0, summary.GetProperty("bootnodes_allowed").GetInt32());
        Assert.Contains("loopback not allowed", summary.GetProperty("likely_cause").GetString(), StringComparison.Ordinal);
        Assert.Equal("failed", row["state"]);
    }

    [Fact]
    public async Task Summary_says_the_crawl_was_cut_by_max_duration()
    {
        // The silent bootnode's discovery would take many seconds of timeouts and retries to give up; --max-duration
        // cuts it first. Nobody answered, so the crawl is still failed, and the summary says what ended it.
        using var silent = new SilentBootnode();
        var (run, summary, row) = await CrawlAsync(silent.Enr, "--allow-loopback", "--max-duration", "1s");

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("none of the 1 bootnode(s) answered discovery", Assert.Single(run.StderrLines), StringComparison.Ordinal);
        Assert.Equal(("failed", "max_duration"), (summary.GetProperty("state").GetString(), summary.GetProperty("ended_by").GetString()));
        Assert.Contains("\"ended_by\":\"max_duration\"", ((string)row["summary_json"]!).Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Summary_says_the_crawl_was_aborted_by_sigterm_and_the_exit_code_is_130()
    {
        using var silent = new SilentBootnode();
        string summaryPath = Path.Combine(_dir, "summary.json");
        string data = Path.Combine(_dir, "data");
        using var crawl = Clp2pProcess.Start(_dir, "crawl", "--network", "custom", "--bootnode", silent.Enr, "--allow-loopback",
            "--listen-address", "127.0.0.1", "--data-dir", data, "--summary-json", summaryPath);
        await crawl.WaitForLineAsync(" bootnodes into ", Timeout);   // the crawl row exists
        crawl.Terminate();
        int code = await crawl.WaitAsync(Timeout);

        Assert.True(code == 130, $"exit {code}:\n{crawl.Output}");
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(summaryPath));
        Assert.Equal(("aborted", "aborted"), (doc.RootElement.GetProperty("state").GetString(), doc.RootElement.GetProperty("ended_by").GetString()));
        await using var db = Sql.OpenSqlite(Path.Combine(data, "clp2p.db"));
        Assert.Equal("aborted", Assert.Single(await Sql.RowsAsync(db, "SELECT state FROM crawls"))["state"]);
    }
}
