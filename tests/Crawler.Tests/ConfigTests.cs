using ClP2p.Crawler.Cli;
using ClP2p.Crawler.Config;

namespace ClP2p.Crawler.Tests;

public sealed class ConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("500ms", 0.5)]
    [InlineData("30s", 30)]
    [InlineData("5m", 300)]
    [InlineData("2h", 7200)]
    [InlineData("1d", 86400)]
    [InlineData("00:01:30", 90)]
    public void Duration_parses_suffixes_and_timespans(string text, double seconds)
    {
        Assert.True(Duration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromSeconds(seconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("s")]
    [InlineData("-5s")]
    [InlineData("five minutes")]
    public void Duration_rejects_nonsense(string text) => Assert.False(Duration.TryParse(text, out _));

    [Fact]
    public void Node_key_is_created_once_and_reused()
    {
        byte[] first = NodeKeyStore.LoadOrCreate(_dir);
        byte[] second = NodeKeyStore.LoadOrCreate(_dir);
        Assert.Equal(32, first.Length);
        Assert.Equal(first, second);
        Assert.True(NodeKeyStore.IsValid(first));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, NodeKeyStore.FileName)));
    }

    [Fact]
    public void Node_key_file_that_is_not_a_key_is_an_error()
    {
        File.WriteAllText(Path.Combine(_dir, NodeKeyStore.FileName), new string('f', 64)); // above the curve order
        Assert.Throws<InvalidDataException>(() => NodeKeyStore.LoadOrCreate(_dir));
    }

    [Fact]
    public void Flags_override_environment_which_overrides_appsettings()
    {
        File.WriteAllText(Path.Combine(_dir, "appsettings.json"),
            """{ "Network": "sepolia", "Db": "sqlite:from-json.db", "Crawl": { "DialConcurrency": 7, "AllowPrivate": true } }""");
        var env = new Dictionary<string, string?> { ["CLP2P_Db"] = "sqlite:from-env.db", ["CLP2P_Crawl__DialConcurrency"] = "9" };

        var fromFileAndEnv = SettingsLoader.Load(Path.Combine(_dir, "appsettings.json"), _dir, env);
        Assert.Equal("sepolia", fromFileAndEnv.Network);
        Assert.Equal("sqlite:from-env.db", fromFileAndEnv.Db);
        Assert.Equal(9, fromFileAndEnv.Crawl.DialConcurrency);
        Assert.True(fromFileAndEnv.Crawl.AllowPrivate);

        var parse = Program.BuildCommand().Parse(["crawl", "--data-dir", _dir, "--config", Path.Combine(_dir, "appsettings.json"),
            "--dial-concurrency", "3", "--network", "hoodi", "--bootnode", "enr:-a", "--bootnode", "enr:-b", "--max-duration", "45s"]);
        Assert.Empty(parse.Errors);
        var flagged = CliOptions.Load(parse);
        Assert.Equal("hoodi", flagged.Network);
        Assert.Equal(3, flagged.Crawl.DialConcurrency);
        Assert.Equal(["enr:-a", "enr:-b"], flagged.Bootnodes);
        Assert.Equal(TimeSpan.FromSeconds(45), flagged.Crawl.MaxDuration);
        Assert.True(flagged.Crawl.AllowPrivate); // untouched by flags
    }

    [Theory]
    [InlineData("crawl")]
    [InlineData("run")]
    [InlineData("export")]
    [InlineData("migrate")]
    public void Every_command_has_help(string command)
    {
        var output = new StringWriter();
        int code = Program.BuildCommand().Parse([command, "--help"]).Invoke(new System.CommandLine.InvocationConfiguration { Output = output });
        Assert.Equal(0, code);
        Assert.Contains("--db", output.ToString(), StringComparison.Ordinal);
    }
}
