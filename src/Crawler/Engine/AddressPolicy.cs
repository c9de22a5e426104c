using System.Net;
using System.Net.Sockets;

namespace ClP2p.Crawler.Engine;

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
public sealed class AddressPolicy(bool allowPrivate, bool allowLoopback)
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

    public static AddressScope Classify(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => ClassifyV4(address),
            AddressFamily.InterNetworkV6 => ClassifyV6(address),
            _ => AddressScope.Reserved,
        };
    }

    private static AddressScope ClassifyV4(IPAddress address)
    {
        Span<byte> b = stackalloc byte[4];
        address.TryWriteBytes(b, out _);
        byte a0 = b[0], a1 = b[1], a2 = b[2];
        if (a0 == 127) return AddressScope.Loopback;
        if (a0 == 10) return AddressScope.Private;                                   // RFC 1918
        if (a0 == 172 && (a1 & 0xF0) == 16) return AddressScope.Private;              // RFC 1918
        if (a0 == 192 && a1 == 168) return AddressScope.Private;                      // RFC 1918
        if (a0 == 100 && (a1 & 0xC0) == 64) return AddressScope.Private;              // RFC 6598 shared address space
        if (a0 == 169 && a1 == 254) return AddressScope.Private;                      // link-local
        if (a0 == 0) return AddressScope.Reserved;                                    // "this network"
        if (a0 == 192 && a1 == 0 && a2 == 0) return AddressScope.Reserved;            // IETF protocol assignments
        if (a0 == 192 && a1 == 0 && a2 == 2) return AddressScope.Reserved;            // TEST-NET-1
        if (a0 == 198 && (a1 & 0xFE) == 18) return AddressScope.Reserved;             // benchmarking 198.18/15
        if (a0 == 198 && a1 == 51 && a2 == 100) return AddressScope.Reserved;         // TEST-NET-2
        if (a0 == 203 && a1 == 0 && a2 == 113) return AddressScope.Reserved;          // TEST-NET-3
        if (a0 >= 224) return AddressScope.Reserved;                                  // multicast, 240/4, broadcast
        return AddressScope.Public;
    }

    private static AddressScope ClassifyV6(IPAddress address)
    {
        if (address.Equals(IPAddress.IPv6Loopback)) return AddressScope.Loopback;
        if (address.Equals(IPAddress.IPv6None) || address.Equals(IPAddress.IPv6Any)) return AddressScope.Reserved;
        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);
        if ((b[0] & 0xFE) == 0xFC) return AddressScope.Private;                       // fc00::/7 unique local
        if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return AddressScope.Private;       // fe80::/10 link-local
        if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return AddressScope.Private;       // fec0::/10 site-local (deprecated)
        if (b[0] == 0xFF) return AddressScope.Reserved;                               // multicast
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8) return AddressScope.Reserved; // documentation
        if (b[0] == 0x01 && b[1] == 0x00 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 0)
            return AddressScope.Reserved;                                             // 100::/64 discard-only
        if ((b[0] & 0xE0) != 0x20) return AddressScope.Reserved;                      // outside 2000::/3 global unicast
        return AddressScope.Public;
    }
}
