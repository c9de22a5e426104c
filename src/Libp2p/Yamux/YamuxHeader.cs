using System.Buffers.Binary;

namespace ClP2p.Libp2p.Yamux;

/// <summary>yamux frame types (yamux.md "Type field").</summary>
public enum YamuxFrameType : byte
{
    Data = 0,
    WindowUpdate = 1,
    Ping = 2,
    GoAway = 3,
}

/// <summary>yamux flags (yamux.md "Flag field").</summary>
[Flags]
public enum YamuxFlags : ushort
{
    None = 0,
    Syn = 1,
    Ack = 2,
    Fin = 4,
    Rst = 8,
}

/// <summary>GoAway error codes (yamux.md "Go Away").</summary>
public enum YamuxGoAwayCode : uint
{
    Normal = 0,
    ProtocolError = 1,
    InternalError = 2,
}

/// <summary>
/// The 12-byte yamux header: version u8 (= 0), type u8, flags u16 BE, stream id u32 BE, length u32 BE.
/// </summary>
public readonly record struct YamuxHeader(YamuxFrameType Type, YamuxFlags Flags, uint StreamId, uint Length)
{
    public const int Size = 12;
    /// <summary>"The version field is used for future backward compatibility. At the current time, the field is always set to 0".</summary>
    public const byte Version = 0;

    public void Encode(Span<byte> destination)
    {
        destination[0] = Version;
        destination[1] = (byte)Type;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)Flags);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], StreamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], Length);
    }

    public static bool TryDecode(ReadOnlySpan<byte> source, out YamuxHeader header, out string? error)
    {
        header = default;
        error = null;
        if (source.Length < Size)
        {
            error = "truncated yamux header";
            return false;
        }
        if (source[0] != Version)
        {
            error = $"yamux version {source[0]} is not 0";
            return false;
        }
        if (source[1] > (byte)YamuxFrameType.GoAway)
        {
            error = $"unknown yamux frame type {source[1]}";
            return false;
        }
        header = new YamuxHeader(
            (YamuxFrameType)source[1],
            (YamuxFlags)BinaryPrimitives.ReadUInt16BigEndian(source[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[8..]));
        return true;
    }
}
