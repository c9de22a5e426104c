using System.Buffers;
using ClP2p.Libp2p.Codecs;

namespace ClP2p.Libp2p.Mplex;

/// <summary>mplex flags (mplex.md "Flag Values").</summary>
public enum MplexFlag : byte
{
    NewStream = 0,
    MessageReceiver = 1,
    MessageInitiator = 2,
    CloseReceiver = 3,
    CloseInitiator = 4,
    ResetReceiver = 5,
    ResetInitiator = 6,
}

/// <summary>An mplex frame header: <c>uvarint(id &lt;&lt; 3 | flag) || uvarint(length)</c>.</summary>
public readonly record struct MplexHeader(ulong StreamId, MplexFlag Flag, int Length)
{
    /// <summary>"the maximum message size is 1MiB" (mplex.md, and what go/js enforce).</summary>
    public const int MaxMessageSize = 1024 * 1024;
    /// <summary>Stream ids are at most 60 bits so that id &lt;&lt; 3 fits a 63-bit uvarint.</summary>
    public const ulong MaxStreamId = (1UL << 60) - 1;
    public const int MaxSize = 2 * Varint.MaxLength;

    /// <summary>True when the sender of this frame is the side that opened the stream.</summary>
    public bool SentByInitiator => Flag is MplexFlag.NewStream or MplexFlag.MessageInitiator or MplexFlag.CloseInitiator or MplexFlag.ResetInitiator;

    public int Encode(Span<byte> destination)
    {
        int o = Varint.Write(destination, (StreamId << 3) | (byte)Flag);
        o += Varint.Write(destination[o..], (ulong)Length);
        return o;
    }

    /// <summary>Decodes a header; <see cref="OperationStatus.NeedMoreData"/> when the buffer ends early.</summary>
    public static OperationStatus TryDecode(ReadOnlySpan<byte> source, out MplexHeader header, out int consumed, out string? error)
    {
        header = default;
        consumed = 0;
        error = null;
        var s = Varint.TryRead(source, Varint.MaxLength, out ulong tag, out int n1);
        if (s != VarintStatus.Ok)
        {
            error = s == VarintStatus.NeedMore ? null : $"bad mplex header varint: {s}";
            return s == VarintStatus.NeedMore ? OperationStatus.NeedMoreData : OperationStatus.InvalidData;
        }
        s = Varint.TryRead(source[n1..], Varint.MaxLength, out ulong len, out int n2);
        if (s != VarintStatus.Ok)
        {
            error = s == VarintStatus.NeedMore ? null : $"bad mplex length varint: {s}";
            return s == VarintStatus.NeedMore ? OperationStatus.NeedMoreData : OperationStatus.InvalidData;
        }
        byte flag = (byte)(tag & 7);
        if (flag > (byte)MplexFlag.ResetInitiator)
        {
            error = $"unknown mplex flag {flag}";
            return OperationStatus.InvalidData;
        }
        if (len > MaxMessageSize)
        {
            error = $"mplex message of {len} bytes exceeds 1 MiB";
            return OperationStatus.InvalidData;
        }
        header = new MplexHeader(tag >> 3, (MplexFlag)flag, (int)len);
        consumed = n1 + n2;
        return OperationStatus.Done;
    }
}
