using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ClP2p.Libp2p.Codecs;

/// <summary>
/// Binary multiaddr codec (multiaddr.md): a sequence of <c>uvarint(code) || value</c>, where the value has a fixed
/// size or is <c>uvarint(len) || bytes</c>. Codes and sizes from libp2p/multiaddr-protocols.csv.
/// </summary>
public static class Multiaddr
{
    /// <summary>Upper bound on one binary multiaddr we decode (go-multiaddr and js cap addresses at about 1 KiB).</summary>
    public const int MaxLength = 1024;

    private const int Variable = -1;

    private sealed record Proto(int Code, int SizeBits, string Name);

    // code, size in bits (V = variable), name — libp2p/multiaddr-protocols.csv
    private static readonly Proto[] Protocols =
    [
        new(4, 32, "ip4"), new(6, 16, "tcp"), new(273, 16, "udp"), new(33, 16, "dccp"), new(41, 128, "ip6"),
        new(42, Variable, "ip6zone"), new(43, 8, "ipcidr"), new(53, Variable, "dns"), new(54, Variable, "dns4"),
        new(55, Variable, "dns6"), new(56, Variable, "dnsaddr"), new(132, 16, "sctp"), new(301, 0, "udt"),
        new(302, 0, "utp"), new(400, Variable, "unix"), new(421, Variable, "p2p"), new(444, 96, "onion"),
        new(445, 296, "onion3"), new(446, Variable, "garlic64"), new(447, Variable, "garlic32"), new(448, 0, "tls"),
        new(449, Variable, "sni"), new(454, 0, "noise"), new(460, 0, "quic"), new(461, 0, "quic-v1"),
        new(465, 0, "webtransport"), new(466, Variable, "certhash"), new(480, 0, "http"),
        new(481, Variable, "http-path"), new(443, 0, "https"), new(477, 0, "ws"), new(478, 0, "wss"),
        new(479, 0, "p2p-websocket-star"), new(277, 0, "p2p-stardust"), new(275, 0, "p2p-webrtc-star"),
        new(276, 0, "p2p-webrtc-direct"), new(280, 0, "webrtc-direct"), new(281, 0, "webrtc"),
        new(290, 0, "p2p-circuit"), new(777, Variable, "memory"),
    ];

    private static readonly Dictionary<int, Proto> ByCode = Protocols.ToDictionary(p => p.Code);
    private static readonly Dictionary<string, Proto> ByName = Protocols.Concat([new Proto(421, Variable, "ipfs")]).ToDictionary(p => p.Name);

    /// <summary>Decodes a binary multiaddr to its text form.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, out string text, out string? error)
    {
        text = "";
        error = null;
        if (data.IsEmpty || data.Length > MaxLength)
        {
            error = data.IsEmpty ? "empty multiaddr" : "multiaddr too long";
            return false;
        }
        var sb = new StringBuilder();
        while (!data.IsEmpty)
        {
            if (Varint.TryRead(data, Varint.MaxLength, out ulong code, out int n) != VarintStatus.Ok || code > int.MaxValue)
            {
                error = "bad protocol code varint";
                return false;
            }
            data = data[n..];
            if (!ByCode.TryGetValue((int)code, out var proto))
            {
                error = $"unknown multiaddr protocol code {code}";
                return false;
            }
            ReadOnlySpan<byte> value;
            if (proto.SizeBits == Variable)
            {
                if (Varint.TryRead(data, Varint.MaxLength, out ulong len, out n) != VarintStatus.Ok || len > (ulong)(data.Length - n))
                {
                    error = $"bad {proto.Name} length";
                    return false;
                }
                value = data.Slice(n, (int)len);
                data = data[(n + (int)len)..];
            }
            else
            {
                int size = proto.SizeBits / 8;
                if (data.Length < size)
                {
                    error = $"truncated {proto.Name}";
                    return false;
                }
                value = data[..size];
                data = data[size..];
            }
            sb.Append('/').Append(proto.Name);
            if (proto.SizeBits != 0)
            {
                if (!TryValueToString(proto, value, out string v))
                {
                    error = $"bad {proto.Name} value";
                    return false;
                }
                sb.Append('/').Append(v);
            }
        }
        text = sb.ToString();
        return true;
    }

    private static bool TryValueToString(Proto proto, ReadOnlySpan<byte> v, out string s)
    {
        s = "";
        switch (proto.Name)
        {
            case "ip4":
            case "ip6":
                s = new IPAddress(v).ToString();
                return true;
            case "tcp":
            case "udp":
            case "dccp":
            case "sctp":
                s = BinaryPrimitives.ReadUInt16BigEndian(v).ToString(CultureInfo.InvariantCulture);
                return true;
            case "ipcidr":
                s = v[0].ToString(CultureInfo.InvariantCulture);
                return true;
            case "p2p":
                if (!Crypto.PeerId.TryFromMultihash(v, out var id))
                {
                    // CIDs and unknown multihashes are still valid multiaddrs; show them as base58 anyway.
                    s = Base58.Encode(v);
                    return true;
                }
                s = id.ToString();
                return true;
            case "onion":
            case "onion3":
                s = Base32Lower(v[..^2]) + ":" + BinaryPrimitives.ReadUInt16BigEndian(v[^2..]).ToString(CultureInfo.InvariantCulture);
                return true;
            case "garlic32":
                s = Base32Lower(v);
                return true;
            case "garlic64":
                s = Convert.ToBase64String(v).Replace('+', '-').Replace('/', '~');
                return true;
            case "certhash": // multibase "u": base64url without padding
                s = "u" + Base64Url.EncodeToString(v);
                return true;
            case "http-path":
                s = Uri.EscapeDataString(System.Text.Encoding.UTF8.GetString(v));
                return true;
            default: // dns, dns4, dns6, dnsaddr, unix, sni, ip6zone, memory
                try
                {
                    s = StrictUtf8.Encoding.GetString(v);
                    return !s.Contains('/', StringComparison.Ordinal) || proto.Name == "unix";
                }
                catch (DecoderFallbackException)
                {
                    return false;
                }
        }
    }

    private static string Base32Lower(ReadOnlySpan<byte> data)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        var sb = new StringBuilder((data.Length * 8 + 4) / 5);
        int buffer = 0, bits = 0;
        foreach (byte b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                sb.Append(alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }
        if (bits > 0)
        {
            sb.Append(alphabet[(buffer << (5 - bits)) & 31]);
        }
        return sb.ToString();
    }

    /// <summary>
    /// Encodes a text multiaddr. Supports ip4, ip6, tcp, udp, dccp, sctp, dns*, sni, ip6zone, p2p/ipfs and the
    /// value-less protocols; returns false for anything else.
    /// </summary>
    public static bool TryEncode(string text, out byte[] bytes, out string? error)
    {
        bytes = [];
        error = null;
        if (string.IsNullOrEmpty(text) || text[0] != '/')
        {
            error = "multiaddr text must start with '/'";
            return false;
        }
        var parts = text.Split('/');
        var buf = new ArrayBufferWriter<byte>(64);
        Span<byte> tmp = stackalloc byte[Varint.MaxLength];
        for (int i = 1; i < parts.Length; i++)
        {
            if (parts[i].Length == 0 && i == parts.Length - 1)
            {
                break; // trailing slash
            }
            if (!ByName.TryGetValue(parts[i], out var proto))
            {
                error = $"unknown protocol '{parts[i]}'";
                return false;
            }
            buf.Write(tmp[..Varint.Write(tmp, (ulong)proto.Code)]);
            if (proto.SizeBits == 0)
            {
                continue;
            }
            if (++i >= parts.Length)
            {
                error = $"{proto.Name} needs a value";
                return false;
            }
            string v = parts[i];
            byte[] value;
            switch (proto.Name)
            {
                case "ip4":
                case "ip6":
                    if (!IPAddress.TryParse(v, out var ip) || (ip.AddressFamily == AddressFamily.InterNetwork) != (proto.Name == "ip4"))
                    {
                        error = $"bad {proto.Name} address";
                        return false;
                    }
                    value = ip.GetAddressBytes();
                    break;
                case "tcp":
                case "udp":
                case "dccp":
                case "sctp":
                    if (!ushort.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out ushort port))
                    {
                        error = "bad port";
                        return false;
                    }
                    value = new byte[2];
                    BinaryPrimitives.WriteUInt16BigEndian(value, port);
                    break;
                case "p2p":
                case "ipfs":
                    if (!Base58.TryDecode(v, out value))
                    {
                        error = "bad peer id";
                        return false;
                    }
                    break;
                case "dns":
                case "dns4":
                case "dns6":
                case "dnsaddr":
                case "sni":
                case "ip6zone":
                    value = System.Text.Encoding.UTF8.GetBytes(v);
                    break;
                default:
                    error = $"encoding {proto.Name} from text is not supported";
                    return false;
            }
            if (proto.SizeBits == Variable)
            {
                buf.Write(tmp[..Varint.Write(tmp, (ulong)value.Length)]);
            }
            buf.Write(value);
        }
        bytes = buf.WrittenSpan.ToArray();
        return true;
    }

    /// <summary>Binary <c>/ip4|ip6/addr/tcp/port</c> for an endpoint (IPv4-mapped IPv6 is unmapped).</summary>
    public static byte[] FromTcpEndPoint(IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var ip = endpoint.Address.IsIPv4MappedToIPv6 ? endpoint.Address.MapToIPv4() : endpoint.Address;
        byte[] addr = ip.GetAddressBytes();
        var result = new byte[1 + addr.Length + 1 + 2];
        result[0] = ip.AddressFamily == AddressFamily.InterNetwork ? (byte)4 : (byte)41;
        addr.CopyTo(result, 1);
        result[1 + addr.Length] = 6;
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(2 + addr.Length), (ushort)endpoint.Port);
        return result;
    }
}
