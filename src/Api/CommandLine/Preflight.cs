using System.Net;
using System.Net.Sockets;

namespace ClP2p.Api.CommandLine;

/// <summary>
/// Checks of the environment a command makes before it writes anything (a crawl row, a file): the sockets it will
/// listen on are free and the directories it will write are writable. Each failure is an
/// <see cref="EnvironmentFailureException"/> with a one-line cause (exit 1).
/// </summary>
public static class Preflight
{
    /// <summary>The directory exists (created if needed) and this user can create files in it.</summary>
    public static void WritableDirectory(string dir, string what)
    {
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new EnvironmentFailureException($"{what} {Path.GetFullPath(dir)} cannot be created: {CommandRunner.Tidy(ex.Message)}", ex);
        }
        if (!OptionParsers.IsWritableDirectory(dir))
            throw new EnvironmentFailureException($"{what} {Path.GetFullPath(dir)} is not writable by this user");
    }

    /// <summary>A UDP socket can be bound at <paramref name="address"/>:<paramref name="port"/> (port 0 is always free).</summary>
    public static void UdpPortFree(IPAddress address, int port, string option)
    {
        ArgumentNullException.ThrowIfNull(address);
        using var s = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (address.Equals(IPAddress.IPv6Any)) s.DualMode = true;
        try
        {
            s.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException ex)
        {
            throw new EnvironmentFailureException(BindFailure("UDP", address, port, option, ex), ex);
        }
    }

    /// <summary>Each listen URL's TCP port is free (checked by binding it and letting go at once).</summary>
    public static void HttpUrlsFree(string urls, string option)
    {
        foreach (string url in (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string probe = url.Replace("://*", "://any", StringComparison.Ordinal).Replace("://+", "://any", StringComparison.Ordinal);
            if (!Uri.TryCreate(probe, UriKind.Absolute, out var uri)) continue;   // the option's parser has said so already
            int port = uri.Port;
            if (port == 0) continue;
            IPAddress[] addresses = uri.Host switch
            {
                "any" => [IPAddress.Any],
                "localhost" => [IPAddress.Loopback],
                _ => IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? [ip] : [],
            };
            foreach (var address in addresses)
            {
                using var s = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    s.Bind(new IPEndPoint(address, port));
                    s.Listen(1);
                }
                catch (SocketException ex)
                {
                    throw new EnvironmentFailureException(BindFailure("HTTP (TCP)", address, port, option, ex) + $" [{url}]", ex);
                }
            }
        }
    }

    /// <summary>The TCP port can be listened on at that address (port 0 always can).</summary>
    public static void TcpPortFree(IPAddress address, int port, string option)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (port == 0) return;
        using var s = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (address.Equals(IPAddress.IPv6Any)) s.DualMode = true;
        try
        {
            s.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException ex)
        {
            throw new EnvironmentFailureException(BindFailure("TCP", address, port, option, ex), ex);
        }
    }

    private static string BindFailure(string kind, IPAddress address, int port, string option, SocketException ex) => ex.SocketErrorCode switch
    {
        SocketError.AddressAlreadyInUse => $"{kind} port {port} on {address} is already in use by another process ({option}): stop it or choose another port",
        SocketError.AddressNotAvailable => $"{address} is not an address of this machine ({option}): use one of its own addresses, or 0.0.0.0",
        SocketError.AccessDenied => $"{kind} port {port} on {address} needs privileges this user lacks ({option}): choose a port above 1023",
        _ => $"cannot listen on {kind} {address}:{port} ({option}): {CommandRunner.Tidy(ex.Message)}",
    };
}
