using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Text;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Discovery;

/// <summary>
/// An Ethereum Node Record (EIP-778), "v4" identity scheme. Immutable; decoded strictly and verified.
/// Unknown keys are kept: <see cref="TryGetValue"/> returns any key's raw content.
/// </summary>
public sealed class Enr
{
    /// <summary>EIP-778: "The maximum encoded size of a node record is 300 bytes."</summary>
    public const int MaxSize = 300;
    public const string TextPrefix = "enr:";

    // A crawl holds every record it verified for its whole run (20,000 and more), so a record is few objects: its bytes,
    // its keys (the well-known ones shared, see KnownKeys), where each value lies in the bytes, and the parsed public key.
    // Each object more per record is one more for every collection to mark and move (docs/performance.md, "Another
    // machine; fewer objects per record; the census's bit counts").
    private readonly byte[] _raw;
    private readonly string[] _keys;
    private readonly Field[] _fields;
    private readonly int _publicKeyOffset;  // the 33-byte compressed key, inside _raw
    private readonly byte[] _parsedKey;     // 64-byte libsecp256k1 object

    /// <summary>Where a value lies in the record: the content of a byte string, or the whole item of a list.</summary>
    private readonly record struct Field(int Offset, int Length, bool IsList);

    private Enr(byte[] raw, ulong seq, string[] keys, Field[] fields, int publicKeyOffset, byte[] parsedKey, NodeId nodeId)
    {
        _raw = raw; Seq = seq; _keys = keys; _fields = fields;
        _publicKeyOffset = publicKeyOffset; _parsedKey = parsedKey; NodeId = nodeId;
        Ip = ReadIp("ip", 4); Ip6 = ReadIp("ip6", 16);
        Udp = ReadPort("udp"); Tcp = ReadPort("tcp"); Udp6 = ReadPort("udp6"); Tcp6 = ReadPort("tcp6");
        Quic = ReadPort("quic"); Quic6 = ReadPort("quic6");
    }

    // Which owner last took this very instance in: a crawl sees each record in many neighbours' buckets, and the node's
    // cache of verified records hands out one instance per encoding, so a second sighting can skip the owner's lookup.
    // Only a hint: any other value means "look it up".
    internal object? RememberedBy;
    internal object? OfferedTo;
    // which node's table last took this very instance in as a node that answered, and when (NodeService.Contacted)
    internal object? TabledBy;
    internal long TabledAt;

    /// <summary>The full RLP encoding of the record.</summary>
    public ReadOnlyMemory<byte> Raw => _raw;

    /// <summary>True when <paramref name="raw"/> is this record's encoding, byte for byte.</summary>
    internal bool RawEquals(ReadOnlySpan<byte> raw) => raw.SequenceEqual(_raw);
    public ulong Seq { get; }
    public NodeId NodeId { get; }
    /// <summary>The 33-byte compressed secp256k1 public key.</summary>
    public ReadOnlySpan<byte> PublicKey => _raw.AsSpan(_publicKeyOffset, Secp256k1Ops.CompressedSize);
    internal ReadOnlySpan<byte> ParsedPublicKey => _parsedKey;
    public ReadOnlySpan<byte> Signature => _raw.AsSpan(SignatureOffset, 64);
    private int SignatureOffset => Rlp.HeaderLength(_raw.Length - HeaderLen()) + 2;
    private int HeaderLen() { RlpReader.TryReadHeader(_raw, out _, out int h, out _, out _); return h; }

    public IPAddress? Ip { get; }
    public IPAddress? Ip6 { get; }
    public int? Udp { get; }
    public int? Tcp { get; }
    public int? Udp6 { get; }
    public int? Tcp6 { get; }
    public int? Quic { get; }
    public int? Quic6 { get; }

    /// <summary>IPv4 ip + udp, else ip6 + udp6 (no fallback from udp6 to udp, as sigp and the enr crate).</summary>
    public IPEndPoint? UdpEndPoint => UdpV4EndPoint ?? UdpV6EndPoint;

    /// <summary>ip + udp, made once per record: discovery looks it up for every request and every answer to one.
    /// Shared, so never to be changed by a caller.</summary>
    internal IPEndPoint? UdpV4EndPoint => Ip is not null && Udp is int u ? _udp4 ??= new IPEndPoint(Ip, u) : null;

    /// <summary>ip6 + udp6, made once per record (see <see cref="UdpV4EndPoint"/>).</summary>
    internal IPEndPoint? UdpV6EndPoint => Ip6 is not null && Udp6 is int u6 ? _udp6 ??= new IPEndPoint(Ip6, u6) : null;

    private IPEndPoint? _udp4, _udp6;

    public IPEndPoint? TcpEndPoint =>
        Ip is not null && Tcp is int t ? new IPEndPoint(Ip, t)
        : Ip6 is not null && Tcp6 is int t6 ? new IPEndPoint(Ip6, t6) : null;

    /// <summary>The keys in record order (sorted).</summary>
    public IReadOnlyList<string> Keys => _keys;

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    /// <summary>
    /// Raw value of any key: the byte-string content, or the whole RLP item when the value is a list
    /// (<paramref name="isList"/> tells which).
    /// </summary>
    public bool TryGetValue(string key, out ReadOnlyMemory<byte> value, out bool isList)
    {
        int i = IndexOf(key);
        if (i < 0) { value = default; isList = false; return false; }
        value = _raw.AsMemory(_fields[i].Offset, _fields[i].Length);
        isList = _fields[i].IsList;
        return true;
    }

    /// <summary>Raw byte-string content of a key, null when absent (or the raw RLP item for a list value).</summary>
    public byte[]? GetValue(string key) => TryGetValue(key, out var v, out _) ? v.ToArray() : null;

    private int IndexOf(string key)
    {
        for (int i = 0; i < _keys.Length; i++) if (string.Equals(_keys[i], key, StringComparison.Ordinal)) return i;
        return -1;
    }

    public string ToText() => TextPrefix + Base64Url.EncodeToString(_raw);

    public override string ToString() => ToText();

    private IPAddress? ReadIp(string key, int size)
    {
        int i = IndexOf(key);
        if (i < 0 || _fields[i].IsList || _fields[i].Length != size) return null;
        return new IPAddress(_raw.AsSpan(_fields[i].Offset, size));
    }

    private int? ReadPort(string key)
    {
        int i = IndexOf(key);
        if (i < 0) return null;
        var v = _raw.AsSpan(_fields[i].Offset, _fields[i].Length);
        int p = 0;
        foreach (byte b in v) p = (p << 8) | b;
        return p;
    }

    /// <summary>Parses the text form "enr:" + unpadded base64url (the prefix is optional, as sigp).</summary>
    public static bool TryParse(string? text, out Enr? enr, out EnrError error)
    {
        enr = null;
        if (string.IsNullOrEmpty(text)) { error = EnrError.Empty; return false; }
        ReadOnlySpan<char> t = text.AsSpan().Trim();
        if (t.StartsWith(TextPrefix, StringComparison.Ordinal)) t = t[TextPrefix.Length..];
        if (t.Length > (MaxSize * 4 + 2) / 3) { error = EnrError.TooLarge; return false; }
        Span<byte> buf = stackalloc byte[MaxSize + 3];
        if (!TryDecodeCanonicalBase64Url(t, buf, out int n)) { error = EnrError.BadBase64; return false; }
        return TryDecode(buf[..n], out enr, out error);
    }

    /// <summary>
    /// EIP-778's text form is URL-safe base64 without padding (RFC 4648 §5). .NET's decoder also accepts padding,
    /// white space and non-zero trailing bits; a text is accepted only if it is the one encoding of its bytes.
    /// </summary>
    private static bool TryDecodeCanonicalBase64Url(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        if (Base64Url.DecodeFromChars(text, destination, out int consumed, out written) != OperationStatus.Done || consumed != text.Length) return false;
        Span<char> again = stackalloc char[Base64Url.GetEncodedLength(written)];
        return Base64Url.TryEncodeToChars(destination[..written], again, out int chars) && again[..chars].SequenceEqual(text);
    }

    public static Enr Parse(string text) =>
        TryParse(text, out var e, out var err) ? e! : throw new FormatException($"invalid ENR: {err}");

    /// <summary>Decodes and verifies an RLP record. The whole input must be exactly one record.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, out Enr? enr, out EnrError error)
    {
        enr = null;
        if (data.IsEmpty) { error = EnrError.Empty; return false; }
        if (data.Length > MaxSize) { error = EnrError.TooLarge; return false; }
        if (!RlpReader.TryReadHeader(data, out bool isList, out int h, out int p, out var rerr))
        {
            error = rerr == RlpError.Truncated ? EnrError.NonCanonicalRlp : EnrError.NonCanonicalRlp; return false;
        }
        if (!isList) { error = EnrError.NotAList; return false; }
        if (h + p != data.Length) { error = EnrError.TrailingBytes; return false; }
        var r = new RlpReader(data.Slice(h, p));
        if (!r.TryReadBytes(out var sig, out _)) { error = EnrError.BadSignatureField; return false; }
        if (sig.Length != 64) { error = EnrError.BadSignatureField; return false; }
        int contentStart = h + r.Position;
        if (!r.TryReadUInt64(out ulong seq, out var serr))
        {
            error = serr is RlpError.NonCanonicalInteger or RlpError.NonCanonicalSize ? EnrError.NonCanonicalRlp : EnrError.BadSeq;
            return false;
        }
        // at most one pair per two bytes of content; a record is at most 300 bytes
        Span<Field> fields = stackalloc Field[MaxSize / 2];
        Span<Field> keyAt = stackalloc Field[MaxSize / 2];
        Span<sbyte> knownAt = stackalloc sbyte[MaxSize / 2];   // the key's index in KnownKeys, -1 for another key
        int count = 0;
        ReadOnlySpan<byte> prevKey = default;
        ReadOnlySpan<byte> pubkey = default;
        int pubkeyOffset = 0;
        bool hasId = false;
        while (!r.IsEnd)
        {
            if (!r.TryReadBytes(out var key, out var kerr))
            {
                error = kerr == RlpError.UnexpectedList ? EnrError.NonCanonicalRlp : EnrError.NonCanonicalRlp; return false;
            }
            if (r.IsEnd) { error = EnrError.OddKeyValueCount; return false; }
            if (count > 0)
            {
                int c = key.SequenceCompareTo(prevKey);
                if (c == 0) { error = EnrError.DuplicateKey; return false; }
                if (c < 0) { error = EnrError.KeysNotSorted; return false; }
            }
            prevKey = key;
            int itemStart = h + r.Position;
            if (!r.TryReadRaw(out var item, out bool valIsList, out _)) { error = EnrError.NonCanonicalRlp; return false; }
            RlpReader.TryReadHeader(item, out _, out int vh, out int vp, out _);
            int known = KnownKeyIndex(key);
            keyAt[count] = new Field(itemStart - key.Length, key.Length, false);
            knownAt[count] = (sbyte)known;
            fields[count++] = valIsList ? new Field(itemStart, item.Length, true) : new Field(itemStart + vh, vp, false);
            var content = item.Slice(vh, vp);
            switch (known >= 0 ? KnownKeys[known] : null)
            {
                case "id":
                    if (valIsList) { error = EnrError.UnknownIdentityScheme; return false; }
                    if (!content.SequenceEqual("v4"u8)) { error = EnrError.UnknownIdentityScheme; return false; }
                    hasId = true; break;
                case "secp256k1":
                    if (valIsList || content.Length != 33) { error = EnrError.BadPublicKey; return false; }
                    pubkey = content; pubkeyOffset = itemStart + vh; break;
                case "ip":
                    if (valIsList || content.Length != 4) { error = EnrError.BadKnownValue; return false; }
                    break;
                case "ip6":
                    if (valIsList || content.Length != 16) { error = EnrError.BadKnownValue; return false; }
                    break;
                case "udp" or "tcp" or "udp6" or "tcp6" or "quic" or "quic6":
                    if (valIsList || content.Length > 2 || (content.Length > 0 && content[0] == 0)) { error = EnrError.BadKnownValue; return false; }
                    break;
            }
        }
        if (!hasId) { error = EnrError.MissingIdentityScheme; return false; }
        if (pubkey.IsEmpty) { error = EnrError.MissingPublicKey; return false; }
        var parsed = new byte[64];
        if (!Secp256k1Ops.TryParsePublicKey(pubkey, parsed)) { error = EnrError.BadPublicKey; return false; }
        // content = rlp([seq, k, v, ...]): the same payload bytes under a new list header
        var payload = data[contentStart..];
        Span<byte> hdr = stackalloc byte[5];
        int hl = Rlp.WriteListHeader(hdr, payload.Length);
        Span<byte> hash = stackalloc byte[32];
        Keccak.Hash(hdr[..hl], payload, hash);
        if (!Secp256k1Ops.Verify(sig, hash, parsed)) { error = EnrError.BadSignature; return false; }
        var id = Secp256k1Ops.NodeIdOf(parsed);
        var keys = new string[count];
        for (int i = 0; i < count; i++)
            keys[i] = knownAt[i] >= 0 ? KnownKeys[knownAt[i]] : Encoding.Latin1.GetString(data.Slice(keyAt[i].Offset, keyAt[i].Length));
        enr = new Enr(data.ToArray(), seq, keys, fields[..count].ToArray(), pubkeyOffset, parsed, id);
        error = EnrError.None;
        return true;
    }

    public static Enr Decode(ReadOnlySpan<byte> data) =>
        TryDecode(data, out var e, out var err) ? e! : throw new FormatException($"invalid ENR: {err}");

    /// <summary>
    /// The keys records carry (EIP-778's predefined ones, and the consensus layer's: p2p-interface.md "ENR structure",
    /// "Custody group count", "Next fork digest"), one string each for every record: a crawl decodes tens of thousands.
    /// </summary>
    private static readonly string[] KnownKeys =
        ["id", "secp256k1", "ip", "ip6", "udp", "tcp", "udp6", "tcp6", "quic", "quic6", "eth2", "attnets", "syncnets", "cgc", "nfd"];

    /// <summary>The index in <see cref="KnownKeys"/> of a well-known key, or -1 for any other key.</summary>
    private static int KnownKeyIndex(ReadOnlySpan<byte> key)
    {
        for (int n = 0; n < KnownKeys.Length; n++)
        {
            string k = KnownKeys[n];
            if (k.Length != key.Length) continue;
            int i = 0;
            while (i < k.Length && k[i] == key[i]) i++;
            if (i == k.Length) return n;
        }
        return -1;
    }

    /// <summary>Equal when the encoded bytes are equal.</summary>
    public bool SameRecord(Enr other) => _raw.AsSpan().SequenceEqual(other._raw);
}
