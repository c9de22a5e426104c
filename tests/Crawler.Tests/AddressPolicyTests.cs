using System.Net;
using ClP2p.Crawler.Eth2Crawl;

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
}
