using System.Globalization;
using ClP2p.Crawler.Hosting;

namespace ClP2p.Crawler.Tests;

public class HeapHugePagesTests
{
    private const long Range = 256L << 30;

    // a process's mappings as Linux lists them: the collector's range (a large region, basic regions with their
    // committed starts, the untouched tail) with a malloc arena glued right above it and thread stacks below
    private const string Maps = """
        7fa63c000000-7fa63c021000 rw-p 00000000 00:00 0
        7fa63c021000-7fa640000000 ---p 00000000 00:00 0
        7fa643fff000-7fa644000000 ---p 00000000 00:00 0
        7fa644000000-7fa644011000 rw-p 00000000 00:00 0
        7fa644011000-7fa646000000 ---p 00000000 00:00 0
        7fa646000000-7fa646001000 rw-p 00000000 00:00 0
        7fa646001000-7fa646400000 ---p 00000000 00:00 0
        7fa646800000-7fa646811000 rw-p 00000000 00:00 0
        7fa646811000-7fa646c00000 ---p 00000000 00:00 0
        7fa646c00000-7fa646c01000 rw-p 00000000 00:00 0
        7fa646c01000-7fe644000000 ---p 00000000 00:00 0
        7fe644000000-7fe644021000 rw-p 00000000 00:00 0
        7fe644021000-7fe648000000 ---p 00000000 00:00 0
        7fe64c000000-7fe64c800000 r--p 00000000 08:01 1234                       /usr/lib/locale/locale-archive
        """;

    [Fact]
    public void The_region_range_ends_where_its_untouched_tail_does()
    {
        Assert.True(HeapHugePages.TryFindRegionRange(Maps, 0x7fa6468098f8, Range, out long start));
        Assert.Equal(0x7fa644000000, start);
    }

    [Fact]
    public void A_reservation_need_not_start_on_a_huge_page()
    {
        // the workstation collector's range (twice the memory, 50,552,315,904 bytes here) is whole pages, not whole
        // huge pages: the reservation starts where its tail's end less the range says
        string maps = """
            7f875ed8e000-7f8761b00000 ---p 00000000 00:00 0
            7f8761b00000-7f8761c00000 rw-p 00000000 00:00 0
            7f8761c00000-7f8764000000 ---p 00000000 00:00 0
            7f8764000000-7f8764001000 rw-p 00000000 00:00 0
            7f8764001000-7f9324000000 ---p 00000000 00:00 0
            """;
        Assert.True(HeapHugePages.TryFindRegionRange(maps, 0x7f8761b6aca8, 50_552_315_904, out long start));
        Assert.Equal(0x7f875ed8e000, start);
    }

    [Fact]
    public void A_file_mapping_between_the_start_and_the_address_means_the_start_is_wrong()
    {
        string maps = """
            7fa644000000-7fa644100000 r-xp 00000000 08:01 77                         /usr/lib/libfoo.so
            7fa644100000-7fa646800000 ---p 00000000 00:00 0
            7fa646800000-7fa646811000 rw-p 00000000 00:00 0
            7fa646811000-7fe644000000 ---p 00000000 00:00 0
            """;
        Assert.False(HeapHugePages.TryFindRegionRange(maps, 0x7fa646801000, Range, out _));
    }

    [Fact]
    public void An_address_above_the_range_finds_no_range()
    {
        // the malloc arena's address: the next large inaccessible mapping is none, or not one that holds it
        Assert.False(HeapHugePages.TryFindRegionRange(Maps, 0x7fe644010000, Range, out _));
    }

    [Fact]
    public void A_tail_that_would_put_the_start_above_the_address_is_not_the_range()
    {
        // a range half the size: the tail is still more than half of it, but its start would lie above the address
        Assert.False(HeapHugePages.TryFindRegionRange(Maps, 0x7fa63c010000, Range / 2, out _));
    }

    [Fact]
    public void A_large_file_mapping_or_an_accessible_one_is_not_the_tail()
    {
        string maps = """
            7f0000000000-7f0000400000 rw-p 00000000 00:00 0
            7f0000400000-7f4000000000 ---p 00000000 08:01 99                         /some/file
            7f4000000000-7f8000000000 rw-p 00000000 00:00 0
            """;
        Assert.False(HeapHugePages.TryFindRegionRange(maps, 0x7f0000001000, Range, out _));
    }

    [Fact]
    public void This_process_heap_gets_huge_pages_where_the_kernel_offers_them()
    {
        var outcome = HeapHugePages.TryEnable(HeapHugePages.DefaultBytes);
        if (!OperatingSystem.IsLinux())
        {
            Assert.False(outcome.Applied);
            return;
        }
        string thp = File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled");
        bool offered = thp.Contains("[always]", StringComparison.Ordinal) || thp.Contains("[madvise]", StringComparison.Ordinal);
        bool strict = File.ReadAllText("/proc/sys/vm/overcommit_memory").Trim() == "2";
        bool expected = offered && !strict && Environment.GetEnvironmentVariable(HeapHugePages.Variable) != "0";
        Assert.True(expected == outcome.Applied, $"expected {(expected ? "applied" : "skipped")}: {outcome}");
        if (!outcome.Applied) return;

        // the collector allocates into the prepared range, and what it writes there for the first time comes in huge
        // pages: an eighth of 256 MB kept alive at least (this test host's heap already holds memory touched on small
        // pages before the preparation, which its allocations may reuse: 64 MB once gained only 26 MB; a few MB of huge
        // pages also come without the preparation, where a commit happens to span one, and none came for 64 MB)
        long before = HugePagesKb(outcome.Start, outcome.Start + outcome.Length);
        var kept = new List<byte[]>();
        for (int i = 0; i < 4 * 1024; i++) kept.Add(new byte[64 * 1024]);
        long huge = HugePagesKb(outcome.Start, outcome.Start + outcome.Length) - before;
        GC.KeepAlive(kept);
        Assert.True(huge >= 32 * 1024, $"{huge} KB of huge pages for 256 MB allocated ({outcome})");
    }

    /// <summary>AnonHugePages of the mappings that start inside [from, to), from /proc/self/smaps.</summary>
    private static long HugePagesKb(long from, long to)
    {
        long total = 0;
        bool inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (dash > 0 && space > dash && long.TryParse(line.AsSpan(0, dash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long start))
            {
                inside = start >= from && start < to;
                continue;
            }
            if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
                total += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        return total;
    }
}
