using System.Net;
using System.Net.Sockets;

namespace ClP2p.TestSupport;

/// <summary>Loopback TCP endpoints of nodes that cannot be reached: one that refuses, one that never answers.</summary>
public static class LoopbackEndpoints
{
    /// <summary>A port nothing listens on: a connect is refused (RST).</summary>
    public static IPEndPoint ClosedPort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var ep = (IPEndPoint)probe.LocalEndpoint;
        probe.Stop();
        return ep;
    }

    /// <summary>
    /// A host that never answers, as the simulator's silent nodes: a listener with a backlog of 0 whose one accept slot
    /// is filled and never accepted, so the kernel drops every further SYN and a connect ends only by its timeout.
    /// Dispose it to close both sockets.
    /// </summary>
    public static async Task<SilentEndpoint> SilentAsync()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(0);
            await filler.ConnectAsync(listener.LocalEndPoint!);
            return new SilentEndpoint(listener, filler);
        }
        catch
        {
            listener.Dispose();
            filler.Dispose();
            throw;
        }
    }
}

/// <summary>See <see cref="LoopbackEndpoints.SilentAsync"/>.</summary>
public sealed class SilentEndpoint(Socket listener, Socket filler) : IDisposable
{
    public IPEndPoint EndPoint => (IPEndPoint)listener.LocalEndPoint!;

    public void Dispose()
    {
        filler.Dispose();
        listener.Dispose();
    }
}
