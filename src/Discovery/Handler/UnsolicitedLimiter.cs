using System.Buffers.Binary;
using System.Net;

namespace ClP2p.Discovery.Handler;

/// <summary>
/// Packets handled per source IP (unsolicited ones: handshakes answering our challenges, requests; and, in a second
/// instance that counts loopback too, the WHOAREYOUs we send) (IPv6: per /64) per
/// second, shared by all shards (one IP's ports land in different shards). A fixed one-second window per slot of a
/// fixed table indexed by a hash of the address: no lock, no allocation, no purge, bounded memory whatever the number
/// of sources. Two addresses that share a slot share one budget; the hash is keyed at random per process (see
/// <see cref="SlotOf"/>), so a remote cannot choose addresses that collide with another's, and with the default budget
/// far above what real nodes send, a shared slot limits nobody. Only the packets that would cost real work consult it,
/// never responses.
/// </summary>
internal sealed class UnsolicitedLimiter
{
    /// <summary>Slots of the table (8 bytes each: a window number and a count).</summary>
    public const int Slots = 1 << SlotBits;

    private readonly long[] _slots;
    private readonly int _perIpPerSecond;
    private readonly bool _limitLoopback;
    private readonly long _frequency;

    public UnsolicitedLimiter(int perIpPerSecond, bool limitLoopback, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perIpPerSecond, 1);
        _perIpPerSecond = perIpPerSecond;
        _limitLoopback = limitLoopback;
        _frequency = time.TimestampFrequency;
        _slots = perIpPerSecond == int.MaxValue ? [] : new long[Slots];
    }

    /// <summary>Takes one packet's place in <paramref name="ip"/>'s budget for the second of <paramref name="now"/>
    /// (a <see cref="TimeProvider.GetTimestamp"/> value); false when the budget is spent.</summary>
    public bool Allow(IPAddress ip, long now)
    {
        if (_slots.Length == 0 || (!_limitLoopback && IPAddress.IsLoopback(ip))) return true;
        uint window = (uint)(now / _frequency);
        ref long slot = ref _slots[SlotOf(ip)];
        while (true)
        {
            long current = Volatile.Read(ref slot);
            long next;
            if ((uint)(current >>> 32) != window) next = ((long)window << 32) | 1;
            else if ((uint)current >= (uint)_perIpPerSecond) return false;
            else next = current + 1;
            if (Interlocked.CompareExchange(ref slot, next, current) == current) return true;
        }
    }

    /// <summary>
    /// The slot of an address: an IPv4 address whole, an IPv6 address by its /64 prefix (one subnet, which a single
    /// host may hold whole: per address it would escape any budget), times a random odd multiplier drawn per process,
    /// top bits (multiplicative hashing; a remote that does not know the multiplier cannot aim at another's slot).
    /// </summary>
    internal static int SlotOf(IPAddress ip)
    {
        Span<byte> bytes = stackalloc byte[16];
        ip.TryWriteBytes(bytes, out int n);
        ulong key = n == 4 ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt64BigEndian(bytes);
        return (int)((key * Multiplier) >> (64 - SlotBits));
    }

    private const int SlotBits = 14;
    private static readonly ulong Multiplier = BinaryPrimitives.ReadUInt64LittleEndian(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)) | 1;
}
