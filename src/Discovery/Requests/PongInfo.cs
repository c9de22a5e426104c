using System.Net;

namespace ClP2p.Discovery;

/// <summary>A PONG: the remote's record sequence number and the address it saw us at.</summary>
public sealed record PongInfo(ulong EnrSeq, IPEndPoint ObservedEndPoint, TimeSpan RoundTrip);
