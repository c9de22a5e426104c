using ClP2p.Eth2.Agents;

namespace ClP2p.Eth2.Tests;

public class AgentParserTests
{
    // Real agent strings seen in crawler datasets, client test suites and logs (Prysm peerscoring tests, Lighthouse
    // client.rs, Lodestar clientFromAgentVersion tests, armiarma FilterClientType examples, Charon/beacon version checks).
    public static TheoryData<string, string, string?, string?, string?> Cases => new()
    {
        { "Lighthouse/v8.2.2-e423a66/aarch64-linux", "lighthouse", "v8.2.2", "linux", "arm64" },
        { "Lighthouse/v8.2.2/aarch64-macos", "lighthouse", "v8.2.2", "macos", "arm64" },
        { "Lighthouse/v2.0.1-fff01b2/x86_64-linux", "lighthouse", "v2.0.1", "linux", "x86_64" },
        { "Lighthouse/v1.5.1-b0ac346/x86_64-linux", "lighthouse", "v1.5.1", "linux", "x86_64" },
        { "Lighthouse/v5.3.0-d6ba8c3+/x86_64-linux", "lighthouse", "v5.3.0", "linux", "x86_64" },
        { "Lighthouse/v7.0.0-54f7bc5/aarch64-linux", "lighthouse", "v7.0.0", "linux", "arm64" },
        { "lighthouse/v7.0.1/linux-x86_64", "lighthouse", "v7.0.1", "linux", "x86_64" },
        { "Prysm/v7.2.0/03f3712a184c1c7cc9fd38d3b1abc5328934cdef", "prysm", "v7.2.0", null, null },
        { "Prysm/v1.4.3/8bca66ac6408a03af52d65541f58384007ed50ef", "prysm", "v1.4.3", null, null },
        { "Prysm/v1.3.8-hotfix+6c0942/6c09424feb3141b96016bed817d7ade1cd75deb7", "prysm", "v1.3.8", null, null },
        { "Prysm/v2.0.2/a80b1c252a9b4773493b41999769bf3134ac373f", "prysm", "v2.0.2", null, null },
        { "Prysm/v6.0.4 (linux arm64)", "prysm", "v6.0.4", "linux", "arm64" },
        { "github.com/prysmaticlabs/prysm", "prysm", null, null, null },
        { "teku/teku/v26.3.0/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java", "teku", "v26.3.0", "linux", "x86_64" },
        { "teku/teku/v21.8.2/linux-x86_64/corretto-java-16", "teku", "v21.8.2", "linux", "x86_64" },
        { "teku/teku/v21.7.0+9-g77b4b9e/linux-x86_64/-ubuntu-openjdk64bitservervm-java-11", "teku", "v21.7.0", "linux", "x86_64" },
        { "teku/teku/v21.11.0+62-g501ffa7/linux-x86_64/corretto-java-17", "teku", "v21.11.0", "linux", "x86_64" },
        { "teku/teku/v26.7.1/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java-26", "teku", "v26.7.1", "linux", "x86_64" },
        { "teku/v25.6.0/linux-aarch_64/-eclipseadoptium-openjdk64bitservervm-java-21", "teku", "v25.6.0", "linux", "arm64" },
        { "teku/v25.12.0/windows-x86_64/-eclipseadoptium-openjdk64bitservervm-java-21", "teku", "v25.12.0", "windows", "x86_64" },
        { "teku/v24.8.0/linux-amd64/-privatebuild", "teku", "v24.8.0", "linux", "x86_64" },
        { "nimbus", "nimbus", null, null, null },
        { "Nimbus/v26.7.0-4110bc-stateofus", "nimbus", "v26.7.0", null, null },
        { "Nimbus/v24.11.0/linux-amd64", "nimbus", "v24.11.0", "linux", "x86_64" },
        { "nim-libp2p", "nimbus", null, null, null },
        { "lodestar/v1.30.0/abcdef", "lodestar", "v1.30.0", null, null },
        { "lodestar/v1.40.0/ffbb1d1", "lodestar", "v1.40.0", null, null },
        { "Lodestar/v1.22.0/linux-x64/nodejs", "lodestar", "v1.22.0", "linux", "x86_64" },
        { "js-libp2p/2.1.0", "lodestar", null, null, null },
        { "js-libp2p/2.8.2 UserAgent=v22.12.0", "lodestar", null, null, null },
        { "Grandine/2.0.5-70a5c7ea/x86_64-linux", "grandine", "v2.0.5", "linux", "x86_64" },
        { "Grandine/3.0.0/e3ce4d43", "grandine", "v3.0.0", null, null },
        { "rust-libp2p/0.48.0", "grandine", null, null, null },
        { "nim-libp2p/1.9.0", "nimbus", null, null, null },
        { "erigon/caplin/3.6.0-ecc2ad99", "erigon", "v3.6.0", null, null },
        { "erigon/caplin", "erigon", null, null, null },
        { "erigon/caplin/v3.3.9/linux-amd64/go1.25", "erigon", "v3.3.9", "linux", "x86_64" },
        { "caplin/v3.2.1/linux-amd64", "erigon", "v3.2.1", "linux", "x86_64" },
        { "caplin/caplin/v3.5.2/linux-amd64/go1.25", "erigon", "v3.5.2", "linux", "x86_64" },
        { "tysm/v1.1.1/6d26e0e9", "tysm", "v1.1.1", null, null },
        { "hermes", "hermes", null, null, null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Parses_real_agent_strings(string agent, string client, string? version, string? os, string? arch)
    {
        var info = AgentParser.Parse(agent);
        Assert.Equal((client, version, os, arch), (info.Client, info.Version, info.Os, info.Arch));
        Assert.Equal(agent, info.Raw);
    }

    [Theory]
    [InlineData("js-libp2p/2.8.2 UserAgent=v22.12.0", "lodestar")]
    [InlineData("nim-libp2p/1.9.0", "nimbus")]
    [InlineData("rust-libp2p/0.54.0", "grandine")]
    [InlineData("nim-libp2p", "nimbus")]
    public void Agents_naming_a_library_give_an_inferred_client_and_no_version(string agent, string guess)
    {
        var info = AgentParser.Parse(agent);
        Assert.Equal((guess, true, (string?)null), (info.Client, info.ClientInferred, info.Version));
    }

    [Theory]
    [InlineData("Lighthouse/v8.2.2-e423a66/aarch64-linux")]
    [InlineData("nimbus")]
    [InlineData("erigon/caplin/3.6.0-ecc2ad99")]
    public void Agents_naming_their_client_are_not_inferred_and_versions_never_carry_the_client_name(string agent)
    {
        var info = AgentParser.Parse(agent);
        Assert.False(info.ClientInferred);
        Assert.True(info.Version is null || info.Version.StartsWith('v') && !info.Version.Contains(info.Client, StringComparison.OrdinalIgnoreCase), info.Version);
    }

    [Theory]
    [InlineData("go-libp2p/0.36.2")]
    [InlineData("MysteryClient/v9.9.9")]
    [InlineData("something/")]
    [InlineData("\u0000\u00ff garbage")]
    public void Unknown_agents_are_other_with_the_raw_string_kept(string agent)
    {
        var info = AgentParser.Parse(agent);
        Assert.Equal(AgentParser.Other, info.Client);
        Assert.Equal(agent, info.Raw);
        Assert.Null(info.Version);
    }

    [Fact]
    public void Missing_agent_is_other_with_empty_raw()
    {
        Assert.Equal(new AgentInfo("other", null, null, null, ""), AgentParser.Parse(null));
        Assert.Equal("other", AgentParser.Parse("   ").Client);
    }

    [Fact]
    public void Freebsd_is_not_mistaken_for_mac()
    {
        var info = AgentParser.Parse("Lighthouse/v7.1.0-abc1234/x86_64-freebsd");
        Assert.Equal(("freebsd", "x86_64"), (info.Os, info.Arch));
    }

    [Fact]
    public void Release_candidates_keep_their_tag()
    {
        Assert.Equal("v5.0.0-rc.1", AgentParser.Parse("Lighthouse/v5.0.0-rc.1-aa11a3b/x86_64-linux").Version);
    }
}
