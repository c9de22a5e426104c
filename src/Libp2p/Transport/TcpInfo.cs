using System.Net.Sockets;

namespace ClP2p.Libp2p.Transport;

/// <summary>
/// What the kernel knows of a TCP connection (Linux <c>getsockopt(TCP_INFO)</c>, struct tcp_info in
/// include/uapi/linux/tcp.h): its state and the round trip it measured. Read-only: unlike SO_ERROR, reading it
/// consumes nothing the socket engine waits for. Elsewhere (or when the call fails) nothing is known.
/// </summary>
public static class TcpInfo
{
    private const int IpProtoTcp = 6;
    private const int TcpInfoOption = 11;
    private const byte TcpEstablished = 1;

    // struct tcp_info: eight one-byte fields, then __u32 tcpi_rto (8) ... tcpi_rcv_ssthresh (64), tcpi_rtt (68, µs)
    private const int RttOffset = 68;
    private const int Size = 104;

    /// <summary>True when the kernel has the connection established (a connect that completed, whether or not this
    /// process has been told yet).</summary>
    public static bool IsEstablished(Socket socket)
    {
        Span<byte> info = stackalloc byte[Size];
        return Read(socket, info) && info[0] == TcpEstablished;
    }

    /// <summary>
    /// The round trip of the connection as the kernel measured it (microseconds, smoothed: right after the connect,
    /// the SYN's round trip), or null when not on Linux, not connected, or no sample was taken.
    /// </summary>
    public static TimeSpan? RoundTrip(Socket socket)
    {
        Span<byte> info = stackalloc byte[Size];
        if (!Read(socket, info) || info[0] != TcpEstablished) return null;
        uint us = System.Runtime.InteropServices.MemoryMarshal.Read<uint>(info[RttOffset..]); // host byte order
        return us == 0 ? null : TimeSpan.FromMicroseconds(us);
    }

    private static bool Read(Socket socket, Span<byte> info)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return socket.GetRawSocketOption(IpProtoTcp, TcpInfoOption, info) >= RttOffset + 4;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or PlatformNotSupportedException)
        {
            return false;
        }
    }
}
