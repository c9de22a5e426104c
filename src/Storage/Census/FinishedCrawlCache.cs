using System.Collections.Concurrent;

namespace ClP2p.Storage;

/// <summary>
/// Answers about finished crawls, kept in memory: a crawl whose census is built no longer changes, so what was
/// computed from its visits holds until its census is built again (a data repair or a GeoIP enrichment rebuilds it and
/// sets a new census_built_at, which is part of the key). Running crawls are never cached. Bounded: when
/// <see cref="Capacity"/> entries are held the cache starts over (answers are recomputed, never wrong).
/// Thread-safe; two requests that miss together both compute, and the second answer replaces the first (equal).
/// </summary>
internal sealed class FinishedCrawlCache<T>
    where T : class
{
    /// <summary>Most entries kept per kind of answer unless the constructor says otherwise.</summary>
    public const int DefaultCapacity = 4096;

    private readonly ConcurrentDictionary<(long Crawl, DateTime BuiltAt, long Other, string Query), T> _entries = new();

    /// <summary>A cache that starts over once it holds <paramref name="capacity"/> entries.</summary>
    public FinishedCrawlCache(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    /// <summary>Most entries kept.</summary>
    public int Capacity { get; }

    /// <summary>The cached answer for a finished crawl, if there is one.</summary>
    public bool TryGet(CrawlKey crawl, string query, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out T? value)
    {
        value = null;
        return crawl.BuiltAt is { } built && _entries.TryGetValue((crawl.Id, built, 0, query), out value);
    }

    /// <summary>Keeps an answer about a finished crawl (ignored for a running one).</summary>
    public void Set(CrawlKey crawl, string query, T value)
    {
        if (crawl.BuiltAt is not { } built) return;
        if (_entries.Count >= Capacity) _entries.Clear();
        _entries[(crawl.Id, built, 0, query)] = value;
    }

    /// <summary>The cached answer for a finished crawl (and, for answers about two crawls, the other's id and build
    /// time folded into <paramref name="other"/>), else <paramref name="compute"/>'s, kept when the crawl is finished.</summary>
    public async Task<T> GetOrComputeAsync(CrawlKey crawl, long other, string query, Func<Task<T>> compute)
    {
        if (crawl.BuiltAt is not { } built) return await compute().ConfigureAwait(false);
        var key = (crawl.Id, built, other, query);
        if (_entries.TryGetValue(key, out T? hit)) return hit;
        T value = await compute().ConfigureAwait(false);
        if (_entries.Count >= Capacity) _entries.Clear();
        _entries[key] = value;
        return value;
    }
}

/// <summary>A crawl as the cache keys it: its id, and when its census was built (null while it runs: not cacheable).</summary>
internal readonly record struct CrawlKey(long Id, DateTime? BuiltAt);
