using System.Net;
using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Discovery;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Crawler.Tests;

public class AddressPolicyTests
{
    [Theory]
    [InlineData("1.1.1.1", AddressScope.Public)]
    [InlineData("95.217.1.2", AddressScope.Public)]
    [InlineData("2a01:4f9:1:2::3", AddressScope.Public)]
    [InlineData("127.0.0.1", AddressScope.Loopback)]
    [InlineData("127.45.1.9", AddressScope.Loopback)]
    [InlineData("::1", AddressScope.Loopback)]
    [InlineData("::ffff:127.0.0.1", AddressScope.Loopback)]
    [InlineData("10.1.2.3", AddressScope.Private)]
    [InlineData("172.16.0.1", AddressScope.Private)]
    [InlineData("172.31.255.255", AddressScope.Private)]
    [InlineData("192.168.1.1", AddressScope.Private)]
    [InlineData("100.64.0.1", AddressScope.Private)]
    [InlineData("169.254.3.4", AddressScope.Private)]
    [InlineData("fd00::1", AddressScope.Private)]
    [InlineData("fe80::1", AddressScope.Private)]
    [InlineData("::ffff:192.168.0.1", AddressScope.Private)]
    [InlineData("0.0.0.0", AddressScope.Reserved)]
    [InlineData("224.0.0.1", AddressScope.Reserved)]
    [InlineData("255.255.255.255", AddressScope.Reserved)]
    [InlineData("240.0.0.1", AddressScope.Reserved)]
    [InlineData("192.0.2.7", AddressScope.Reserved)]
    [InlineData("198.18.0.1", AddressScope.Reserved)]
    [InlineData("203.0.113.9", AddressScope.Reserved)]
    [InlineData("::", AddressScope.Reserved)]
    [InlineData("ff02::1", AddressScope.Reserved)]
    [InlineData("2001:db8::1", AddressScope.Reserved)]
    public void Classify_names_the_range(string ip, AddressScope expected) =>
        Assert.Equal(expected, AddressPolicy.Classify(IPAddress.Parse(ip)));

    [Fact]
    public void Default_policy_allows_only_public_addresses()
    {
        var policy = new AddressPolicy(allowPrivate: false, allowLoopback: false);
        Assert.True(policy.IsAllowed(IPAddress.Parse("1.1.1.1")));
        Assert.False(policy.IsAllowed(IPAddress.Parse("127.0.0.1")));
        Assert.False(policy.IsAllowed(IPAddress.Parse("10.0.0.1")));
        Assert.False(policy.IsAllowed(IPAddress.Parse("224.0.0.1")));
        Assert.False(policy.IsAllowed(null));
    }

    [Fact]
    public void Loopback_needs_its_own_flag_and_private_its_own()
    {
        var loopbackOnly = new AddressPolicy(allowPrivate: false, allowLoopback: true);
        Assert.True(loopbackOnly.IsAllowed(IPAddress.Loopback));
        Assert.False(loopbackOnly.IsAllowed(IPAddress.Parse("192.168.1.1")));
        var privateOnly = new AddressPolicy(allowPrivate: true, allowLoopback: false);
        Assert.False(privateOnly.IsAllowed(IPAddress.Loopback));
        Assert.True(privateOnly.IsAllowed(IPAddress.Parse("192.168.1.1")));
        Assert.False(privateOnly.IsAllowed(IPAddress.Parse("192.0.2.1")));
    }

    [Fact]
    public void A_crawl_nobody_answered_is_diagnosed_with_its_likely_cause()
    {
        // mainnet's own bootnodes (public addresses), as an offline machine would try them: nothing is sent to them here.
        var mainnet = NetworkSelection.Resolve(new CrawlerSettings { Network = "mainnet" }, NullLogger.Instance).Bootnodes;
        var policy = new AddressPolicy(allowPrivate: false, allowLoopback: false);
        int n = mainnet.Count;

        Assert.Null(CrawlSession.Diagnose(mainnet, n, answered: 1, sent: 40, sendErrors: 0, policy));
        var silent = CrawlSession.Diagnose(mainnet, n, answered: 0, sent: 3 * n, sendErrors: 0, policy)!;
        Assert.Equal($"none of the {n} bootnode(s) answered discovery", silent.Reason);
        Assert.StartsWith("no network, UDP blocked by a firewall, or stale bootnodes", silent.LikelyCause, StringComparison.Ordinal);
        var offline = CrawlSession.Diagnose(mainnet, n, answered: 0, sent: 0, sendErrors: n, policy)!;
        Assert.Equal(($"no packet could be sent to any of the {n} bootnode(s) ({n} send errors)", "no network: this machine has no route to the bootnodes"), (offline.Reason, offline.LikelyCause));

        // Bootnodes the address policy refuses: a LAN testnet without --allow-private (a record only: Diagnose classifies
        // addresses and sends nothing).
        var lan = new[] { new EnrBuilder().WithSeq(1).WithIp(IPAddress.Parse("192.168.1.20")).WithUdp(9000).Build(NodeKeyStore.Generate()) };
        var refused = CrawlSession.Diagnose(lan, 0, answered: 0, sent: 0, sendErrors: 0, policy)!;
        Assert.Equal("the address policy refused all 1 bootnode(s) (0 loopback, 1 private, 0 other), so nobody was contacted", refused.Reason);
        Assert.Equal("private addresses not allowed: add --allow-private for a LAN testnet", refused.LikelyCause);
    }
}
