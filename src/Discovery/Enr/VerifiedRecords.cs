using System.Collections.Concurrent;

namespace ClP2p.Discovery;

/// <summary>
/// Records whose signature was checked, shared by every handler shard for the node's lifetime: a crawl sees the same
/// record from many nodes (each bucket of each neighbour repeats it), and one verification (~36 µs of ECDSA) per
/// distinct record is enough. A record is its bytes: a node id and seq name it, but a forged copy with the same id and
/// seq must not ride on the genuine one's check, so the cache matches the whole encoding. Bounded: two generations of
/// at most <see cref="Capacity"/>/2 each; when the young one fills, the old one is dropped (an approximate LRU with no
/// per-hit bookkeeping).
/// </summary>
internal sealed class VerifiedRecords
{
    private readonly int _half;
    private ConcurrentDictionary<long, Enr> _young = new();
    private ConcurrentDictionary<long, Enr> _old = new();
    private readonly object _rotate = new();
    private long _verified, _hits;

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
    public long Hits => Interlocked.Read(ref _hits);

    private void Hit()
    {
        Interlocked.Increment(ref _hits);
        Discv5Metrics.RecordsVerified.Add(1, new KeyValuePair<string, object?>("outcome", "cached"));
    }

    // too short to be a record: decoding fails anyway, any key will do
    private static long ShortKey(ReadOnlySpan<byte> raw)
    {
        long k = raw.Length;
        foreach (byte b in raw) k = (k << 8) ^ b;
        return k;
    }

    /// <summary>Decodes and verifies a record, or takes an earlier verification of the same bytes.</summary>
    public bool TryDecode(ReadOnlySpan<byte> raw, out Enr? enr)
    {
        // the key is 8 bytes of the signature (after a list header of 2 or 3 bytes and the signature's own 2, bytes 8
        // to 15 are always inside it), which already tell records apart; a collision only costs a verification, since
        // the whole encoding is compared below
        long h = raw.Length >= 16 ? System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(raw.Slice(8, 8)) : ShortKey(raw);
        var young = _young;
        if (young.TryGetValue(h, out var cached) && cached.Raw.Span.SequenceEqual(raw))
        {
            Hit();
            enr = cached;
            return true;
        }
        if (_old.TryGetValue(h, out cached) && cached.Raw.Span.SequenceEqual(raw))
        {
            Hit();
            young.TryAdd(h, cached);
            enr = cached;
            return true;
        }
        Interlocked.Increment(ref _verified);
        Discv5Metrics.RecordsVerified.Add(1, new KeyValuePair<string, object?>("outcome", "verified"));
        if (!Enr.TryDecode(raw, out enr, out _)) return false;
        if (young.Count >= _half)
        {
            lock (_rotate)
            {
                if (ReferenceEquals(young, _young))
                {
                    _old = young;
                    _young = new ConcurrentDictionary<long, Enr>();
                }
            }
        }
        _young[h] = enr!;
        return true;
    }
}
