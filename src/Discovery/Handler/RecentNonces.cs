namespace ClP2p.Discovery.Handler;

/// <summary>
/// Nonces of packets we sent, each with what the handler needs to know of it, kept for a while: a late or repeated
/// WHOAREYOU names one of them (discv5-wire.md "WHOAREYOU Packet Encoding": its nonce is the packet's it answers). When
/// full, the oldest goes first, not the newest (a slow node's challenge comes seconds after thousands of gone nodes'
/// first contacts ended, and it is the newest nonces it names); <see cref="Purge"/> drops those older than a lifetime.
/// Touched only by the owning shard's loop.
/// </summary>
internal sealed class RecentNonces<T>(int capacity)
{
    private readonly Dictionary<Nonce96, (T Value, long At)> _byNonce = [];
    // the same nonces oldest first; an item whose nonce was removed or kept again later no longer matches its entry and
    // is skipped
    private readonly Queue<(Nonce96 Nonce, long At)> _order = new();

    public int Count => _byNonce.Count;

    public bool TryGetValue(Nonce96 nonce, out T value)
    {
        if (_byNonce.TryGetValue(nonce, out var e))
        {
            value = e.Value;
            return true;
        }
        value = default!;
        return false;
    }

    public void Remove(Nonce96 nonce) => _byNonce.Remove(nonce);

    /// <summary>Keeps <paramref name="nonce"/> from <paramref name="at"/> (a timestamp); nothing with no capacity.</summary>
    public void Add(Nonce96 nonce, T value, long at)
    {
        if (capacity <= 0) return;
        while (_byNonce.Count >= capacity && _order.TryDequeue(out var oldest)) RemoveIfCurrent(oldest);
        _byNonce[nonce] = (value, at);
        _order.Enqueue((nonce, at));
    }

    /// <summary>Drops every nonce kept before <paramref name="cutoff"/> (a timestamp).</summary>
    public void Purge(long cutoff)
    {
        while (_order.TryPeek(out var oldest) && oldest.At < cutoff)
        {
            _order.Dequeue();
            RemoveIfCurrent(oldest);
        }
    }

    private void RemoveIfCurrent((Nonce96 Nonce, long At) item)
    {
        if (_byNonce.TryGetValue(item.Nonce, out var e) && e.At == item.At) _byNonce.Remove(item.Nonce);
    }
}
