using System.Net;
using System.Net.Sockets;
using System.Text;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Discovery;

/// <summary>Builds and signs "v4" records. Keys are sorted on build; "id" and "secp256k1" are set from the key.</summary>
public sealed class EnrBuilder
{
    private readonly SortedDictionary<string, byte[]> _items = new(StringComparer.Ordinal); // key -> full RLP item
    private ulong _seq = 1;

    public EnrBuilder WithSeq(ulong seq) { _seq = seq; return this; }

    /// <summary>Sets a byte-string value.</summary>
    public EnrBuilder With(string key, ReadOnlySpan<byte> value)
    {
        var item = new byte[Rlp.LengthOfBytes(value)];
        Rlp.WriteBytes(item, value);
        _items[key] = item;
        return this;
    }

    /// <summary>Sets a value given as a complete RLP item (e.g. a list such as the EL "eth" entry).</summary>
    public EnrBuilder WithRawItem(string key, ReadOnlySpan<byte> rlpItem)
    {
        _items[key] = rlpItem.ToArray();
        return this;
    }

    public EnrBuilder WithUInt(string key, ulong value)
    {
        var item = new byte[Rlp.LengthOfUInt64(value)];
        Rlp.WriteUInt64(item, value);
        _items[key] = item;
        return this;
    }

    public EnrBuilder Without(string key) { _items.Remove(key); return this; }

    public EnrBuilder WithIp(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        return ip.AddressFamily == AddressFamily.InterNetwork ? With("ip", ip.GetAddressBytes()) : With("ip6", ip.GetAddressBytes());
    }

    public EnrBuilder WithUdp(int port) => WithUInt("udp", checked((ushort)port));
    public EnrBuilder WithTcp(int port) => WithUInt("tcp", checked((ushort)port));
    public EnrBuilder WithUdp6(int port) => WithUInt("udp6", checked((ushort)port));
    public EnrBuilder WithTcp6(int port) => WithUInt("tcp6", checked((ushort)port));
    public EnrBuilder WithQuic(int port) => WithUInt("quic", checked((ushort)port));

    /// <summary>Copies every entry of an existing record except id/secp256k1 (for re-signing with a new seq).</summary>
    public static EnrBuilder From(Enr enr)
    {
        var b = new EnrBuilder().WithSeq(enr.Seq);
        foreach (var k in enr.Keys)
        {
            if (k is "id" or "secp256k1") continue;
            enr.TryGetValue(k, out var v, out bool isList);
            if (isList) b.WithRawItem(k, v.Span); else b.With(k, v.Span);
        }
        return b;
    }

    /// <summary>Signs the record with a 32-byte secp256k1 private key.</summary>
    public Enr Build(ReadOnlySpan<byte> privateKey)
    {
        var pub = Secp256k1Ops.CompressedPublicKey(privateKey);
        var all = new SortedDictionary<string, byte[]>(_items, StringComparer.Ordinal);
        all["id"] = Item("v4"u8);
        all["secp256k1"] = Item(pub);
        int payload = Rlp.LengthOfUInt64(_seq);
        foreach (var (k, v) in all) payload += Rlp.LengthOfBytes(Encoding.Latin1.GetBytes(k)) + v.Length;
        var content = new byte[Rlp.LengthOfList(payload)];
        int o = Rlp.WriteListHeader(content, payload);
        o += Rlp.WriteUInt64(content.AsSpan(o), _seq);
        foreach (var (k, v) in all)
        {
            o += Rlp.WriteBytes(content.AsSpan(o), Encoding.Latin1.GetBytes(k));
            v.CopyTo(content, o); o += v.Length;
        }
        Span<byte> hash = stackalloc byte[32];
        Keccak.Hash(content, hash);
        Span<byte> sig = stackalloc byte[64];
        if (!Secp256k1Ops.TrySign(hash, privateKey, sig)) throw new ArgumentException("signing failed", nameof(privateKey));
        int contentPayload = content.Length - Rlp.HeaderLength(payload);
        int recPayload = 66 + contentPayload;
        var rec = new byte[Rlp.LengthOfList(recPayload)];
        int r = Rlp.WriteListHeader(rec, recPayload);
        r += Rlp.WriteBytes(rec.AsSpan(r), sig);
        content.AsSpan(Rlp.HeaderLength(payload)).CopyTo(rec.AsSpan(r));
        if (rec.Length > Enr.MaxSize) throw new InvalidOperationException($"record is {rec.Length} bytes, over the {Enr.MaxSize}-byte maximum");
        return Enr.TryDecode(rec, out var enr, out var err) ? enr! : throw new InvalidOperationException($"built record does not decode: {err}");
    }

    private static byte[] Item(ReadOnlySpan<byte> v)
    {
        var i = new byte[Rlp.LengthOfBytes(v)];
        Rlp.WriteBytes(i, v);
        return i;
    }
}
