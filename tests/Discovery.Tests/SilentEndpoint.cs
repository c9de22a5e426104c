using System.Net;
using System.Net.Sockets;

namespace ClP2p.Discovery.Tests;

/// <summary>A UDP socket on loopback that nothing reads from and nothing answers: a gone node's endpoint. Records of
/// nodes "at" it (<see cref="NewRecord"/>) are silent as gone ones are on the internet.</summary>
internal sealed class SilentEndpoint : IDisposable
{
    public SilentEndpoint()
    {
        Socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    }

    /// <summary>The socket itself: a test may read what was sent to it (which answers nothing).</summary>
    public Socket Socket { get; }

    public int Port => ((IPEndPoint)Socket.LocalEndPoint!).Port;

    /// <summary>A record of a new node id at this endpoint.</summary>
    public Enr NewRecord() => new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(Port).Build(TestNodes.NewKey());

    public void Dispose() => Socket.Dispose();
}
