using System.Net;
using System.Net.Sockets;
using ClP2p.Storage;
using Npgsql;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>
/// Failures of the environment, through the real executables: PostgreSQL unreachable or its database missing, a UDP
/// or HTTP port in use, an unwritable data directory or export path. Every command, the standalone API included,
/// prints exactly one line naming the cause on standard error and exits 1; the details go to the log (standard
/// output), never a stack trace on standard error.
/// </summary>
public sealed class EnvironmentFailureTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-env-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int FreeTcpPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Runs one command; crawl and run get a loopback bootnode and no API unless the case says otherwise.</summary>
    private async Task<ProcessRun> RunAsync(string command, params string[] extra)
    {
        bool api = command == "api";
        var args = new List<string>();
        if (!api) args.Add(command);
        args.AddRange(extra);
        if (command is "crawl" or "run")
        {
            args.AddRange(["--network", "custom", "--bootnode", CommandLineFailureTests.LoopbackBootnode(), "--listen-address", "127.0.0.1"]);
            if (!extra.Contains("--data-dir")) args.AddRange(["--data-dir", Path.Combine(_dir, "data")]);
        }
        if (command == "run" && !extra.Contains("--urls")) args.Add("--no-api");
        return await ProcessRun.RunAsync(api ? "ClP2p.Api.dll" : "clp2p.dll", _dir, null, Timeout, [.. args]);
    }

    private static void AssertOneLine(ProcessRun run, string expected)
    {
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.True(run.StderrLines.Length == 1, run.ToString());
        Assert.Contains(expected, run.StderrLines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", run.Stderr + run.Stdout, StringComparison.Ordinal);
    }

    private async Task<string> ExistingSqliteAsync()
    {
        string path = Path.Combine(_dir, "existing.db");
        await StorageMigrator.MigrateAsync(StorageOptions.Parse("sqlite:" + path, _dir));
        return "sqlite:" + path;
    }

    [Theory]
    [InlineData("crawl")]
    [InlineData("run")]
    [InlineData("migrate")]
    [InlineData("export")]
    [InlineData("census")]
    [InlineData("api")]
    public async Task Postgres_unreachable_is_one_line_exit_1(string command)
    {
        string db = $"Host=127.0.0.1;Port={FreeTcpPort()};Database=clp2p;Username=clp2p;Password=x;Timeout=5";
        var run = await RunAsync(command, "--db", db);
        AssertOneLine(run, "cannot reach PostgreSQL");
        Assert.Contains("is the server running", run.StderrLines[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("crawl")]
    [InlineData("run")]
    [InlineData("migrate")]
    [InlineData("export")]
    [InlineData("census")]
    [InlineData("api")]
    public async Task Postgres_database_missing_is_one_line_exit_1(string command)
    {
        string name = "clp2p_missing_" + Guid.NewGuid().ToString("N")[..10];
        string db = new NpgsqlConnectionStringBuilder(PgDatabase.ServerConnectionString) { Database = name }.ConnectionString;
        var run = await RunAsync(command, "--db", db);
        AssertOneLine(run, $"database \"{name}\" does not exist");
    }

    [Theory]
    [InlineData("crawl")]
    [InlineData("run")]
    public async Task Udp_port_in_use_is_one_line_exit_1(string command)
    {
        using var holder = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)holder.Client.LocalEndPoint!).Port;
        var run = await RunAsync(command, "--udp-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AssertOneLine(run, $"UDP port {port} on 127.0.0.1 is already in use");
        Assert.False(File.Exists(Path.Combine(_dir, "data", "clp2p.db")), "no database (and so no crawl row) before the port check");
    }

    [Theory]
    [InlineData("run")]
    [InlineData("api")]
    public async Task Http_port_in_use_is_one_line_exit_1(string command)
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        int port = ((IPEndPoint)holder.LocalEndpoint).Port;
        string db = await ExistingSqliteAsync();
        var run = await RunAsync(command, "--urls", $"http://127.0.0.1:{port}", "--db", db);
        AssertOneLine(run, "already in use");
        Assert.Contains(port.ToString(System.Globalization.CultureInfo.InvariantCulture), run.StderrLines[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("crawl")]
    [InlineData("run")]
    [InlineData("migrate")]
    public async Task Unwritable_data_directory_is_one_line_exit_1(string command)
    {
        // /proc refuses new files even to root, so this holds wherever the tests run.
        var run = await RunAsync(command, "--data-dir", "/proc/clp2p-test-data");
        AssertOneLine(run, "/proc/clp2p-test-data");
    }

    [Fact]
    public async Task Unwritable_export_path_is_one_line_exit_1()
    {
        string db = await ExistingSqliteAsync();
        var run = await RunAsync("export", "--db", db, "--out", "/proc/clp2p-test/export.csv");
        AssertOneLine(run, "cannot write the export: --out '/proc/clp2p-test/export.csv'");
    }

    [Theory]
    [InlineData("export")]
    [InlineData("census")]
    [InlineData("census readiness")]
    public async Task Existing_database_without_a_crawl_is_one_line_exit_1(string command)
    {
        string db = await ExistingSqliteAsync();
        var run = await RunAsync(command.Split(' ')[0], [.. command.Split(' ').Skip(1), "--db", db]);
        AssertOneLine(run, "no crawl");
        Assert.Contains("yet", run.StderrLines[0], StringComparison.Ordinal);
    }
}
