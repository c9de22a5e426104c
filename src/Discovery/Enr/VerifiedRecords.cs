using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace ClP2p.Discovery;

/// <summary>
/// Records whose signature was checked, shared by every handler shard for the node's lifetime: a crawl sees the same
/// record from many nodes (each bucket of each neighbour repeats it), and one verification (~36 µs of ECDSA) per
/// distinct record is enough. A record is its bytes: a node id and seq name it, but a forged copy with the same id and
/// seq must not ride on the genuine one's check, so the cache matches the whole encoding. Bounded: two generations of
/// at most <see cref="Capacity"/>/2 each; when the young one fills, the old one is dropped (an approximate LRU with no
/// per-hit bookkeeping).
/// </summary>
/// <remarks>
/// A crawl of 20,000 records looks up about a million sightings, most of them hits: each generation is an
/// open-addressed table of (key, record) slots, read without a lock (one slot, the record, its bytes), written under
/// one; hits are counted on striped counters, so that the shards on different cores do not share a cache line per
/// packet. It replaced a ConcurrentDictionary whose lookups and Count were ~6 % of a simulated crawl's CPU.
/// </remarks>
internal sealed class VerifiedRecords
{
    private const int InitialSlots = 1024;
    private const int Stripes = 16;
    private const int StripeStride = 8;   // one 64-byte line per stripe

    private readonly int _half;
    private readonly Lock _write = new();
    private Table _young = new(InitialSlots);
    private Table _old = new(InitialSlots);
    private readonly long[] _hits = new long[Stripes * StripeStride];
    private long _verified;

    public VerifiedRecords(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        Capacity = capacity;
        _half = capacity / 2;
    }

    public int Capacity { get; }

    /// <summary>Signature checks done (records seen for the first time, valid or not).</summary>
    public long Verified => Interlocked.Read(ref _verified);

    /// <summary>Records that were taken from the cache instead of being checked again.</summary>
    public long Hits
    {
        get
        {
            long n = 0;
            for (int i = 0; i < Stripes; i++) n += Interlocked.Read(ref _hits[i * StripeStride]);
            return n;
        }
    }

    private void Hit()
    {
        Interlocked.Increment(ref _hits[(Environment.CurrentManagedThreadId & (Stripes - 1)) * StripeStride]);
        Discv5Metrics.RecordsVerified.Add(1, new KeyValuePair<string, object?>("outcome", "cached"));
    }

    // too short to be a record: decoding fails anyway, any key will do
    private static long ShortKey(ReadOnlySpan<byte> raw)
    {
        long k = raw.Length;
        foreach (byte b in raw) k = (k << 8) ^ b;
        return k;
    }

    // the key is 8 bytes of the signature (after a list header of 2 or 3 bytes and the signature's own 2, bytes 8 to 15
    // are always inside it), which already tell records apart; a collision only costs a verification, since the whole
    // encoding is compared
    private static long Key(ReadOnlySpan<byte> raw)
    {
        long h = raw.Length >= 16 ? System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(raw.Slice(8, 8)) : ShortKey(raw);
        return h == 0 ? 1 : h;   // 0 marks an empty slot
    }

    /// <summary>
    /// Hints the processor to load the slot a lookup of <paramref name="raw"/> will read (<paramref name="level"/> 0),
    /// or, once that slot is loaded, the record in it (1). A NODES message carries several records: hinted together
    /// before they are looked up one by one, their cache misses overlap instead of following each other (a crawl of
    /// 20,000 records looks up ~1.8 million sightings in tables of megabytes). A hint only: nothing is read that a
    /// lookup would not read, and an address gone stale (a record moved by the collector) merely wastes the hint.
    /// </summary>
    public void Prefetch(ReadOnlySpan<byte> raw, int level)
    {
        if (!Sse.IsSupported) return;
        long h = Key(raw);
        var slots = Volatile.Read(ref _young).Slots;
        ref var slot = ref slots[Table.Home(h) & (slots.Length - 1)];
        unsafe
        {
            if (level == 0)
            {
                Sse.Prefetch0(Unsafe.AsPointer(ref slot));
            }
            else if (Volatile.Read(ref slot.Key) == h && slot.Value is { } enr)
            {
                nint at = Unsafe.As<Enr, nint>(ref enr);
                Sse.Prefetch0((void*)at);
                Sse.Prefetch0((void*)(at + 64));
            }
        }
    }

    /// <summary>Decodes and verifies a record, or takes an earlier verification of the same bytes.</summary>
    public bool TryDecode(ReadOnlySpan<byte> raw, out Enr? enr)
    {
        long h = Key(raw);
        var young = Volatile.Read(ref _young);
        if (young.Find(h, raw) is { } cached)
        {
            Hit();
            enr = cached;
            return true;
        }
        if (Volatile.Read(ref _old).Find(h, raw) is { } older)
        {
            Hit();
            lock (_write) Add(h, older);
            enr = older;
            return true;
        }
        Interlocked.Increment(ref _verified);
        Discv5Metrics.RecordsVerified.Add(1, new KeyValuePair<string, object?>("outcome", "verified"));
        if (!Enr.TryDecode(raw, out enr, out _)) return false;
        lock (_write) Add(h, enr!);
        return true;
    }

    /// <summary>Under <see cref="_write"/>: into the young generation, which is rotated out when full and grown while
    /// less than half of its slots would be taken.</summary>
    private void Add(long h, Enr enr)
    {
        var young = _young;
        if (young.Count >= _half)
        {
            Volatile.Write(ref _old, young);
            young = new Table(InitialSlots);
            Volatile.Write(ref _young, young);
        }
        else if ((young.Count + 1) * 2 > young.Slots.Length)
        {
            young = young.Grown();
            Volatile.Write(ref _young, young);
        }
        young.Put(h, enr);
    }

    private sealed class Table(int slots)
    {
        public readonly Slot[] Slots = new Slot[slots];
        public int Count;
        private int Mask => Slots.Length - 1;

        public static int Home(long h) => (int)(h ^ (h >>> 32));

        public Enr? Find(long h, ReadOnlySpan<byte> raw)
        {
            var slots = Slots;
            int mask = slots.Length - 1;
            for (int i = Home(h) & mask; ; i = (i + 1) & mask)
            {
                long k = Volatile.Read(ref slots[i].Key);
                if (k == 0) return null;
                if (k == h && slots[i].Value is { } v && v.RawEquals(raw)) return v;
            }
        }

        /// <summary>Writer only: the record before its key, so that a reader that sees the key sees the record.</summary>
        public void Put(long h, Enr enr)
        {
            var slots = Slots;
            for (int i = Home(h) & Mask; ; i = (i + 1) & Mask)
            {
                long k = slots[i].Key;
                if (k == h)
                {
                    Volatile.Write(ref slots[i].Value, enr);   // a record with this key and other bytes replaces it
                    return;
                }
                if (k == 0)
                {
                    slots[i].Value = enr;
                    Volatile.Write(ref slots[i].Key, h);
                    Count++;
                    return;
                }
            }
        }

        public Table Grown()
        {
            var t = new Table(Slots.Length * 2);
            foreach (var s in Slots) if (s.Key != 0) t.Put(s.Key, s.Value!);
            return t;
        }
    }

    private struct Slot
    {
        public long Key;
        public Enr? Value;
    }
}
