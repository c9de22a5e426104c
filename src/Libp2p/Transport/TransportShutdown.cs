using System.Net.Sockets;
using ClP2p.Libp2p.Noise;

namespace ClP2p.Libp2p.Transport;

/// <summary>Ends a connection's transport in both directions without disposing it, so that a pending read returns 0.</summary>
internal static class TransportShutdown
{
    /// <summary>
    /// Shuts <paramref name="transport"/> down: the remote reads end of stream, and a read pending here (or started
    /// later) returns 0. False when the transport cannot do that (an unknown stream, a socket already broken, Windows,
    /// where we have not checked that a shutdown completes a pending receive): the caller cancels and disposes instead.
    /// </summary>
    public static bool TryShutdown(Stream transport)
    {
        switch (transport)
        {
            case NoiseStream noise:
                return TryShutdown(noise.Inner);
            case DuplexPipeStream pipe:
                pipe.Shutdown();
                return true;
            case NetworkStream network when !OperatingSystem.IsWindows():
                var socket = network.Socket;
                if (!socket.Connected)
                {
                    return false;
                }
                try
                {
                    // On Linux shutdown(2) wakes a blocked receive, which then returns 0 once the queued bytes are read.
                    socket.Shutdown(SocketShutdown.Both);
                    return true;
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    return false;
                }
            default:
                return false;
        }
    }
}
