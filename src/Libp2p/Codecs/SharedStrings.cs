using System.Collections.Concurrent;
using System.Text;

namespace ClP2p.Libp2p.Codecs;

/// <summary>
/// UTF-8 strings that peers repeat, decoded to one shared instance each: every peer announces the same dozen or two
/// protocol ids in identify, and its client's agent and protocol versions, which thousands of peers share; a crawl
/// kept a new string per protocol per peer until its results were stored. Bounded (approximately: two first uses at
/// once may both add): past <see cref="MaxEntries"/> distinct strings, or for a long one, a string
/// is decoded as it comes, so a peer sending endless new ids costs no memory here.
/// </summary>
internal static class SharedStrings
{
    public const int MaxEntries = 4096;
    public const int MaxBytes = 256;

    private static readonly ConcurrentDictionary<string, string> Pool = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> Lookup = Pool.GetAlternateLookup<ReadOnlySpan<char>>();
    private static int _count;

    /// <summary>The string of these UTF-8 bytes (invalid sequences become U+FFFD, as <see cref="Encoding.UTF8"/>
    /// decodes them), shared with every earlier call for the same bytes while the pool has room.</summary>
    public static string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxBytes) return Encoding.UTF8.GetString(utf8);
        Span<char> chars = stackalloc char[MaxBytes];   // UTF-8 decodes to at most one UTF-16 unit per byte
        int n = Encoding.UTF8.GetChars(utf8, chars);
        if (Lookup.TryGetValue(chars[..n], out var shared)) return shared;
        var s = new string(chars[..n]);
        if (Volatile.Read(ref _count) < MaxEntries && Pool.TryAdd(s, s)) Interlocked.Increment(ref _count);
        return s;
    }
}
