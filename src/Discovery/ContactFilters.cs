using System.Net;
using System.Net.Sockets;

namespace ClP2p.Discovery;

/// <summary>Predicates deciding whether a record's UDP endpoint may be contacted.</summary>
public static class ContactFilters
{
    /// <summary>Public unicast addresses only, UDP port above 1024 (geth errLowPort).</summary>
    public static bool PublicOnly(Enr enr) => enr.UdpEndPoint is { } ep && ep.Port > 1024 && IpClass.IsPublic(ep.Address);

    /// <summary>Public addresses and loopback (for tests on 127.0.0.1).</summary>
    public static bool PublicOrLoopback(Enr enr) =>
        enr.UdpEndPoint is { } ep && ep.Port > 0 && (IPAddress.IsLoopback(ep.Address) || (ep.Port > 1024 && IpClass.IsPublic(ep.Address)));

    /// <summary>Any record with a UDP endpoint.</summary>
    public static bool Any(Enr enr) => enr.UdpEndPoint is { Port: > 0 };

    /// <summary>
    /// geth netutil.CheckRelayIP: whether the addresses of a record returned by <paramref name="relayer"/> are
    /// in a scope the relayer can vouch for. A public node cannot vouch for a LAN or loopback address: that is the
    /// node's own private network or a lie, and contacting it would probe the crawler's own network. Records from no
    /// relayer (seeds, our own table) and records without addresses pass.
    /// </summary>
    public static bool RelayTrusted(Enr record, Enr? relayer)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (relayer is null) return true;
        var from = relayer.UdpEndPoint?.Address ?? relayer.Ip ?? relayer.Ip6;
        if (from is null) return true;
        return (record.Ip is null || IpClass.IsRelayable(from, record.Ip))
            && (record.Ip6 is null || IpClass.IsRelayable(from, record.Ip6));
    }
}

/// <summary>IP address classification (RFC 6890 special-purpose registries).</summary>
public static class IpClass
{
    public static bool IsPublic(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            ip.TryWriteBytes(b, out _);
            return !(b[0] == 0 || b[0] == 10 || b[0] == 127 || (b[0] == 100 && b[1] >= 64 && b[1] <= 127)
                || (b[0] == 169 && b[1] == 254) || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 0 && b[2] == 0) || (b[0] == 192 && b[1] == 0 && b[2] == 2)
                || (b[0] == 192 && b[1] == 168) || (b[0] == 198 && (b[1] == 18 || b[1] == 19))
                || (b[0] == 198 && b[1] == 51 && b[2] == 100) || (b[0] == 203 && b[1] == 0 && b[2] == 113)
                || b[0] >= 224);
        }
        if (ip.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (IPAddress.IsLoopback(ip) || ip.Equals(IPAddress.IPv6None) || ip.IsIPv6LinkLocal || ip.IsIPv6SiteLocal
                || ip.IsIPv6Multicast || ip.IsIPv6UniqueLocal) return false;
            Span<byte> b = stackalloc byte[16];
            ip.TryWriteBytes(b, out _);
            if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return false; // documentation
            return (b[0] & 0xe0) == 0x20; // global unicast 2000::/3
        }
        return false;
    }

    /// <summary>
    /// geth CheckRelayIP: an unspecified address is never valid; a loopback address only when relayed by a loopback
    /// host; a LAN address only when relayed by a LAN or loopback host; any other address from anyone.
    /// </summary>
    public static bool IsRelayable(IPAddress sender, IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(address);
        if (sender.IsIPv4MappedToIPv6) sender = sender.MapToIPv4();
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)) return false;
        bool senderLoopback = IPAddress.IsLoopback(sender);
        if (IPAddress.IsLoopback(address)) return senderLoopback;
        if (IsLan(address)) return senderLoopback || IsLan(sender);
        return true;
    }

    /// <summary>Private LAN ranges (RFC 1918, RFC 4193, CGNAT).</summary>
    public static bool IsLan(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            ip.TryWriteBytes(b, out _);
            return b[0] == 10 || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168)
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) || (b[0] == 169 && b[1] == 254);
        }
        return ip.IsIPv6UniqueLocal || ip.IsIPv6LinkLocal || ip.IsIPv6SiteLocal;
    }
}
