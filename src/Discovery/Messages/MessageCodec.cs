using System.Net;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Discovery.Messages;

/// <summary>Why a message plaintext did not decode.</summary>
public enum MessageError
{
    None,
    Empty,
    UnknownType,
    BadRlp,
    TrailingBytes,
    BadRequestId,
    MissingField,
    BadIp,
    BadPort,
    BadDistance,
    BadTotal,
    BadRecord,
}

/// <summary>message-pt = message-type || rlp(message-data).</summary>
public static class MessageCodec
{
    /// <summary>A distance is at most 256 (log2 of a 256-bit xor).</summary>
    public const int MaxDistance = 256;
    /// <summary>Limit on FINDNODE distances accepted per request (a list longer than every distance is abuse).</summary>
    public const int MaxDistancesPerRequest = 257;

    public static byte[] Encode(Discv5Message m)
    {
        // encoded on the stack and copied once at its length: every request keeps its plaintext (for a handshake's
        // resend), and a packet-sized array per request was a seventh of a crawl's allocations
        Span<byte> buf = stackalloc byte[PacketsMax];
        int n = Encode(m, buf);
        return buf[..n].ToArray();
    }

    private const int PacketsMax = 1280;

    public static int Encode(Discv5Message m, Span<byte> dest)
    {
        dest[0] = (byte)m.Type;
        Span<byte> rid = stackalloc byte[8];
        var id = rid[..m.RequestId.CopyTo(rid)];
        int payload = Rlp.LengthOfBytes(id);
        switch (m)
        {
            case PingMessage p:
                payload += Rlp.LengthOfUInt64(p.EnrSeq);
                break;
            case PongMessage p:
                payload += Rlp.LengthOfUInt64(p.EnrSeq) + 1 + IpBytes(p.RecipientIp).Length + Rlp.LengthOfUInt64((ulong)p.RecipientPort);
                break;
            case FindNodeMessage f:
                payload += Rlp.LengthOfList(DistancesPayload(f.Distances));
                break;
            case NodesMessage nm:
                payload += Rlp.LengthOfUInt64((ulong)nm.Total) + Rlp.LengthOfList(RecordsPayload(nm.Records));
                break;
            case TalkReqMessage t:
                payload += Rlp.LengthOfBytes(t.Protocol.Span) + Rlp.LengthOfBytes(t.Request.Span);
                break;
            case TalkRespMessage t:
                payload += Rlp.LengthOfBytes(t.Response.Span);
                break;
        }
        int o = 1 + Rlp.WriteListHeader(dest[1..], payload);
        o += Rlp.WriteBytes(dest[o..], id);
        switch (m)
        {
            case PingMessage p:
                o += Rlp.WriteUInt64(dest[o..], p.EnrSeq);
                break;
            case PongMessage p:
                o += Rlp.WriteUInt64(dest[o..], p.EnrSeq);
                o += Rlp.WriteBytes(dest[o..], IpBytes(p.RecipientIp));
                o += Rlp.WriteUInt64(dest[o..], (ulong)p.RecipientPort);
                break;
            case FindNodeMessage f:
                o += Rlp.WriteListHeader(dest[o..], DistancesPayload(f.Distances));
                for (int i = 0; i < f.Distances.Count; i++) o += Rlp.WriteUInt64(dest[o..], (ulong)f.Distances[i]);
                break;
            case NodesMessage nm:
                o += Rlp.WriteUInt64(dest[o..], (ulong)nm.Total);
                o += Rlp.WriteListHeader(dest[o..], RecordsPayload(nm.Records));
                foreach (var r in nm.Records) { r.Span.CopyTo(dest[o..]); o += r.Length; }
                break;
            case TalkReqMessage t:
                o += Rlp.WriteBytes(dest[o..], t.Protocol.Span);
                o += Rlp.WriteBytes(dest[o..], t.Request.Span);
                break;
            case TalkRespMessage t:
                o += Rlp.WriteBytes(dest[o..], t.Response.Span);
                break;
        }
        return o;
    }

    private static byte[] IpBytes(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        return ip.GetAddressBytes();
    }

    private static int DistancesPayload(IReadOnlyList<int> ds)
    {
        int n = 0;
        for (int i = 0; i < ds.Count; i++) n += Rlp.LengthOfUInt64((ulong)ds[i]);
        return n;
    }

    private static int RecordsPayload(IReadOnlyList<ReadOnlyMemory<byte>> rs)
    {
        int n = 0;
        for (int i = 0; i < rs.Count; i++) n += rs[i].Length;
        return n;
    }

    /// <summary>
    /// Reads a NODES message without copying its records (the answer path of a crawl: most records repeat ones already
    /// verified, and a copy of each would only be garbage): its request id, total and the span of its record list, each
    /// record checked to be an RLP list as <see cref="TryDecode"/> checks it. False for anything <see cref="TryDecode"/>
    /// would refuse, and for other message types.
    /// </summary>
    public static bool TryReadNodes(ReadOnlySpan<byte> pt, out RequestId id, out int total, out int recordsOffset, out int recordsLength)
    {
        id = default; total = 0; recordsOffset = 0; recordsLength = 0;
        if (pt.Length < 2 || pt[0] != (byte)MessageType.Nodes) return false;
        if (!RlpReader.TryReadHeader(pt[1..], out bool isList, out int h, out int p, out _) || !isList || 1 + h + p != pt.Length) return false;
        var r = new RlpReader(pt.Slice(1 + h, p));
        if (!r.TryReadBytes(out var rid, out _) || rid.Length > RequestId.MaxLength) return false;
        if (!TryReadNodesBody(ref r, out total, out int at, out recordsLength, out _)) return false;
        id = RequestId.From(rid);
        recordsOffset = 1 + h + at;
        return true;
    }

    /// <summary>NODES after the request id: total, and the record list (where its payload starts in the reader's data, and
    /// its length), every record checked to be an RLP list. The one reading of NODES for <see cref="TryReadNodes"/> and
    /// <see cref="TryDecode"/>.</summary>
    private static bool TryReadNodesBody(ref RlpReader r, out int total, out int listAt, out int listLength, out MessageError error)
    {
        total = 0; listAt = 0; listLength = 0;
        if (!r.TryReadUInt64(out ulong t, out _) || t > int.MaxValue) { error = MessageError.BadTotal; return false; }
        int at = r.Position;
        if (!r.TryReadRaw(out var item, out bool isList, out _) || !isList) { error = MessageError.MissingField; return false; }
        RlpReader.TryReadHeader(item, out _, out int lh, out int lp, out _);   // read whole by TryReadRaw just now
        var records = new RlpReader(item.Slice(lh, lp));
        while (!records.IsEnd)
            if (!records.TryReadRaw(out _, out bool itemIsList, out _) || !itemIsList) { error = MessageError.BadRecord; return false; }
        total = (int)t;
        listAt = at + lh;
        listLength = lp;
        error = MessageError.None;
        return true;
    }

    public static bool TryDecode(ReadOnlySpan<byte> pt, out Discv5Message? message, out MessageError error)
    {
        message = null;
        if (pt.Length < 2) { error = MessageError.Empty; return false; }
        byte type = pt[0];
        if (type is < 1 or > 6) { error = MessageError.UnknownType; return false; }
        if (!RlpReader.TryReadHeader(pt[1..], out bool isList, out int h, out int p, out _) || !isList) { error = MessageError.BadRlp; return false; }
        if (1 + h + p != pt.Length) { error = MessageError.TrailingBytes; return false; }
        var body = pt.Slice(1 + h, p);
        var r = new RlpReader(body);
        if (!r.TryReadBytes(out var rid, out _)) { error = MessageError.BadRequestId; return false; }
        if (rid.Length > RequestId.MaxLength) { error = MessageError.BadRequestId; return false; }
        var id = RequestId.From(rid);
        error = MessageError.None;
        switch ((MessageType)type)
        {
            case MessageType.Ping:
                {
                    if (!r.TryReadUInt64(out ulong seq, out _)) { error = MessageError.MissingField; return false; }
                    message = new PingMessage(id, seq);
                    return true;
                }
            case MessageType.Pong:
                {
                    if (!r.TryReadUInt64(out ulong seq, out _)) { error = MessageError.MissingField; return false; }
                    if (!r.TryReadBytes(out var ip, out _) || (ip.Length != 4 && ip.Length != 16)) { error = MessageError.BadIp; return false; }
                    if (!r.TryReadUInt64(out ulong port, out _) || port > ushort.MaxValue) { error = MessageError.BadPort; return false; }
                    message = new PongMessage(id, seq, new IPAddress(ip), (int)port);
                    return true;
                }
            case MessageType.FindNode:
                {
                    if (!r.TryReadList(out var dl, out _)) { error = MessageError.MissingField; return false; }
                    var ds = new List<int>(4);
                    while (!dl.IsEnd)
                    {
                        if (!dl.TryReadUInt64(out ulong d, out _) || d > MaxDistance) { error = MessageError.BadDistance; return false; }
                        if (ds.Count >= MaxDistancesPerRequest) { error = MessageError.BadDistance; return false; }
                        ds.Add((int)d);
                    }
                    message = new FindNodeMessage(id, ds);
                    return true;
                }
            case MessageType.Nodes:
                {
                    if (!TryReadNodesBody(ref r, out int total, out int at, out int length, out error)) return false;
                    var recs = new List<ReadOnlyMemory<byte>>(4);
                    var rl = new RlpReader(body.Slice(at, length));
                    while (!rl.IsEnd && rl.TryReadRaw(out var item, out _, out _)) recs.Add(item.ToArray());
                    message = new NodesMessage(id, total, recs);
                    return true;
                }
            case MessageType.TalkReq:
                {
                    if (!r.TryReadBytes(out var proto, out _) || !r.TryReadBytes(out var req, out _)) { error = MessageError.MissingField; return false; }
                    message = new TalkReqMessage(id, proto.ToArray(), req.ToArray());
                    return true;
                }
            case MessageType.TalkResp:
                {
                    if (!r.TryReadBytes(out var resp, out _)) { error = MessageError.MissingField; return false; }
                    message = new TalkRespMessage(id, resp.ToArray());
                    return true;
                }
        }
        error = MessageError.UnknownType;
        return false;
    }
}
