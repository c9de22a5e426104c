using System.Net;

namespace ClP2p.Discovery.Messages;

/// <summary>discv5-wire.md "Protocol Messages": message types 0x01-0x06 (topic messages are not implemented).</summary>
public enum MessageType : byte
{
    Ping = 0x01,
    Pong = 0x02,
    FindNode = 0x03,
    Nodes = 0x04,
    TalkReq = 0x05,
    TalkResp = 0x06,
}

public abstract record Discv5Message(RequestId RequestId)
{
    public abstract MessageType Type { get; }
    public bool IsRequest => Type is MessageType.Ping or MessageType.FindNode or MessageType.TalkReq;
}

/// <summary>PING [request-id, enr-seq].</summary>
public sealed record PingMessage(RequestId RequestId, ulong EnrSeq) : Discv5Message(RequestId)
{
    public override MessageType Type => MessageType.Ping;
}

/// <summary>PONG [request-id, enr-seq, recipient-ip, recipient-port].</summary>
public sealed record PongMessage(RequestId RequestId, ulong EnrSeq, IPAddress RecipientIp, int RecipientPort) : Discv5Message(RequestId)
{
    public override MessageType Type => MessageType.Pong;
}

/// <summary>FINDNODE [request-id, [distance, ...]]; distance 0 asks for the recipient's own record.</summary>
public sealed record FindNodeMessage(RequestId RequestId, IReadOnlyList<int> Distances) : Discv5Message(RequestId)
{
    public override MessageType Type => MessageType.FindNode;
}

/// <summary>NODES [request-id, total, [ENR, ...]]; total = the number of NODES messages of this response.</summary>
public sealed record NodesMessage(RequestId RequestId, int Total, IReadOnlyList<ReadOnlyMemory<byte>> Records) : Discv5Message(RequestId)
{
    public override MessageType Type => MessageType.Nodes;
}

/// <summary>TALKREQ [request-id, protocol, request].</summary>
public sealed record TalkReqMessage(RequestId RequestId, ReadOnlyMemory<byte> Protocol, ReadOnlyMemory<byte> Request) : Discv5Message(RequestId)
{
    public override MessageType Type => MessageType.TalkReq;
}

/// <summary>TALKRESP [request-id, response]; empty when the protocol is unknown.</summary>
public sealed record TalkRespMessage(RequestId RequestId, ReadOnlyMemory<byte> Response) : Discv5Message(RequestId)
{
    public override MessageType Type => MessageType.TalkResp;
}
