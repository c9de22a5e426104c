using System.Net;
using ClP2p.Crawler.Engine;
using ClP2p.Discovery;

namespace ClP2p.Crawler.Eth2Crawl;

/// <summary>How an IP address may be contacted by the crawler.</summary>
public enum AddressScope
{
    /// <summary>Globally routable unicast.</summary>
    Public,
    /// <summary>127.0.0.0/8 and ::1.</summary>
    Loopback,
    /// <summary>RFC 1918, RFC 6598 shared (CGNAT), link-local, IPv6 unique-local.</summary>
    Private,
    /// <summary>Unspecified, multicast, broadcast, documentation, benchmarking and other reserved ranges: never contacted.</summary>
    Reserved,
}

/// <summary>
/// Decides which addresses the crawler may send packets or dial to. By default only public addresses:
/// private ranges need <c>--allow-private</c>, loopback needs <c>--allow-loopback</c>; reserved ranges never.
/// </summary>
public sealed class AddressPolicy(bool allowPrivate, bool allowLoopback) : IAddressPolicy
{
    public bool AllowPrivate { get; } = allowPrivate;
    public bool AllowLoopback { get; } = allowLoopback;

    public bool IsAllowed(IPAddress? address) => address is not null && Classify(address) switch
    {
        AddressScope.Public => true,
        AddressScope.Loopback => AllowLoopback,
        AddressScope.Private => AllowPrivate,
        _ => false,
    };

    /// <summary>Classifies with discovery's RFC 6890 tables (<see cref="IpClass"/>), so discovery and dialling agree.</summary>
    public static AddressScope Classify(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return AddressScope.Loopback;
        if (IpClass.IsLan(address)) return AddressScope.Private;
        return IpClass.IsPublic(address) ? AddressScope.Public : AddressScope.Reserved;
    }
}
