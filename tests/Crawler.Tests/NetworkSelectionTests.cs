using System.Security.Cryptography;
using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Eth2.Networks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Crawler.Tests;

public sealed class NetworkSelectionTests : IDisposable
{
    // A mainnet bootnode, from eth-clients/mainnet metadata/bootstrap_nodes.yaml
    private const string Enr = "enr:-Iu4QLm7bZGdAt9NSeJG0cEnJohWcQTQaI9wFLu3Q7eHIDfrI4cwtzvEW3F3VbG9XdFXlrHyFGeXPn9snTCQJ9bnMRABgmlkgnY0gmlwhAOTJQCJc2VjcDI1NmsxoQIZdZD6tDYpkpEfVo5bgiU8MGRjhcOmHGD2nErK0UKRrIN0Y3CCIyiDdWRwgiMo";
    private readonly string _dir = Directory.CreateTempSubdirectory("clp2p-net-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Builtin_network_uses_its_own_bootnodes_unless_given()
    {
        var mainnet = NetworkSelection.Resolve(new CrawlerSettings { Network = "mainnet" }, NullLogger.Instance);
        Assert.Equal("mainnet", mainnet.Network!.Name);
        Assert.True(mainnet.Bootnodes.Count >= 5);
        var given = NetworkSelection.Resolve(new CrawlerSettings { Network = "mainnet", Bootnodes = [Enr] }, NullLogger.Instance);
        Assert.Single(given.Bootnodes);
    }

    [Fact]
    public void Unknown_network_custom_without_bootnodes_and_bad_enrs_are_errors()
    {
        Assert.Throws<ArgumentException>(() => NetworkSelection.Resolve(new CrawlerSettings { Network = "moonnet" }, NullLogger.Instance));
        Assert.Throws<ArgumentException>(() => NetworkSelection.Resolve(new CrawlerSettings { Network = "custom" }, NullLogger.Instance));
        Assert.Throws<ArgumentException>(() => NetworkSelection.Resolve(new CrawlerSettings { Network = "custom", Bootnodes = ["enr:-garbage"] }, NullLogger.Instance));
    }

    [Fact]
    public void Custom_network_from_config_yaml_names_its_fork_digests()
    {
        string yaml = Path.Combine(_dir, "config.yaml");
        File.WriteAllText(yaml, """
            CONFIG_NAME: 'devnet-7'
            PRESET_BASE: 'mainnet'
            MIN_GENESIS_TIME: 1700000000
            GENESIS_DELAY: 60
            GENESIS_FORK_VERSION: 0x10000038
            ALTAIR_FORK_VERSION: 0x20000038
            ALTAIR_FORK_EPOCH: 0
            BELLATRIX_FORK_VERSION: 0x30000038
            BELLATRIX_FORK_EPOCH: 10
            SECONDS_PER_SLOT: 12
            """);
        byte[] gvr = RandomNumberGenerator.GetBytes(32);
        var s = new CrawlerSettings { Network = "custom", Bootnodes = [Enr], ConfigYaml = yaml, GenesisValidatorsRoot = Convert.ToHexStringLower(gvr) };
        var selection = NetworkSelection.Resolve(s, NullLogger.Instance);
        Assert.Equal("devnet-7", selection.Network!.Name);

        // fork_digest = sha256(version || 28 zero bytes || genesis_validators_root)[0:4], computed here independently
        byte[] data = new byte[64];
        Convert.FromHexString("30000038").CopyTo(data, 0);
        gvr.CopyTo(data, 32);
        var digest = ForkDigest.Read(SHA256.HashData(data));
        Assert.True(selection.Registry.TryNameDigest(digest, out string network, out string fork));
        Assert.Equal(("devnet-7", "bellatrix"), (network, fork));
        // the built-in networks stay named too
        Assert.True(selection.Registry.TryNameDigest(ForkDigest.Parse("cc2c5cdb"), out network, out fork));
        Assert.Equal(("mainnet", "fulu"), (network, fork));
    }

    /// <summary>Keeps each log line with its level.</summary>
    private sealed class LinesLogger : ILogger
    {
        public List<(LogLevel Level, string Text)> Lines { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add((logLevel, formatter(state, exception)));
    }

    [Fact]
    public void Retired_holesky_is_crawled_only_with_a_warning_and_not_offered_as_a_choice()
    {
        var log = new LinesLogger();
        var holesky = NetworkSelection.Resolve(new CrawlerSettings { Network = "holesky" }, log);
        Assert.Equal("holesky", holesky.Network!.Name);
        var warning = Assert.Single(log.Lines, l => l.Level == LogLevel.Warning);
        Assert.Contains("network holesky is retired (shut down after the Fusaka fork", warning.Text, StringComparison.Ordinal);

        var live = new LinesLogger();
        NetworkSelection.Resolve(new CrawlerSettings { Network = "hoodi" }, live);
        Assert.DoesNotContain(live.Lines, l => l.Level >= LogLevel.Warning);

        // The choices offered (--network's help, the unknown-network error) name holesky only as retired.
        string help = Cli.CliOptions.Network.Description!;
        Assert.StartsWith("mainnet, sepolia, hoodi, gnosis, chiado, or custom (retired", help, StringComparison.Ordinal);
        var unknown = Assert.Throws<ArgumentException>(() => NetworkSelection.Resolve(new CrawlerSettings { Network = "moonnet" }, NullLogger.Instance));
        Assert.Contains("use mainnet, sepolia, hoodi, gnosis, chiado or custom (retired: holesky)", unknown.Message, StringComparison.Ordinal);
    }
}
