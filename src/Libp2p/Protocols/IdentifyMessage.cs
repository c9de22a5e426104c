using System.Buffers;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Codecs;

namespace ClP2p.Libp2p.Protocols;

/// <summary>
/// The identify protobuf (identify.md): publicKey = 1, listenAddrs = 2 (repeated, binary multiaddr), protocols = 3
/// (repeated), observedAddr = 4, protocolVersion = 5, agentVersion = 6; signedPeerRecord = 8 and unknown fields skipped.
/// </summary>
public static class IdentifyMessage
{
    /// <summary>Largest identify message we read (go-libp2p signedIDSize 8 KiB; we allow some more for long protocol lists).</summary>
    public const int MaxSize = 64 * 1024;
    /// <summary>Caps on repeated fields so a hostile message cannot make us build huge lists.</summary>
    public const int MaxProtocols = 1024;
    public const int MaxAddrs = 256;

    public static byte[] Encode(
        string? agentVersion, string? protocolVersion, IEnumerable<string> protocols, IEnumerable<byte[]> listenAddrs,
        byte[]? observedAddr, PublicKey? publicKey)
    {
        var buf = new ArrayBufferWriter<byte>(256);
        var w = new ProtoWriter(buf);
        if (protocolVersion is not null)
        {
            w.WriteStringField(5, protocolVersion);
        }
        if (agentVersion is not null)
        {
            w.WriteStringField(6, agentVersion);
        }
        if (publicKey is not null)
        {
            w.WriteBytesField(1, publicKey.Protobuf);
        }
        foreach (var a in listenAddrs)
        {
            w.WriteBytesField(2, a);
        }
        if (observedAddr is not null)
        {
            w.WriteBytesField(4, observedAddr);
        }
        foreach (var p in protocols)
        {
            w.WriteStringField(3, p);
        }
        return buf.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Decodes an identify protobuf. Addresses that do not decode are skipped (counted in
    /// <paramref name="skippedAddrs"/>); a bad public key makes the key null; structural errors fail.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, out IdentifyInfo? info, out int skippedAddrs, out string? error)
    {
        info = null;
        error = null;
        skippedAddrs = 0;
        if (data.Length > MaxSize)
        {
            error = "identify message too large";
            return false;
        }
        string? agent = null, version = null, observed = null;
        PublicKey? key = null;
        var protocols = new List<string>();
        var addrs = new List<string>();
        var r = new ProtoReader(data);
        while (!r.End)
        {
            if (!r.TryReadTag(out int field, out var wt))
            {
                error = "bad protobuf tag";
                return false;
            }
            bool ok = true;
            if (wt == WireType.LengthDelimited && field is >= 1 and <= 6)
            {
                ok = r.TryReadBytes(out var bytes);
                if (ok)
                {
                    switch (field)
                    {
                        case 1:
                            PublicKey.TryDecode(bytes, out key, out _);
                            break;
                        case 2:
                            if (addrs.Count < MaxAddrs && Multiaddr.TryDecode(bytes, out var a, out _))
                            {
                                addrs.Add(a);
                            }
                            else
                            {
                                skippedAddrs++;
                            }
                            break;
                        case 3:
                            if (protocols.Count >= MaxProtocols)
                            {
                                error = "too many protocols";
                                return false;
                            }
                            protocols.Add(SharedStrings.Get(bytes));
                            break;
                        case 4:
                            observed = Multiaddr.TryDecode(bytes, out var o, out _) ? o : null;
                            break;
                        case 5:
                            version = SharedStrings.Get(bytes);
                            break;
                        case 6:
                            agent = SharedStrings.Get(bytes);
                            break;
                    }
                }
            }
            else
            {
                ok = r.TrySkip(wt);
            }
            if (!ok)
            {
                error = "truncated protobuf field";
                return false;
            }
        }
        info = new IdentifyInfo(agent, version, protocols, addrs, observed, key);
        return true;
    }
}
