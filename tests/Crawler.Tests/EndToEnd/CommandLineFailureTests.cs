using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery;
using Npgsql;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>
/// Every bad option of every command, run through the real executables (clp2p.dll and the standalone ClP2p.Api.dll):
/// each ends in exactly one line on standard error naming what is wrong, exit code 2, nothing on standard output, no
/// stack trace, and no database or crawl row written. Crawl and run cases point at a loopback bootnode, so even a
/// case that wrongly went on would send nothing beyond loopback.
/// </summary>
public sealed class CommandLineFailureTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A record of a loopback node nobody listens for (never contacted: every case stops first).</summary>
    internal static string LoopbackBootnode(int port = 9) =>
        new EnrBuilder().WithSeq(1).WithIp(IPAddress.Loopback).WithUdp(port).Build(Config.NodeKeyStore.Generate()).ToText();

    public static TheoryData<string, string, string> BadOptions => new()
    {
        // command + args (| separated), environment (NAME=VALUE, ; separated), what the line must name
        { "crawl|--dial-timeout|5x", "", "--dial-timeout '5x' is not a duration" },
        { "crawl|--max-duration|banana", "", "--max-duration 'banana' is not a duration" },
        { "crawl|--dial-timeout|-5s", "", "--dial-timeout '-5s' is not a duration" },
        { "crawl|--dial-timeout|0s", "", "--dial-timeout '0s' must be longer than zero" },
        { "crawl|--dial-concurrency|0", "", "--dial-concurrency '0' is out of range" },
        { "crawl|--discovery-concurrency|many", "", "--discovery-concurrency 'many' is not a whole number" },
        { "crawl|--frobnicate", "", "unknown option '--frobnicate'" },
        { "crawl|--config|/nonexistent.json", "", "--config '/nonexistent.json' does not exist" },
        { "crawl", "CLP2P_Crawl__DialConcurrency=abc", "CLP2P_Crawl__DialConcurrency 'abc' is not a whole number" },
        { "crawl", "CLP2P_Crawl__DialTimeout=0s", "CLP2P_Crawl__DialTimeout '00:00:00' must be longer than zero" },
        { "crawl", "CLP2P_Crawl__DialConcurency=8", "unknown setting 'Crawl:DialConcurency'" },
        { "crawl|--config|@malformed.json", "", "malformed.json is not valid JSON" },
        { "crawl|--config|@wrongtype.json", "", "key Crawl:MaxDuration 'soon' is not a duration" },
        { "crawl|--udp-port|99999", "", "--udp-port '99999' is not a port" },
        { "crawl|--listen-address|banana", "", "--listen-address 'banana' is not an IP address" },
        { "crawl|--summary-json|/proc/clp2p-test/summary.json", "", "--summary-json '/proc/clp2p-test/summary.json' is not writable" },
        { "crawl|--summary-json|@", "", "is a directory" },
        { "crawl|--geoip-city|/nonexistent.mmdb", "", "--geoip-city '/nonexistent.mmdb' does not exist" },
        { "crawl|--db|banana", "", "unrecognised --db value 'banana'" },
        { "crawl|--network|banana|-", "", "unknown network 'banana'" },
        { "crawl|--network|custom|--bootnode|enr:-notarecord|-", "", "--bootnode 'enr:-notarecord' is not a valid ENR" },
        { "run|--interval|0", "", "--interval '0' must be longer than zero" },
        { "run|--urls|banana", "", "--urls 'banana' is not a listen URL" },
        { "run", "CLP2P_Run__ApiUrls=ftp://x", "CLP2P_Run__ApiUrls 'ftp://x' is not a listen URL" },
        { "run|--redial-interval|soon", "", "--redial-interval 'soon' is not a duration" },
        { "run|--retention|-1d", "", "--retention '-1d' is not a duration" },
        { "run|--cron|every minute", "", "--cron 'every minute' is not a Quartz cron expression" },
        { "run|--udp-port|-1", "", "--udp-port '-1' is not a port" },
        { "run|--tcp-port|70000", "", "--tcp-port '70000' is not a port" },
        { "crawl|--tcp-port|http", "", "--tcp-port 'http' is not a port" },
        { "run|--external-ip|example.org", "", "--external-ip 'example.org' is not an IP address" },
        { "crawl", "CLP2P_Crawl__ExternalIp=one.two", "CLP2P_Crawl__ExternalIp 'one.two' is not an IP address" },
        { "export|--format|xml", "", "--format 'xml' is not one of csv, ndjson, parquet" },
        { "export|--crawl|first", "", "--crawl must be a crawl id or 'latest', not 'first'" },
        { "export|--db|sqlite:@typo.db", "", "no database at" },
        { "export|--format|parquet", "", "--format parquet needs --out PATH" },
        { "export|--bogus", "", "unknown option '--bogus'" },
        { "migrate|--db|postgres://", "", "invalid PostgreSQL URL" },
        { "migrate|--config|@malformed.json", "", "malformed.json is not valid JSON" },
        { "crawl|--connect-timeout|0s", "", "--connect-timeout '0s' must be longer than zero" },
        { "crawl|--vantage|bad!name", "", "--vantage must be 1 to 64 letters" },
        { "crawl", "CLP2P_Vantage=bad name", "Vantage 'bad name' must be 1 to 64 letters" },
        { "census|--dimension|banana", "", "--dimension must be one of client" },
        { "census|--crawl|first", "", "--crawl must be a crawl id or 'latest', not 'first'" },
        { "census|--db|sqlite:@typo.db", "", "no database at" },
        { "census|diff|a|b", "", "A must be a crawl id, not 'a'" },
        { "census|readiness|--network|banana", "", "--network must be one of mainnet" },
        { "census|--merged|--from|yesterday", "", "--from must be an ISO 8601 time or a duration" },
        { "import|@nonexistent.csv", "", "no file" },
        { "import|@export.xml", "", "cannot tell the format of" },
        { "frobnicate", "", "unexpected argument 'frobnicate'" },
        { "api|--urls|banana", "", "--urls 'banana' is not a listen URL" },
        { "api|--port|5080", "", "unknown option '--port'" },
        { "api|--db|sqlite:@typo.db", "", "no database at" },
        { "api|--db|nonsense", "", "unrecognised --db value 'nonsense'" },
        { "api", "", "no database at" },   // no arguments: the default ./clp2p-data/clp2p.db is not created
    };

    [Theory, MemberData(nameof(BadOptions))]
    public async Task Bad_option_is_one_line_exit_2_and_writes_nothing(string command, string environment, string expected)
    {
        File.WriteAllText(Path.Combine(_dir, "malformed.json"), """{ "Crawl": { "DialConcurrency": 8, } oops""");
        File.WriteAllText(Path.Combine(_dir, "wrongtype.json"), """{ "Crawl": { "MaxDuration": "soon" } }""");
        string data = Path.Combine(_dir, "data");
        var args = command.Split('|').Select(a => a.StartsWith('@') ? Path.Combine(_dir, a[1..]) : a).ToList();
        bool api = args[0] == "api";
        if (api) args.RemoveAt(0);
        bool ownNetwork = args.Count > 0 && args[^1] == "-";
        if (ownNetwork) args.RemoveAt(args.Count - 1);
        if (!api) args.AddRange(["--data-dir", data]);
        if (!api && args[0] is "crawl" or "run" && !ownNetwork) args.AddRange(["--network", "custom", "--bootnode", LoopbackBootnode()]);
        if (!api && args[0] is "run") args.Add("--no-api");
        var env = environment.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);

        var run = await ProcessRun.RunAsync(api ? "ClP2p.Api.dll" : "clp2p.dll", _dir, env, Timeout, [.. args]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.True(run.StderrLines.Length == 1, run.ToString());
        Assert.Contains(expected, run.StderrLines[0], StringComparison.Ordinal);
        Assert.StartsWith(api ? "clp2p-api" : "clp2p", run.StderrLines[0], StringComparison.Ordinal);
        Assert.True(run.Stdout.Length == 0, run.ToString());
        Assert.DoesNotContain("   at ", run.Stderr + run.Stdout, StringComparison.Ordinal);
        // nothing was created: no data directory (node key, default database), no typo'd database file
        Assert.False(Directory.Exists(data), "the data directory was created");
        Assert.False(File.Exists(Path.Combine(_dir, "typo.db")), "a database was created");
        Assert.False(Directory.Exists(Path.Combine(_dir, "clp2p-data")), "the default data directory was created");
    }

    [Theory]
    [InlineData("crawl")]
    [InlineData("run")]
    [InlineData("export")]
    [InlineData("census")]
    [InlineData("migrate")]
    public async Task Malformed_appsettings_json_in_the_working_directory_is_one_line_exit_2(string command)
    {
        // The appsettings.json a user leaves in the directory they run from, read without --config.
        File.WriteAllText(Path.Combine(_dir, "appsettings.json"), """{ "Crawl": { "DialConcurrency": 8, } oops""");
        string data = Path.Combine(_dir, "data");
        var args = new List<string> { command, "--data-dir", data };
        if (command is "crawl" or "run") args.AddRange(["--network", "custom", "--bootnode", LoopbackBootnode()]);
        if (command is "run") args.Add("--no-api");

        var run = await ProcessRun.RunAsync("clp2p.dll", _dir, null, Timeout, [.. args]);

        Assert.True(run.ExitCode == 2, run.ToString());
        string line = Assert.Single(run.StderrLines);
        Assert.Contains($"configuration file {Path.Combine(_dir, "appsettings.json")} is not valid JSON", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr + run.Stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data), "the data directory was created");
    }

    [Theory]
    [InlineData("crawl")]
    [InlineData("run")]
    [InlineData("export")]
    [InlineData("migrate")]
    [InlineData("census")]
    [InlineData("import")]
    [InlineData("api")]
    public async Task Help_prints_the_options_and_starts_nothing(string command)
    {
        bool api = command == "api";
        var run = await ProcessRun.RunAsync(api ? "ClP2p.Api.dll" : "clp2p.dll", _dir, null, Timeout, api ? ["--help"] : [command, "--help"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("--db", run.Stdout, StringComparison.Ordinal);
        if (api) Assert.Contains("http://127.0.0.1:5080", run.Stdout, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public async Task Networks_command_lists_each_schedule_with_its_sources_verified_or_not_and_retired_networks()
    {
        var run = await ProcessRun.RunAsync("clp2p.dll", _dir, null, Timeout, "networks");
        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Stdout.Split('\n', StringSplitOptions.TrimEntries);
        Assert.Contains("mainnet (live; schedule verified)", lines);
        Assert.Contains(lines, l => l.StartsWith("gloas", StringComparison.Ordinal) && l.Contains("epoch unscheduled", StringComparison.Ordinal)
            && l.Contains("digest ce2153ed (if activated after the last fork)", StringComparison.Ordinal));
        // Hoodi's and Sepolia's Gloas epochs come from one source each (networks.json sources.gloas).
        Assert.Contains("hoodi (live; schedule NOT verified)", lines);
        Assert.Contains("sepolia (live; schedule NOT verified)", lines);
        Assert.Contains(lines, l => l.StartsWith("source gloas: eth-clients/sepolia", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("holesky (retired: shut down after the Fusaka fork", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }
}
