using System.Text;
using ClP2p.Libp2p.Codecs;

namespace ClP2p.Libp2p.Multistream;

/// <summary>multistream-select 1.0 messages: <c>uvarint(len(s) + 1) || s || "\n"</c> (multistream-select.md).</summary>
public static class MultistreamCodec
{
    public const string Header = "/multistream/1.0.0";
    private static ReadOnlySpan<byte> HeaderUtf8 => "/multistream/1.0.0"u8;
    public const string NotAvailable = "na";
    public const string List = "ls";

    /// <summary>Upper bound on one message; protocol ids are short (go-multistream and js use 1024).</summary>
    public const int MaxMessageLength = 1024;

    public static int GetEncodedLength(string protocol)
    {
        int n = Encoding.UTF8.GetByteCount(protocol) + 1;
        return Varint.GetLength((ulong)n) + n;
    }

    public static int Encode(string protocol, Span<byte> destination)
    {
        int n = Encoding.UTF8.GetByteCount(protocol) + 1;
        int o = Varint.Write(destination, (ulong)n);
        o += Encoding.UTF8.GetBytes(protocol, destination[o..]);
        destination[o++] = (byte)'\n';
        return o;
    }

    public static byte[] Encode(params string[] messages)
    {
        var buf = new byte[messages.Sum(GetEncodedLength)];
        int o = 0;
        foreach (var m in messages)
        {
            o += Encode(m, buf.AsSpan(o));
        }
        return buf;
    }

    /// <summary>Decodes the body (after the length prefix) of one message: it must end with '\n' and be UTF-8.</summary>
    public static bool TryDecodeBody(ReadOnlySpan<byte> body, out string message, out string? error)
    {
        message = "";
        error = null;
        if (body.Length == 0 || body[^1] != (byte)'\n')
        {
            error = "multistream message does not end with a newline";
            return false;
        }
        // every stream of every dial begins with the header: the constant, not a new string
        if (body[..^1].SequenceEqual(HeaderUtf8))
        {
            message = Header;
            return true;
        }
        try
        {
            message = StrictUtf8.Encoding.GetString(body[..^1]);
            return true;
        }
        catch (DecoderFallbackException)
        {
            error = "multistream message is not UTF-8";
            return false;
        }
    }

    /// <summary>Decodes one complete message from the start of <paramref name="data"/>.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, out string message, out int consumed, out string? error)
    {
        message = "";
        consumed = 0;
        var status = Varint.TryRead(data, Varint.MaxLength, out ulong len, out int n);
        if (status != VarintStatus.Ok)
        {
            error = status == VarintStatus.NeedMore ? "truncated length" : "bad length varint";
            return false;
        }
        if (len > MaxMessageLength)
        {
            error = "multistream message too long";
            return false;
        }
        if ((ulong)(data.Length - n) < len)
        {
            error = "truncated message";
            return false;
        }
        if (!TryDecodeBody(data.Slice(n, (int)len), out message, out error))
        {
            return false;
        }
        consumed = n + (int)len;
        return true;
    }
}
