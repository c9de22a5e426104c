using System.Buffers.Binary;
using System.Numerics;

namespace ClP2p.Discovery;

/// <summary>A 32-byte discv5 node id (keccak256 of the uncompressed public key). Stored as four big-endian words.</summary>
public readonly record struct NodeId : IComparable<NodeId>
{
    public const int Size = 32;
    private readonly ulong _a, _b, _c, _d;

    public NodeId(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size) throw new ArgumentException("a node id is 32 bytes", nameof(bytes));
        _a = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        _b = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        _c = BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]);
        _d = BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]);
    }

    private NodeId(ulong a, ulong b, ulong c, ulong d) { _a = a; _b = b; _c = c; _d = d; }

    public static NodeId FromHex(string hex) => new(Convert.FromHexString(hex));

    public static bool TryParse(string? hex, out NodeId id)
    {
        id = default;
        if (hex is null || hex.Length != 64) return false;
        Span<byte> b = stackalloc byte[32];
        if (Convert.FromHexString(hex, b, out _, out int w) != System.Buffers.OperationStatus.Done || w != 32) return false;
        id = new NodeId(b);
        return true;
    }

    public void CopyTo(Span<byte> dest)
    {
        BinaryPrimitives.WriteUInt64BigEndian(dest, _a);
        BinaryPrimitives.WriteUInt64BigEndian(dest[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(dest[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(dest[24..], _d);
    }

    public byte[] ToByteArray()
    {
        var o = new byte[Size];
        CopyTo(o);
        return o;
    }

    public NodeId Xor(NodeId o) => new(_a ^ o._a, _b ^ o._b, _c ^ o._c, _d ^ o._d);

    /// <summary>log2 distance = bit length of (a xor b): 0 for equal ids, 256 at most (discv5-theory "Nodes, Records and Distances").</summary>
    public static int LogDistance(NodeId a, NodeId b)
    {
        ulong x = a._a ^ b._a; if (x != 0) return 256 - BitOperations.LeadingZeroCount(x);
        x = a._b ^ b._b; if (x != 0) return 192 - BitOperations.LeadingZeroCount(x);
        x = a._c ^ b._c; if (x != 0) return 128 - BitOperations.LeadingZeroCount(x);
        x = a._d ^ b._d; if (x != 0) return 64 - BitOperations.LeadingZeroCount(x);
        return 0;
    }

    public int LogDistanceTo(NodeId other) => LogDistance(this, other);

    /// <summary>Compares a xor target with b xor target: negative when a is closer to target.</summary>
    public static int CompareDistance(NodeId target, NodeId a, NodeId b)
    {
        int c = (a._a ^ target._a).CompareTo(b._a ^ target._a); if (c != 0) return c;
        c = (a._b ^ target._b).CompareTo(b._b ^ target._b); if (c != 0) return c;
        c = (a._c ^ target._c).CompareTo(b._c ^ target._c); if (c != 0) return c;
        return (a._d ^ target._d).CompareTo(b._d ^ target._d);
    }

    /// <summary>A random id at exactly the given log distance from this one (1..256).</summary>
    public NodeId RandomAtDistance(int distance, Crypto.IDiscoveryRandom random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(distance, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(distance, 256);
        Span<byte> r = stackalloc byte[32];
        random.Fill(r);
        Span<byte> me = stackalloc byte[32];
        CopyTo(me);
        // bit index (from the most significant) that must differ: 256 - distance
        int bit = 256 - distance;
        for (int i = 0; i < 32; i++)
        {
            for (int j = 0; j < 8; j++)
            {
                int idx = i * 8 + j;
                byte mask = (byte)(0x80 >> j);
                if (idx < bit) r[i] = (byte)((r[i] & ~mask) | (me[i] & mask));
                else if (idx == bit) r[i] = (byte)((r[i] & ~mask) | (~me[i] & mask));
            }
        }
        return new NodeId(r);
    }

    public int CompareTo(NodeId other)
    {
        int c = _a.CompareTo(other._a); if (c != 0) return c;
        c = _b.CompareTo(other._b); if (c != 0) return c;
        c = _c.CompareTo(other._c); if (c != 0) return c;
        return _d.CompareTo(other._d);
    }

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[32];
        CopyTo(b);
        return Convert.ToHexStringLower(b);
    }
}
