using System.Buffers;
using System.Text;

namespace ClP2p.Libp2p.Codecs;

/// <summary>Protobuf wire types we read (proto2/proto3 share them).</summary>
public enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    Fixed32 = 5,
}

/// <summary>
/// Minimal protobuf reader over a span: tags, varints, length-delimited fields, and skipping of unknown
/// fields (groups are rejected). Never throws on bad input; every method returns false instead.
/// </summary>
public ref struct ProtoReader
{
    private ReadOnlySpan<byte> _rest;

    public ProtoReader(ReadOnlySpan<byte> data) => _rest = data;

    public readonly bool End => _rest.IsEmpty;

    public bool TryReadTag(out int field, out WireType wireType)
    {
        field = 0;
        wireType = 0;
        if (!TryReadVarint(out ulong tag) || tag >> 3 == 0 || tag >> 3 > int.MaxValue)
        {
            return false;
        }
        field = (int)(tag >> 3);
        int wt = (int)(tag & 7);
        if (wt is not (0 or 1 or 2 or 5))
        {
            return false;
        }
        wireType = (WireType)wt;
        return true;
    }

    public bool TryReadVarint(out ulong value)
    {
        // Protobuf varints may be 10 bytes (64 bits) and are not required to be minimal (protobuf encoding "Base 128 Varints").
        if (Varint.TryRead(_rest, Varint.MaxUInt64Length, out value, out int n, allowNonMinimal: true) != VarintStatus.Ok)
        {
            return false;
        }
        _rest = _rest[n..];
        return true;
    }

    public bool TryReadBytes(out ReadOnlySpan<byte> value)
    {
        value = default;
        if (!TryReadVarint(out ulong len) || len > (ulong)_rest.Length)
        {
            return false;
        }
        value = _rest[..(int)len];
        _rest = _rest[(int)len..];
        return true;
    }

    public bool TryReadString(out string value)
    {
        value = "";
        if (!TryReadBytes(out var bytes))
        {
            return false;
        }
        value = Encoding.UTF8.GetString(bytes);
        return true;
    }

    public bool TrySkip(WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint:
                return TryReadVarint(out _);
            case WireType.Fixed64:
                return TrySkipBytes(8);
            case WireType.Fixed32:
                return TrySkipBytes(4);
            case WireType.LengthDelimited:
                return TryReadBytes(out _);
            default:
                return false;
        }
    }

    private bool TrySkipBytes(int n)
    {
        if (_rest.Length < n)
        {
            return false;
        }
        _rest = _rest[n..];
        return true;
    }
}

/// <summary>Minimal protobuf writer into an <see cref="IBufferWriter{T}"/>.</summary>
public readonly ref struct ProtoWriter
{
    private readonly IBufferWriter<byte> _out;

    public ProtoWriter(IBufferWriter<byte> output) => _out = output;

    public void WriteVarint(ulong value)
    {
        _out.Advance(Varint.Write(_out.GetSpan(Varint.MaxUInt64Length), value));
    }

    public void WriteTag(int field, WireType wireType) => WriteVarint(((ulong)field << 3) | (uint)wireType);

    public void WriteVarintField(int field, ulong value)
    {
        WriteTag(field, WireType.Varint);
        WriteVarint(value);
    }

    public void WriteBytesField(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)value.Length);
        _out.Write(value);
    }

    public void WriteStringField(int field, string value)
    {
        WriteTag(field, WireType.LengthDelimited);
        int n = Encoding.UTF8.GetByteCount(value);
        WriteVarint((ulong)n);
        var span = _out.GetSpan(n);
        Encoding.UTF8.GetBytes(value, span);
        _out.Advance(n);
    }
}
